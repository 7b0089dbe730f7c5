"""Software family (PKG-01..PKG-03): the read-only checks, ``CHECKS[id](ctx) -> (passed, detail)``.

They expect what :mod:`simpul.deploys.families.software` puts on a server; none changes anything.
"""

from __future__ import annotations

from collections.abc import Callable

from simpul.deploys.checks.base import CheckCtx, Outcome, boots, empty_list
from simpul.deploys.families.software import LEGACY_PACKAGES


def pkg_01(ctx: CheckCtx) -> Outcome:
    return empty_list(f"dpkg-query -W -f='${{Package}} ${{Status}}\\n' {' '.join(LEGACY_PACKAGES)} "
                       "2>/dev/null | awk '/ installed$/{print $1}'", "legacy packages installed")(ctx)


def pkg_02(ctx: CheckCtx) -> Outcome:
    inst = ctx.ok("dpkg-query -W -f='${Status}' unattended-upgrades | grep -q 'install ok installed'")
    on = ctx.ok("grep -Eq 'APT::Periodic::Unattended-Upgrade \"1\"' /etc/apt/apt.conf.d/*")
    # APT::Periodic runs from cron.daily (apt-compat) without systemd, from a timer with it
    at_boot, how = boots(ctx, "cron", "apt-daily-upgrade.timer")
    return inst and on and at_boot, f"unattended-upgrades installed: {inst}, enabled: {on}, run at boot by: {how}"


def pkg_03(ctx: CheckCtx) -> Outcome:
    pending = [ln.split()[1] for ln in ctx.out(
        "apt-get -s -o Debug::NoLocking=1 upgrade 2>/dev/null | grep '^Inst' | grep -i security").splitlines()
        if len(ln.split()) > 1]
    reboot = ctx.ok("test -f /var/run/reboot-required")
    age = ctx.out("stat -c %y /var/lib/apt/lists/partial 2>/dev/null | cut -d. -f1").strip()
    ok = not pending and not reboot
    return ok, (f"pending security updates: {len(pending)}"
                + (f" ({', '.join(pending[:10])})" if pending else "")
                + f"; reboot required: {reboot}; package lists from {age or 'unknown'}")


CHECKS: dict[str, Callable[[CheckCtx], Outcome]] = {
    "PKG-01": pkg_01,
    "PKG-02": pkg_02,
    "PKG-03": pkg_03,
}
