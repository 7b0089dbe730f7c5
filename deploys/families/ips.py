"""Intrusion prevention family (IPS-01): what Simpul puts on a server, and the deploy that does it.

fail2ban's sshd jail, never banning the NOC ranges: the jail passes the same lock-out
pre-check as the firewall and goes through the guard (Pergub Jambi 12/2022 Pasal 23(2)(b)
angka 3).

The read-only checks of these controls: :mod:`simpul.deploys.checks.ips`.
"""

from __future__ import annotations

from pyinfra.api.deploy import deploy

from simpul.deploys.families.base import HEADER, HardenContext, gate, name
from simpul.deploys.hostvars import HostVars
from simpul.deploys.ops import (
    GUARD,
    GuardedFile,
    ensure,
    guarded_files,
    service_fresh,
    start_at_boot,
    will_change,
)


def fail2ban_jail(hv: HostVars, init: str) -> str:
    """IPS-01. NOC ranges are never banned (a locked-out NOC cannot fix anything)."""
    ignore = " ".join(["127.0.0.1/8", "::1", *[str(n) for n in hv.noc_ranges]])
    backend = "systemd" if init == "systemd" else "polling"
    logpath = "" if init == "systemd" else "logpath = /var/log/auth.log\n"
    return (f"{HEADER}# IPS-01\n[DEFAULT]\nbanaction = nftables-multiport\n"
            "banaction_allports = nftables-allports\n"
            f"bantime = 1h\nfindtime = 10m\nmaxretry = 5\nignoreip = {ignore}\n\n"
            f"[sshd]\nenabled = true\nport = {hv.ssh_port}\nbackend = {backend}\n{logpath}")


# fail2ban's own configuration test on a copy of /etc/fail2ban with the candidate jail.local
FAIL2BAN_VALIDATE = ('d=$(mktemp -d) && cp -a /etc/fail2ban/. "$d"/ && cp {} "$d"/jail.local && '
                     'fail2ban-client -c "$d" -t; rc=$?; rm -rf "$d"; exit $rc')


@deploy("Intrusion prevention")
def intrusion_prevention(ctx: HardenContext) -> None:
    # a jail whose ignoreip misses the NOC bans the NOC: the same pre-check as the firewall
    if not ctx.on("IPS-01") or not gate(ctx, "fail2ban"):
        return
    if ctx.facts.init != "systemd":
        ensure(name=name(["IPS-01"], "auth.log exists for fail2ban"), check="test -f /var/log/auth.log",
               fix="touch /var/log/auth.log && chown root:adm /var/log/auth.log && chmod 640 /var/log/auth.log")
    jail = [GuardedFile("/etc/fail2ban/jail.local", fail2ban_jail(ctx.hv, ctx.facts.init))]
    if will_change(jail):
        guarded_files(name=name(["IPS-01"], "fail2ban sshd jail (fail2ban-client -t, restart, fresh login "
                                            "or auto-revert)"),
                      unit="fail2ban", files=jail, validate=FAIL2BAN_VALIDATE,
                      activate=f"{GUARD} svc fail2ban restart", confirm=ctx.confirm,
                      timeout=ctx.guard_timeout)
    else:
        service_fresh(name=name(["IPS-01"], "fail2ban running on its current configuration"),
                      service="fail2ban", pidfile="/run/fail2ban/fail2ban.pid",
                      configs=["/etc/fail2ban/jail.local"])
    start_at_boot(name=name(["IPS-01"], "Start fail2ban at boot"), service="fail2ban")
