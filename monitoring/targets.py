"""From the inventory to poll targets: SNMP credentials resolved, tags, OID plans, ICMP probes.

Tags written on every point come from the inventory (Telegraf's ``agent_host`` plus ``device``,
``kind``, ``site``, ``site_type``, ``role``, ``platform``), so Grafana can group by OPD or desa.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

from simpul.inventory.models import Device, Inventory, Server
from simpul.netguard import ensure_on_machine
from simpul.secrets_ref import resolve_secret

from .engine import SnmpTarget
from .profiles import PollPlan, plan_for_platform

log = logging.getLogger(__name__)

IcmpMode = Literal["desa", "all", "none"]
RADIO_UPLINKS = ("radio", "vsat", "lte")


@dataclass(frozen=True)
class HostRef:
    """One inventory host as the poller sees it."""

    name: str
    kind: Literal["device", "server"]
    address: str
    tags: dict[str, str]
    snmp: SnmpTarget | None
    plan: PollPlan | None
    icmp: bool
    icmp_address: str = ""
    """Where the ICMP probe goes: the data-plane address (a device's ``loopback``, a server's
    ``address``) when the inventory has one, else ``address`` (the management address)."""

    @property
    def icmp_target(self) -> str:
        return self.icmp_address or self.address

    @property
    def data_plane_probe(self) -> bool:
        """True when ICMP tests the data plane, not the management path SNMP uses: then the
        ping alone decides whether the host is up (see :func:`available`)."""
        return self.icmp and self.icmp_target != self.address


def probe_address(h: Device | Server) -> str:
    """The data-plane address to ping: a device's loopback, a server's service address."""
    dp = h.loopback if isinstance(h, Device) else h.address
    return str(dp if dp is not None else h.mgmt_ip)


def host_tags(inv: Inventory, name: str) -> dict[str, str]:
    h: Device | Server = inv.devices[name] if name in inv.devices else inv.servers[name]
    site = inv.sites.get(h.site)
    return {
        "agent_host": str(h.mgmt_ip),
        "device": name,
        "kind": "device" if name in inv.devices else "server",
        "site": h.site,
        "site_type": site.type if site else "",
        "role": h.role,
        "platform": h.platform if isinstance(h, Device) else "linux",
    }


def _wants_icmp(inv: Inventory, name: str, mode: IcmpMode) -> bool:
    if mode == "none":
        return False
    if mode == "all":
        return True
    h: Device | Server = inv.devices[name] if name in inv.devices else inv.servers[name]
    site = inv.sites.get(h.site)
    if h.snmp is None:
        return True  # nothing else tells us whether it is up
    if site is None:
        return False
    return site.type in ("desa", "kelurahan") or (site.uplink in RADIO_UPLINKS)


def build_hosts(
    inv: Inventory,
    names: Iterable[str] | None = None,
    *,
    icmp: IcmpMode = "desa",
    timeout: float = 2.0,
    retries: int = 1,
) -> list[HostRef]:
    """Hosts to poll (all devices and servers, or ``names``), secrets resolved now.

    Raises :class:`UnreachableError` when a link-local management network would be routed off
    this machine (the management LAN or the lab is down): SNMP packets must not leave it.
    """
    out: list[HostRef] = []
    selected = list(names) if names is not None else [*inv.devices, *inv.servers]
    _refuse_off_machine(inv, selected)
    for name in selected:
        h: Device | Server = inv.devices[name] if name in inv.devices else inv.servers[name]
        kind: Literal["device", "server"] = "device" if name in inv.devices else "server"
        tags = host_tags(inv, name)
        target = None
        plan = None
        if h.snmp is not None:
            s = h.snmp
            platform = s.profile or (h.platform if isinstance(h, Device) else "server")
            plan = plan_for_platform(platform)
            target = SnmpTarget(
                name=name,
                address=str(h.mgmt_ip),
                port=s.port,
                version=s.version,
                community=resolve_secret(inv, s.community) if s.community else None,
                user=s.user,
                auth_protocol=s.auth_protocol,
                auth_key=resolve_secret(inv, s.auth_key) if s.auth_key else None,
                priv_protocol=s.priv_protocol,
                priv_key=resolve_secret(inv, s.priv_key) if s.priv_key else None,
                timeout=timeout,
                retries=retries,
                tags=tags,
                platform=platform,
            )
        out.append(
            HostRef(name, kind, str(h.mgmt_ip), tags, target, plan, _wants_icmp(inv, name, icmp),
                    probe_address(h))
        )
    return out


def with_timeouts(hosts: list[HostRef], timeout: float, retries: int) -> list[HostRef]:
    return [
        replace(h, snmp=replace(h.snmp, timeout=timeout, retries=retries)) if h.snmp else h
        for h in hosts
    ]


def _refuse_off_machine(inv: Inventory, names: list[str]) -> None:
    # One route lookup per /24 is enough: a management LAN is up or down as a whole.
    seen: dict[str, str] = {}
    for name in names:
        h: Device | Server = inv.devices[name] if name in inv.devices else inv.servers[name]
        net = str(ipaddress.ip_network(f"{h.mgmt_ip}/24", strict=False))
        if net not in seen:
            seen[net] = name
            ensure_on_machine(name, str(h.mgmt_ip))
