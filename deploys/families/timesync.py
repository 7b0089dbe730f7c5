"""Time family (TIME-01): what Simpul puts on a server, and the deploy that does it.

chrony to the Dinas NTP servers only, started at boot where the clock may be set.

The read-only checks of these controls: :mod:`simpul.deploys.checks.timesync`.
"""

from __future__ import annotations

from pyinfra.api.deploy import deploy

from simpul.deploys.families.base import HEADER, HardenContext, name
from simpul.deploys.hostvars import HostVars
from simpul.deploys.ops import managed_file, service_fresh, start_at_boot


def chrony_conf(hv: HostVars) -> str:
    servers = "\n".join(f"server {s} iburst" for s in hv.ntp_servers)
    return (f"{HEADER}# TIME-01: only the Dinas NTP servers (organisation.ntp_servers); no pools\n"
            f"{servers}\n"
            "driftfile /var/lib/chrony/chrony.drift\n"
            "keyfile /etc/chrony/chrony.keys\n"
            "ntsdumpdir /var/lib/chrony\n"
            "logdir /var/log/chrony\n"
            "makestep 1.0 3\n"
            "rtcsync\n"
            "leapsectz right/UTC\n")


@deploy("Time")
def time_sync(ctx: HardenContext) -> None:
    if ctx.on("TIME-01"):
        managed_file(name=name(["TIME-01"], "chrony to the Dinas NTP servers"),
                     path="/etc/chrony/chrony.conf", content=chrony_conf(ctx.hv))
        if not ctx.facts.confined:
            service_fresh(name=name(["TIME-01"], "chronyd running on its current configuration"),
                          service="chrony", pidfile="/run/chrony/chronyd.pid",
                          configs=["/etc/chrony/chrony.conf"])
            start_at_boot(name=name(["TIME-01"], "Start chronyd at boot"), service="chrony")
