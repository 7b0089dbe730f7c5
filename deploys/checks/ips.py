"""Intrusion prevention family (IPS-01): the read-only checks, ``CHECKS[id](ctx) -> (passed, detail)``.

They expect what :mod:`simpul.deploys.families.ips` puts on a server; none changes anything.
"""

from __future__ import annotations

from collections.abc import Callable

from simpul.deploys.checks.base import CheckCtx, Outcome, boots


def ips_01(ctx: CheckCtx) -> Outcome:
    rc, out = ctx.sh("fail2ban-client status sshd 2>&1")
    at_boot, how = boots(ctx, "fail2ban")
    state = "fail2ban jail sshd active" if rc == 0 else f"jail sshd not active: {out.strip()[:120]}"
    return rc == 0 and at_boot, f"{state}; at boot: {how}"


CHECKS: dict[str, Callable[[CheckCtx], Outcome]] = {
    "IPS-01": ips_01,
}
