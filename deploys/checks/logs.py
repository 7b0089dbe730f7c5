"""Logging family (LOG-01..LOG-04): the read-only checks, ``CHECKS[id](ctx) -> (passed, detail)``.

They expect what :mod:`simpul.deploys.families.logs` puts on a server; none changes anything.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from simpul.deploys.checks.base import CheckCtx, Outcome, boots, empty_list, running
from simpul.deploys.families.logs import LOG_PERMS, LOG_PERMS_CRON


def log_01(ctx: CheckCtx) -> Outcome:
    inst = ctx.ok("dpkg-query -W -f='${Status}' rsyslog | grep -q 'install ok installed'")
    run = running(ctx, "/run/rsyslogd.pid")
    at_boot, how = boots(ctx, "rsyslog")
    return inst and run and at_boot, f"installed: {inst}, running: {run}, at boot: {how}"


def log_02(ctx: CheckCtx) -> Outcome:
    conf = ctx.out("cat /etc/rsyslog.d/*.conf 2>/dev/null")
    ip = str(ctx.hv.log_host_ip)
    ok = bool(re.search(rf'omfwd"\s+target="{re.escape(ip)}"\s+port="514"\s+protocol="tcp"', conf))
    est = ctx.out(f"ss -Htn state established dst {ip} dport = :514 2>/dev/null").strip()
    return ok, f"forwarding to {ctx.hv.log_host} ({ip}:514/tcp) configured: {ok}; connection up: {bool(est)}"


def log_03(ctx: CheckCtx) -> Outcome:
    listening = ctx.out("ss -Hltn sport = :514 2>/dev/null").strip()
    return bool(listening), "rsyslog listens on TCP 514" if listening else "nothing listens on TCP 514"


def log_04(ctx: CheckCtx) -> Outcome:
    """No loose log file now, and the fix runs again at boot and daily (daemons and logrotate
    create files with their own modes)."""
    ok, detail = empty_list(r"find /var/log -type f \( -perm /o+rwx -o -perm /g+wx \)", "loose log files")(ctx)
    kept = ctx.ok(f"test -x {LOG_PERMS} && test -x {LOG_PERMS_CRON}")
    at_boot, how = boots(ctx, "simpul-log-perms")
    if not (kept and at_boot):
        return False, f"{detail}; modes not kept: {LOG_PERMS} daily: {kept}, at boot: {how}"
    return ok, f"{detail}; kept daily and at boot"


CHECKS: dict[str, Callable[[CheckCtx], Outcome]] = {
    "LOG-01": log_01,
    "LOG-02": log_02,
    "LOG-03": log_03,
    "LOG-04": log_04,
}
