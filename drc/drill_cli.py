"""``simpul drill``: the DR drills, one sub-command per kind, each in its own module.

``restore`` lives in :mod:`simpul.drc.restore_cli`, ``failover`` in
:mod:`simpul.drc.failover_cli`; they are loaded on first use so a drill whose dependencies are
missing breaks only itself. Every drill plans by default and acts only with ``--execute``.
"""

from __future__ import annotations

import importlib
import importlib.util

import click

DRILLS: dict[str, tuple[str, str, str]] = {
    "restore": ("simpul.drc.restore_cli", "restore",
                "Restore a service's backup into scratch at the DRC, verify it, measure RTO/RPO."),
    "failover": ("simpul.drc.failover_cli", "failover",
                 "Switch a service over to the DRC under load, measure RTO/RPO, fail back."),
}


class _Drills(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(n for n, (mod, _, _) in DRILLS.items() if _available(mod))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in DRILLS or not _available(DRILLS[name][0]):
            return None
        mod, attr, _ = DRILLS[name]
        return getattr(importlib.import_module(mod), attr)  # type: ignore[no-any-return]


def _available(mod: str) -> bool:
    try:
        return importlib.util.find_spec(mod) is not None
    except ModuleNotFoundError:
        return False


@click.group(cls=_Drills)
def drill() -> None:
    """Disaster-recovery drills with measured RTO and RPO (Pergub Jambi 12/2022 Pasal 23(2)(e):
    the IT contingency plan is tested regularly).

    \b
    Examples:
      simpul drill restore --service simpeg              # the plan
      simpul drill restore --service simpeg --execute
      simpul drill failover --service simpeg --scenario switchover --execute
    """
