"""Checks that domains add to the inventory load, without the core importing the domains.

The core knows the schema; a domain knows things the schema cannot (which hardening control IDs
exist, which combinations lock the NOC out). A domain adds such checks with an entry point in
the group ``simpul.inventory_checks`` (``pyproject.toml``)::

    [project.entry-points."simpul.inventory_checks"]
    hardening = "simpul.deploys.inventory_checks:check"

The function is called with the inventory (only the entities that validated) and ``report``,
and calls ``report(key_path, message)`` once per problem; the loader adds file and line::

    def check(inv: Inventory, report: Report) -> None:
        for name, srv in inv.servers.items():
            for i, w in enumerate(srv.hardening.waivers):
                if w.control not in KNOWN:
                    report(("servers", name, "hardening", "waivers", i, "control"), "unknown control")

So ``simpul inventory check`` (and every command, which loads the inventory the same way)
reports them with the schema's problems, all at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import cache
from importlib.metadata import entry_points

from simpul.inventory.models import Inventory
from simpul.inventory.source import KeyPath, Loaded

log = logging.getLogger(__name__)

GROUP = "simpul.inventory_checks"
Report = Callable[[KeyPath, str], None]
Check = Callable[[Inventory, Report], None]


@cache
def registered() -> tuple[tuple[str, Check], ...]:
    """The installed checks, by entry-point name (sorted, so problems come in a stable order)."""
    out: list[tuple[str, Check]] = []
    for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        try:
            out.append((ep.name, ep.load()))
        except ImportError as e:
            log.warning("inventory check '%s' (%s) cannot be loaded: %s", ep.name, ep.value, e)
    return tuple(out)


def run_checks(inv: Inventory, loaded: Loaded) -> None:
    """Run every registered check, appending its problems to ``loaded``."""
    for _name, check in registered():
        check(inv, loaded.problem)
