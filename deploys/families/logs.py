"""Logging family (LOG-01..LOG-04): what Simpul puts on a server, and the deploy that does it.

rsyslog running at every boot, forwarding to the Pusat Data log host (which receives), log
file modes kept at boot and daily (Pergub Jambi 12/2022 Pasal 23(2)(b) angka 5).

The read-only checks of these controls: :mod:`simpul.deploys.checks.logs`.
"""

from __future__ import annotations

from collections.abc import Iterable

from pyinfra.api.deploy import deploy

from simpul.deploys.families.base import HEADER, HardenContext, boot_script, name, shipped
from simpul.deploys.hostvars import HostVars
from simpul.deploys.ops import ensure, managed_file, service_fresh, start_at_boot


def rsyslog_conf(hv: HostVars, active: Iterable[str]) -> str:
    on = set(active)
    out = [HEADER.rstrip("\n"), "# LOG-04: log files 0640, directories 0750",
           "$FileCreateMode 0640", "$DirCreateMode 0750", "$Umask 0027"]
    if "LOG-03" in on:
        out += ["# LOG-03: receive the servers' logs (TCP 514), one file per sending host",
                'module(load="imtcp")',
                'input(type="imtcp" port="514" ruleset="remote")',
                'template(name="SimpulRemote" type="string" string="/var/log/remote/%HOSTNAME%.log")',
                'ruleset(name="remote") {', '    action(type="omfile" dynaFile="SimpulRemote")', "}"]
    if "LOG-02" in on and hv.log_host_ip is not None:
        out += [f"# LOG-02: forward everything to the log host {hv.log_host} (TCP, disk-assisted queue)",
                f'*.* action(type="omfwd" target="{hv.log_host_ip}" port="514" protocol="tcp"',
                '         queue.type="LinkedList" queue.filename="simpul_fwd" queue.maxDiskSpace="256m"',
                '         queue.saveOnShutdown="on" action.resumeRetryCount="-1" action.resumeInterval="5")']
    return "\n".join(out) + "\n"

# LOG-04: kept at boot and daily (daemons and logrotate create files with their own modes)
LOG_PERMS = "/usr/local/sbin/simpul-log-perms"
LOG_PERMS_CRON = "/etc/cron.daily/simpul-log-perms"


@deploy("Logging")
def log_forwarding(ctx: HardenContext) -> None:
    ids = ctx.on("LOG-02", "LOG-03", "LOG-04")
    if ids:
        if "LOG-03" in ids:
            ensure(name=name(["LOG-03"], "Directory for received logs"),
                   check="test -d /var/log/remote", fix="mkdir -p -m 750 /var/log/remote")
        managed_file(name=name(ids, "rsyslog forwarding and file modes"),
                     path="/etc/rsyslog.d/60-simpul.conf", content=rsyslog_conf(ctx.hv, ids))
    if ctx.on("LOG-01"):
        service_fresh(name=name(["LOG-01"], "rsyslog running on its current configuration"),
                      service="rsyslog", pidfile="/run/rsyslogd.pid",
                      configs=["/etc/rsyslog.conf", "/etc/rsyslog.d/60-simpul.conf"])
        boot_script(ctx, "rsyslog", ["LOG-01"], only_if_missing=True)
        start_at_boot(name=name(["LOG-01"], "Start rsyslog at boot"), service="rsyslog")
    if ctx.on("LOG-04"):
        loose = r"find /var/log -type f \( -perm /o+rwx -o -perm /g+wx \)"
        ensure(name=name(["LOG-04"], "Log files not world-readable"),
               check=f"{loose} | grep . && exit 1 || exit 0",
               fix=f"{loose} -exec chmod g-wx,o-rwx {{}} +")
        # daemons and logrotate keep creating files with their own modes (dpkg.log 0644, a log
        # written at shutdown): the same fix runs at every boot and daily
        managed_file(name=name(["LOG-04"], "Log file modes kept (script)"), path=LOG_PERMS,
                     content=shipped("simpul-log-perms"), mode="755")
        managed_file(name=name(["LOG-04"], "Log file modes kept daily (cron.daily)"), path=LOG_PERMS_CRON,
                     content=shipped("cron.daily-simpul-log-perms"), mode="755")
        boot_script(ctx, "simpul-log-perms", ["LOG-04"])
        start_at_boot(name=name(["LOG-04"], "Log file modes kept at boot"), service="simpul-log-perms")
