"""Audit family (AUD-01..AUD-03): the read-only checks, ``CHECKS[id](ctx) -> (passed, detail)``.

They expect what :mod:`simpul.deploys.families.auditd` puts on a server; none changes anything.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from simpul.deploys.checks.base import CheckCtx, Outcome, boots, running


def aud_01(ctx: CheckCtx) -> Outcome:
    inst = ctx.ok("dpkg-query -W -f='${Status}' auditd | grep -q 'install ok installed'")
    if ctx.confined:
        return inst, f"auditd installed: {inst} (the kernel audit system is not available in a namespace)"
    run = running(ctx, "/run/auditd.pid")
    at_boot, how = boots(ctx, "auditd")
    return inst and run and at_boot, f"installed: {inst}, running: {run}, at boot: {how}"


AUDIT_KEYS = ("identity", "scope", "sshd", "time-change", "logins", "modules", "firewall")


def aud_02(ctx: CheckCtx) -> Outcome:
    src = "cat /etc/audit/rules.d/*.rules 2>/dev/null" if ctx.confined else "auditctl -l 2>/dev/null"
    text = ctx.out(src)
    missing = [k for k in AUDIT_KEYS if not re.search(rf"(-k|key=)\s*{re.escape(k)}\b", text)]
    where = "rules files" if ctx.confined else "loaded rules (auditctl -l)"
    return (not missing, f"{where}: missing keys {', '.join(missing)}" if missing
            else f"{where}: {len(AUDIT_KEYS)} rule groups present")


def aud_03(ctx: CheckCtx) -> Outcome:
    if ctx.confined:
        ok = ctx.ok("grep -qx -- '-e 2' /etc/audit/rules.d/60-simpul.rules")
        return ok, "rules file ends with -e 2" if ok else "-e 2 missing from the rules"
    ok = ctx.ok("auditctl -s | grep -q '^enabled 2'")
    return ok, "audit configuration locked (enabled 2)" if ok else "audit not locked (auditctl -s)"


CHECKS: dict[str, Callable[[CheckCtx], Outcome]] = {
    "AUD-01": aud_01,
    "AUD-02": aud_02,
    "AUD-03": aud_03,
}
