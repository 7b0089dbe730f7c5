"""What every read-only check shares: the context (``sh`` runs a command on the host with sudo
and returns its exit status and output), facts read through it, and small helpers.

The checks run from inside the host through testinfra and combine that with the outside probes
(:mod:`simpul.deploys.outside`). Kernel-global controls on a confined host (a namespace or
container) are checked as configuration; the audit marks them so (``config_only``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pyinfra.api.facts import FactBase

from simpul.deploys.hostvars import HostVars
from simpul.deploys.ops import BootStart
from simpul.deploys.outside import Outside

Outcome = tuple[bool, str]
Sh = Callable[[str], tuple[int, str]]  # run a command on the host (with sudo): (exit status, output)


@dataclass
class CheckCtx:
    hv: HostVars
    sh: Sh
    confined: bool
    outside: Outside
    pubkey: str
    sshd: dict[str, str] = field(default_factory=dict)
    today: date = field(default_factory=date.today)

    def out(self, cmd: str) -> str:
        return self.sh(cmd)[1]

    def ok(self, cmd: str) -> bool:
        return self.sh(cmd)[0] == 0

    def fact(self, cls: type[FactBase[Any]], **kw: Any) -> Any:
        """A pyinfra fact of :mod:`simpul.deploys.ops`, gathered through ``sh``: the deploy and
        the audit read the host with the same command and parse it the same way."""
        f = cls()
        return f.process(self.out(str(f.command(**kw))).splitlines())


def boots(ctx: CheckCtx, service: str, systemd_unit: str | None = None) -> tuple[bool, str]:
    """Whether ``service`` starts at boot, and the evidence (a start link or systemctl's word)."""
    f = ctx.fact(BootStart, service=service, systemd_unit=systemd_unit)
    return bool(f["enabled"]), str(f["how"])


def empty_list(cmd: str, what: str) -> Callable[[CheckCtx], Outcome]:
    def check(ctx: CheckCtx) -> Outcome:
        found = [x for x in ctx.out(cmd).split() if x]
        return (not found, f"{what}: {', '.join(found[:20])}" if found else f"no {what}")
    return check


def login_defs(ctx: CheckCtx) -> dict[str, str]:
    vals: dict[str, str] = {}
    for ln in ctx.out("grep -E '^[A-Z_]+[[:space:]]' /etc/login.defs").splitlines():
        k, _, v = ln.partition(" ") if " " in ln.split("\t")[0] else ln.partition("\t")
        vals.setdefault(k.strip(), v.strip())
    return vals


def running(ctx: CheckCtx, pidfile: str) -> bool:
    return ctx.ok(f"kill -0 $(cat {pidfile} 2>/dev/null) 2>/dev/null")
