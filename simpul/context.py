"""The application context: what every command gets, and the one way to reach it.

``simpul`` (the root command) builds one :class:`AppContext` from the global options and the
settings; every command receives it with ``@pass_app``. It is also the **one writer of the
operations log** for a command: library code never appends records; a command either records
one state change with :meth:`AppContext.record` or passes :meth:`AppContext.recorder` to the
runner as a hook, which records one record per target. Both go to the log named by the
settings the user gave (``--config``, ``$SIMPUL_CONFIG``, ``$SIMPUL_STATE_DIR``), so
``simpul --config X lab up`` and ``simpul --config X oplog show`` see the same log.

Example::

    @click.command()
    @pass_app
    def allocate(app: AppContext) -> int:
        inv = app.inventory()
        ...
        app.record("ipam.allocate", "10.199.32.64/28", "ok", params={...}, refs=[...])
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from simpul.oplog import OpLog
from simpul.results import Result
from simpul.settings import Settings

if TYPE_CHECKING:
    from simpul.inventory.models import Inventory
    from simpul.output import ProgressHook


@dataclass
class AppContext:
    """Settings plus the global options of one ``simpul`` invocation."""

    settings: Settings
    json: bool = False
    verbosity: int = 0
    inventory_given: bool = False  # -i/--inventory was on the command line

    @property
    def inventory_dir(self) -> Path:
        return self.settings.inventory

    def inventory(self, directory: Path | None = None) -> Inventory:
        """Load (and validate) the inventory; raises ConfigError listing every problem."""
        from simpul.inventory import load_inventory

        return load_inventory(directory or self.inventory_dir)

    def want_json(self, flag: bool = False) -> bool:
        """``simpul --json CMD`` or ``CMD --json``."""
        return self.json or flag

    # --- the operations log: the only place commands write it ----------------------------

    @property
    def oplog(self) -> OpLog:
        return OpLog(self.settings.oplog, witness=self.settings.oplog_witness)

    def record(self, action: str, target: str, result: str, *,
               params: Mapping[str, Any] | None = None, refs: list[str] | None = None) -> None:
        """Append one operations-log record for a state change this command made."""
        self.oplog.append(action=action, target=target, result=result, params=params, refs=refs)

    def recorder(self, action: str, *, refs: list[str],
                 params: Callable[[Result], Mapping[str, Any]] | None = None,
                 when: Callable[[Result], bool] | None = None) -> Recorder:
        """A runner hook that records one record per target as its result arrives."""
        return Recorder(self, action, refs, params, when)

    def progress_hook(self, description: str, total: int) -> ProgressHook:
        from simpul.output import ProgressHook

        return ProgressHook(description, total)


@dataclass
class Recorder:
    """Runner hook: one operations-log record per result (see :meth:`AppContext.recorder`)."""

    app: AppContext
    action: str
    refs: list[str]
    params: Callable[[Result], Mapping[str, Any]] | None = None
    when: Callable[[Result], bool] | None = None

    def done(self, result: Result) -> None:
        if self.when is not None and not self.when(result):
            return
        p: dict[str, Any] = dict(self.params(result)) if self.params else {}
        if result.message and "message" not in p:
            p["message"] = result.message
        if result.seconds and "seconds" not in p:
            p["seconds"] = round(result.seconds, 2)
        self.app.record(self.action, result.target, str(result.status), params=p, refs=self.refs)


pass_app = click.make_pass_decorator(AppContext)
"""``@pass_app``: the command's first argument is the :class:`AppContext`."""


def current_app() -> AppContext:
    """The running command's context (for callbacks that cannot take ``@pass_app``)."""
    ctx = click.get_current_context()
    app = ctx.find_object(AppContext)
    if app is None:  # a command group invoked without the root ``simpul`` command
        raise RuntimeError("no simpul AppContext: invoke commands through simpul.cli.cli")
    return app
