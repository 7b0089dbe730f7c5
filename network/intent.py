"""The intended state of each router, computed from the inventory: pure data, no I/O.

One :class:`DeviceIntent` per router, the same for every platform (the templates under
``network/templates/<platform>/`` turn it into that platform's syntax):

- interfaces and addresses: the device's ``interfaces:`` plus its end of every ``links:``
  entry (the first host of the prefix for end ``a``, the second for ``b``) and its loopback;
- OSPF: every interface in the device's area, point-to-point with fast timers on links,
  passive on LANs and the loopback; router-id = loopback;
- the management ACL: SSH and SNMP only from ``organisation.noc_ranges``
  (Perbup Temanggung 83/2021 Pasal 20; Pergub Jambi 12/2022 Pasal 21(2));
- SNMPv3 user, NTP servers, syslog to the log host, the legal login banner (Bahasa
  Indonesia), the local login user — secrets only by *name* (``SecretRef``); templates render a
  ``<secret:NAME>`` placeholder that a driver resolves at push time, so no secret is ever in a
  rendered file, a diff, a log or git.

Per-device knobs live in the device's ``tags`` (documented in docs/network.md):
``ospf_area`` (default ``0``), ``ospf_hello`` / ``ospf_dead`` (seconds, links only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from simpul.errors import ConfigError
from simpul.inventory.models import Inventory

REFS = ["Perbup Temanggung 83/2021 Pasal 20-21", "Pergub Jambi 12/2022 Pasal 21(1)(b), 21(2)",
        "Pergub DKI 68/2022 Pasal 11", "Pergub Kalteng 24/2022 Pasal 15"]
"""Regulation articles the router management of ``simpul net`` implements."""

OSPF_HELLO = 1
OSPF_DEAD = 4
"""Simpul's intranet OSPF profile on point-to-point links: fast failure detection (a radio
link that dies is routed around in seconds). Override per device with tags."""

SECRET_MARK = "<secret:{}>"  # noqa: S105  # a placeholder, not a secret


def secret_placeholder(name: str) -> str:
    return SECRET_MARK.format(name)


@dataclass(frozen=True)
class IfaceIntent:
    name: str
    addresses: tuple[IPv4Interface, ...]
    kind: str  # link | lan | loopback | mgmt
    description: str = ""
    ospf: bool = True
    p2p: bool = False
    passive: bool = False


@dataclass(frozen=True)
class SnmpIntent:
    user: str
    auth_protocol: str
    auth_key: str  # secret NAME
    priv_protocol: str
    priv_key: str  # secret NAME


@dataclass(frozen=True)
class DeviceIntent:
    name: str
    platform: str
    site: str
    site_name: str
    role: str
    mgmt_ip: IPv4Address
    router_id: IPv4Address | None
    interfaces: tuple[IfaceIntent, ...]
    ospf_area: str
    ospf_hello: int
    ospf_dead: int
    mgmt_acl: tuple[IPv4Network, ...]
    banner: str
    username: str
    credential: str  # secret NAME
    snmp: SnmpIntent | None = None
    ntp_servers: tuple[str, ...] = ()
    log_host: str | None = None
    static_routes: tuple[tuple[IPv4Network, IPv4Address], ...] = ()
    neighbors: tuple[str, ...] = field(default=())
    """Devices at the other end of this device's links (for the twin and post-checks)."""

    @property
    def links(self) -> list[IfaceIntent]:
        return [i for i in self.interfaces if i.kind == "link"]


def banner_text(inv: Inventory) -> str:
    """The legal login banner (Bahasa Indonesia first, English after), one line."""
    org = inv.organisation.name
    return (f"PERINGATAN: perangkat milik {org}. Hanya untuk petugas yang berwenang; setiap akses "
            f"dicatat dan dipantau. WARNING: authorised users only; all access is logged.")


def _tag_int(tags: dict[str, str], key: str, default: int, where: str) -> int:
    if key not in tags:
        return default
    try:
        v = int(tags[key])
    except ValueError:
        raise ConfigError(f"{where}.tags.{key}: '{tags[key]}' is not a number of seconds") from None
    if not 1 <= v <= 65535:
        raise ConfigError(f"{where}.tags.{key}: {v} is out of range 1..65535")
    return v


