"""Kernel family (SYS-01..SYS-10): the read-only checks, ``CHECKS[id](ctx) -> (passed, detail)``.

They expect what :mod:`simpul.deploys.families.kernel` puts on a server; none changes anything.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from simpul.deploys.checks.base import CheckCtx, Outcome, boots
from simpul.deploys.families.kernel import FS_MODULES, NET_MODULES, STORAGE_MODULES, is_live_key, sysctls


def _sysctl_check(cid: str) -> Callable[[CheckCtx], Outcome]:
    def check(ctx: CheckCtx) -> Outcome:
        want = {k: v for k, (v, c) in sysctls(ctx.hv, [cid]).items()}
        conf = ctx.out("cat /etc/sysctl.d/60-simpul.conf 2>/dev/null")
        file_vals = dict(re.findall(r"^([\w.]+)\s*=\s*(\S+)", conf, re.M))
        bad = []
        nlive = 0
        for k, v in want.items():
            live = is_live_key(k) or not ctx.confined
            if live:
                nlive += 1
                got = ctx.out(f"cat /proc/sys/{k.replace('.', '/')} 2>/dev/null").strip()
                if got != v:
                    bad.append(f"{k}={got or '?'} (want {v})")
            if file_vals.get(k) != v:
                bad.append(f"{k} not persisted in /etc/sysctl.d/60-simpul.conf")
        at_boot, how = boots(ctx, "procps", "systemd-sysctl")
        if not at_boot:
            bad.append(f"nothing loads /etc/sysctl.d at boot ({how})")
        if bad:
            return False, "; ".join(bad[:8])
        if nlive == len(want):
            return True, f"{len(want)} settings live and persisted (loaded at boot: {how})"
        return True, f"{len(want)} settings persisted (loaded at boot: {how}), {nlive} of them checked live"
    return check


def sys_08(ctx: CheckCtx) -> Outcome:
    ok, detail = _sysctl_check("SYS-08")(ctx)
    lim = ctx.ok("grep -Eq '^\\*\\s+hard\\s+core\\s+0' /etc/security/limits.d/60-simpul.conf")
    return ok and lim, f"{detail}; limits hard core 0: {lim}"


def _modules(cid: str, mods: tuple[str, ...]) -> Callable[[CheckCtx], Outcome]:
    def check(ctx: CheckCtx) -> Outcome:
        conf = ctx.out("cat /etc/modprobe.d/*.conf 2>/dev/null")
        missing = [m for m in mods if not re.search(rf"^install\s+{re.escape(m)}\s+/bin/(false|true)", conf, re.M)]
        loaded = []
        if not ctx.confined:
            lsmod = ctx.out("cat /proc/modules 2>/dev/null")
            loaded = [m for m in mods if re.search(rf"^{m.replace('-', '_')}\s", lsmod, re.M)]
        bad = ([f"not disabled: {', '.join(missing)}"] if missing else []) + \
            ([f"loaded: {', '.join(loaded)}"] if loaded else [])
        return (not bad, "; ".join(bad) if bad else f"{len(mods)} modules disabled")
    return check


CHECKS: dict[str, Callable[[CheckCtx], Outcome]] = {
    "SYS-01": _sysctl_check("SYS-01"),
    "SYS-02": _sysctl_check("SYS-02"),
    "SYS-03": _sysctl_check("SYS-03"),
    "SYS-04": _sysctl_check("SYS-04"),
    "SYS-05": _sysctl_check("SYS-05"),
    "SYS-06": _sysctl_check("SYS-06"),
    "SYS-07": _sysctl_check("SYS-07"),
    "SYS-08": sys_08,
    "SYS-09": _modules("SYS-09", FS_MODULES + STORAGE_MODULES),
    "SYS-10": _modules("SYS-10", NET_MODULES),
}
