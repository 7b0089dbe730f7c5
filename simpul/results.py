"""Per-target results and how a run's exit code follows from them (nornir style).

Every piece of per-host work in Simpul — a hardening plan or apply, an audit, an ad-hoc
command, an SNMP poll, a router push, a restore drill — returns one :class:`Result` for its
target (nornir's ``Result``: ``changed``, ``diff``, ``failed``, ``exception``). A runner
(:mod:`simpul.runner`) never stops because one target failed: it records a failed result for it
and carries on. The command's exit code is computed from all results by :func:`exit_code_for`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from simpul.errors import ExitCode


class Status(StrEnum):
    OK = "ok"  # succeeded, nothing to report
    CHANGED = "changed"  # succeeded and changed state (or would change, in a plan)
    FAILED = "failed"  # the target answered but the task failed
    UNREACHABLE = "unreachable"  # the target could not be reached or refused login
    SKIPPED = "skipped"  # not run, with a reason


@dataclass
class Result:
    """What happened to one target.

    ``data`` holds JSON-friendly details for ``--json`` and reports; ``diff`` the change (or
    planned change) in text; ``value`` whatever the task returns for its caller (not printed,
    like nornir's ``Result.result``); ``exception`` the error that failed the task, if any.
    """

    target: str
    status: Status
    message: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    diff: str = ""
    seconds: float = 0.0
    value: Any = field(default=None, repr=False, compare=False)
    exception: BaseException | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.status in (Status.OK, Status.CHANGED, Status.SKIPPED)

    @property
    def failed(self) -> bool:
        return not self.ok

    @property
    def changed(self) -> bool:
        return self.status is Status.CHANGED

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"target": self.target, "status": str(self.status),
                             "message": self.message, "data": self.data}
        if self.diff:
            d["diff"] = self.diff
        if self.seconds:
            d["seconds"] = round(self.seconds, 2)
        return d


def exit_code_for(results: Iterable[Result], *, drift_is_failure: bool = False) -> ExitCode:
    """Aggregate exit code of a run.

    - all fine → 0 (or 6 when ``drift_is_failure`` and something changed/would change);
    - every target unreachable → 4;
    - some failed or unreachable, or all failed → 5 if at least one succeeded, else 1/4.
    """
    rs = list(results)
    if not rs:
        return ExitCode.OK
    bad = [r for r in rs if not r.ok]
    if not bad:
        if drift_is_failure and any(r.status is Status.CHANGED for r in rs):
            return ExitCode.DRIFT
        return ExitCode.OK
    if len(bad) < len(rs):
        return ExitCode.PARTIAL
    if all(r.status is Status.UNREACHABLE for r in bad):
        return ExitCode.UNREACHABLE
    return ExitCode.ERROR if len(rs) == 1 else ExitCode.PARTIAL
