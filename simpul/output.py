"""Where output goes: results to stdout (table or JSON), logs to stderr, progress on a TTY only.

Library code never prints; commands call these helpers.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

# When piped (cron, CI, a file), rich would wrap tables at 80 columns; use a wider page.
stdout = Console(soft_wrap=True)
if not stdout.is_terminal:
    stdout = Console(soft_wrap=True, width=160)
stderr = Console(stderr=True, soft_wrap=True)


def _default(o: Any) -> Any:
    if isinstance(o, datetime | date):
        return o.isoformat()
    if isinstance(o, timedelta):
        return o.total_seconds()
    if isinstance(o, IPv4Address | IPv4Network | IPv4Interface | Path):
        return str(o)
    if isinstance(o, set | frozenset | tuple):
        return list(o)
    if hasattr(o, "model_dump"):
        return o.model_dump(mode="json")
    if hasattr(o, "to_dict"):
        return o.to_dict()
    return str(o)


def to_json(data: Any) -> str:
    return json.dumps(data, default=_default, ensure_ascii=False, indent=2)


def print_json(data: Any) -> None:
    sys.stdout.write(to_json(data) + "\n")
    sys.stdout.flush()


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    t = Table(title=title, show_lines=False, header_style="bold")
    for c in columns:
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(*("" if v is None else str(v) for v in r))
    stdout.print(t)


def setup_logging(verbosity: int) -> None:
    """WARNING by default, INFO with -v, DEBUG with -vv; always to stderr."""
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    if stderr.is_terminal:
        handler: logging.Handler = RichHandler(
            console=stderr, show_path=verbosity > 1, rich_tracebacks=False, markup=False
        )
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    # Vendor libraries are chatty at INFO; keep them at WARNING unless -vv.
    for noisy in (
        "paramiko",
        "netmiko",
        "pyinfra",
        "urllib3",
        "influxdb_client",
        "pysnmp",
        "asyncio",
        "fabric",
        "invoke",
    ):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbosity > 2 else logging.WARNING)


@dataclass
class _Bar:
    progress: Progress | None
    task: Any

    def advance(self, n: int = 1, description: str | None = None) -> None:
        if self.progress is not None:
            kw: dict[str, Any] = {"advance": n}
            if description:
                kw["description"] = description
            self.progress.update(self.task, **kw)


@contextmanager
def progress(description: str, total: int | None) -> Iterator[_Bar]:
    """A rich progress bar on stderr when it is a terminal; silent under cron."""
    if not stderr.is_terminal:
        yield _Bar(None, None)
        return
    p = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr,
        transient=True,
    )
    with p:
        task = p.add_task(description, total=total)
        yield _Bar(p, task)


class ProgressHook:
    """Runner hook (:mod:`simpul.runner`): a progress bar on stderr while a run is in flight.

    Silent when stderr is not a terminal (cron, CI, pipes). Use it as a context manager::

        with ProgressHook("harden apply", len(names)) as bar:
            results = run_each(names, task, hooks=[bar])
    """

    def __init__(self, description: str, total: int) -> None:
        self.description = description
        self.total = total
        self._cm: Any = None
        self._bar: _Bar | None = None

    def __enter__(self) -> ProgressHook:
        self._cm = progress(self.description, self.total)
        self._bar = self._cm.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._cm is not None:
            self._cm.__exit__(*exc)
        self._cm = self._bar = None

    def done(self, result: Any) -> None:
        if self._bar is not None:
            self._bar.advance(description=f"{self.description}: {result.target} {result.status}")
