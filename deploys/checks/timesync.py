"""Time family (TIME-01): the read-only checks, ``CHECKS[id](ctx) -> (passed, detail)``.

They expect what :mod:`simpul.deploys.families.timesync` puts on a server; none changes anything.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from simpul.deploys.checks.base import CheckCtx, Outcome, boots, running


def time_01(ctx: CheckCtx) -> Outcome:
    conf = ctx.out("cat /etc/chrony/chrony.conf")
    servers = re.findall(r"^\s*(?:server|pool)\s+(\S+)", conf, re.M)
    pools = re.findall(r"^\s*pool\s", conf, re.M)
    ok = sorted(servers) == sorted(ctx.hv.ntp_servers) and not pools
    detail = f"chrony sources {servers} (want {list(ctx.hv.ntp_servers)})"
    if not ctx.confined:
        run = running(ctx, "/run/chrony/chronyd.pid")
        at_boot, how = boots(ctx, "chrony")
        ok = ok and run and at_boot
        detail += f"; chronyd running: {run}, at boot: {how}"
    return ok, detail


CHECKS: dict[str, Callable[[CheckCtx], Outcome]] = {
    "TIME-01": time_01,
}