def device_intent(inv: Inventory, name: str) -> DeviceIntent:
    """The intended state of router ``name`` (ConfigError naming the inventory key if wrong)."""
    if name not in inv.devices:
        raise ConfigError(f"{name}: not a device in the inventory ({inv.source or 'inventory'})")
    dev = inv.devices[name]
    where = f"devices.{name}"
    hello = _tag_int(dev.tags, "ospf_hello", OSPF_HELLO, where)
    dead = _tag_int(dev.tags, "ospf_dead", OSPF_DEAD, where)
    if dead <= hello:
        raise ConfigError(f"{where}.tags: ospf_dead ({dead}) must be larger than ospf_hello ({hello})")
    area = dev.tags.get("ospf_area", "0")
    ifaces: list[IfaceIntent] = []
    for ifname, itf in dev.interfaces.items():
        addrs = tuple(a for a in [itf.address, *itf.secondary] if a is not None)
        kind = itf.kind or "lan"
        ifaces.append(IfaceIntent(ifname, addrs, kind, itf.description or "", ospf=kind != "mgmt",
                                  passive=kind in ("lan", "loopback")))
    neighbors = []
    for lname, link in inv.links.items():
        hosts = list(link.prefix.hosts()) or [link.prefix.network_address, link.prefix.broadcast_address]
        for idx, (end, other) in enumerate(((link.a, link.b), (link.b, link.a))):
            dname, ifname = end.split(":", 1)
            if dname != name:
                continue
            peer = other.split(":", 1)[0]
            neighbors.append(peer)
            if any(i.name == ifname for i in ifaces):
                raise ConfigError(f"links.{lname}: {end} is also in {where}.interfaces")
            addr = IPv4Interface(f"{hosts[idx]}/{link.prefix.prefixlen}")
            ifaces.append(IfaceIntent(ifname, (addr,), "link", link.description or f"{lname} to {peer}",
                                      p2p=True))
    if dev.loopback is not None:
        ifaces.append(IfaceIntent(_loopback_name(dev.platform), (IPv4Interface(f"{dev.loopback}/32"),),
                                  "loopback", passive=False))
    router_id = dev.loopback or next((i.addresses[0].ip for i in ifaces if i.addresses), None)
    snmp = None
    if dev.snmp is not None and dev.snmp.version == "3":
        snmp = SnmpIntent(dev.snmp.user or "", dev.snmp.auth_protocol, dev.snmp.auth_key or "",
                          dev.snmp.priv_protocol, dev.snmp.priv_key or "")
    log_host = None
    lh = inv.organisation.log_host
    if lh and lh in inv.servers:
        log_host = str(inv.servers[lh].mgmt_ip)
    site = inv.sites.get(dev.site)
    return DeviceIntent(
        name=name, platform=dev.platform, site=dev.site, site_name=site.name if site else dev.site,
        role=dev.role, mgmt_ip=dev.mgmt_ip, router_id=router_id, interfaces=tuple(ifaces),
        ospf_area=area, ospf_hello=hello, ospf_dead=dead,
        mgmt_acl=tuple(inv.organisation.noc_ranges), banner=banner_text(inv),
        username=dev.username, credential=dev.credential, snmp=snmp,
        ntp_servers=tuple(inv.organisation.ntp_servers), log_host=log_host,
        neighbors=tuple(sorted(set(neighbors))),
    )


def _loopback_name(platform: str) -> str:
    return {"frr": "lo", "cisco_ios": "Loopback0", "cisco_xe": "Loopback0", "huawei": "LoopBack0",
            "mikrotik_routeros": "loopback0"}.get(platform, "lo")


def pusat_data_targets(inv: Inventory) -> list[IPv4Address]:
    """Addresses that stand for "the Pusat Data" in reachability checks: the loopbacks of the
    routers at Pusat Data sites (the core), else the Pusat Data LAN's first address."""
    pd_sites = set(inv.sites_of_type("pusat-data"))
    out = [d.loopback for d in inv.devices.values() if d.site in pd_sites and d.loopback is not None]
    if not out:
        for s in pd_sites:
            lan = inv.sites[s].lan
            if lan is not None:
                out.append(next(lan.hosts()))
    return out
