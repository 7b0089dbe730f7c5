"""The lab's wiring plan, computed from the inventory: pure data, no side effects.

``plan(inv)`` turns ``inventory/lab`` into every namespace, veth, bridge and address the lab
builds, with the names it will use. ``up`` executes the plan; ``down`` needs only the name
prefixes (so it also works after a crash, without the plan).

Naming (all lab objects carry a prefix, so teardown finds exactly what the lab made):

======================  =========================================================
``slab-r-<router>``     network namespace of a router (FRR, sshd, snmpd)
``slab-s-<server>``     network namespace of a server (its own init, sshd, snmpd)
``slab-sw-pd``          the Pusat Data server switch (bridge ``br0``)
``slab-sw-drc``         the DRC server switch, joined to ``slab-sw-pd`` by the WAN veth
``slab-sw-noc``         the NOC switch (witness, drill client), joined to each site on its own link
``slab-mgmt``           the management bridge in the root namespace (169.254.100.1/24)
``slm-<kind><hash>``    root-side end of a node's management veth (inside: ``mgmt0``)
======================  =========================================================

Safety: every data-plane address must lie inside :data:`LAB_RANGE` and every management address
inside the inventory's management supernet, which must be link-local (169.254.0.0/16). The plan
refuses anything else, so an inventory of a real network can never be "built" as a lab.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from simpul.inventory.models import Inventory

from .netns import LabError

PREFIX = "slab"
LAB_RANGE = IPv4Network("10.199.0.0/16")
"""Data-plane range of the lab; unreachable from the root namespace while the lab is up.

Not 10.255.0.0/16: on these machines the host's DNS resolver lives at 10.255.255.53, and an
unreachable route over it cut name resolution (apt, pip) for the whole machine."""
LINK_LOCAL = IPv4Network("169.254.0.0/16")
MGMT_BRIDGE = f"{PREFIX}-mgmt"
MGMT_IF = "mgmt0"
ROOT_IF_PREFIX = "slm-"
SWITCH_BRIDGE = "br0"
WAN_LINK = "wan"
IFNAMSIZ = 15
RADIO_DEFAULT_LOSS = 1.0
"""Percent of packets a radio link drops in each direction after ``up`` (a degraded desa link)."""


def short_id(kind: str, name: str) -> str:
    """Stable root-side interface name for ``name``: ``slm-`` + kind letter + 8 hex digits."""
    return f"{ROOT_IF_PREFIX}{kind}{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def router_ns(name: str) -> str:
    return f"{PREFIX}-r-{name}"


def server_ns(name: str) -> str:
    return f"{PREFIX}-s-{name}"


def switch_ns(site: str) -> str:
    return f"{PREFIX}-sw-{site}"


@dataclass(frozen=True)
class RouterIface:
    name: str
    addresses: tuple[IPv4Interface, ...]
    kind: str  # "link" | "lan"
    description: str = ""
    passive: bool = False


@dataclass(frozen=True)
class RouterPlan:
    name: str
    netns: str
    mgmt_ip: IPv4Address
    mgmt_root_if: str
    loopback: IPv4Address
    interfaces: tuple[RouterIface, ...]
    site: str
    lan_switch: str | None = None
    """Switch namespace that ``lan0`` plugs into (the server segment), or None for a stub LAN."""


@dataclass(frozen=True)
class ServerPlan:
    name: str
    netns: str
    mgmt_ip: IPv4Address
    mgmt_root_if: str
    address: IPv4Interface
    gateway: IPv4Address | None
    """Default gateway (a router LAN); None at the NOC, which has no router of its own."""
    switch: str
    switch_port: str
    site: str
    onlink: tuple[IPv4Network, ...] = ()
    """Networks of the other sites reached directly on the segment (routes ``dev eth0``): the
    NOC's hosts and the servers of both sites see each other without a router, so cutting the
    WAN leaves the NOC talking to each site on its own link."""


@dataclass(frozen=True)
class LinkPlan:
    """A point-to-point veth between two namespaces; also the WAN between the switches."""

    name: str
    a_ns: str
    a_if: str
    b_ns: str
    b_if: str
    medium: str
    bandwidth_mbps: float | None
    default_loss: float = 0.0
    isolated: bool = False
    """Both ends are bridge ports in ``isolated`` mode: a switch never carries traffic from one
    isolated port to another, so between the three site switches every frame takes its own
    direct link (no L2 loop, no PD↔DRC traffic through the NOC when ``wan`` is cut)."""


@dataclass(frozen=True)
class Topology:
    mgmt_net: IPv4Network
    mgmt_gateway: IPv4Interface
    routers: dict[str, RouterPlan]
    servers: dict[str, ServerPlan]
    links: dict[str, LinkPlan]
    switches: dict[str, str] = field(default_factory=dict)
    """site type ("pd", "drc") -> switch namespace"""

    @property
    def namespaces(self) -> list[str]:
        return ([r.netns for r in self.routers.values()] + [s.netns for s in self.servers.values()]
                + list(self.switches.values()))

    def used_networks(self) -> list[IPv4Network]:
        """Every data-plane network the lab puts addresses in (links, LANs, loopbacks)."""
        nets = {a.network for r in self.routers.values() for i in r.interfaces
                for a in i.addresses}
        nets |= {IPv4Network(f"{r.loopback}/32") for r in self.routers.values()}
        nets |= {s.address.network for s in self.servers.values()}
        return sorted(nets)

    def hosts(self) -> dict[str, IPv4Address]:
        """Every reachable host by inventory name -> management address."""
        out = {n: r.mgmt_ip for n, r in self.routers.items()}
        out.update({n: s.mgmt_ip for n, s in self.servers.items()})
        return out


def _check_name(ifname: str, where: str) -> None:
    if len(ifname) > IFNAMSIZ:
        raise LabError(f"{where}: interface name '{ifname}' is longer than {IFNAMSIZ} characters")


def _check_lab_addr(addr: IPv4Address | IPv4Interface, where: str) -> None:
    ip = addr.ip if isinstance(addr, IPv4Interface) else addr
    if ip not in LAB_RANGE:
        raise LabError(f"{where}: {addr} is outside the lab range {LAB_RANGE}",
                       hint=f"the lab only builds inventories whose data plane is in {LAB_RANGE}")


def plan(inv: Inventory) -> Topology:
    """Compute the lab wiring for ``inv``; raise :class:`LabError` if it is not a lab inventory."""
    mgmt_net = inv.plan.supernets.get("management")
    if mgmt_net is None or not mgmt_net.subnet_of(LINK_LOCAL):
        raise LabError(f"plan.supernets.management is {mgmt_net}; the lab needs a link-local "
                       "management network (169.254.x.0/24)")
    gw = IPv4Interface(f"{next(mgmt_net.hosts())}/{mgmt_net.prefixlen}")

    # which routers' lan0 serve the server segment (a pusat-data / drc site router with a LAN
    # that contains the servers' addresses)
    site_type = {n: s.type for n, s in inv.sites.items()}
    seg_sites = {"pusat-data": "pd", "drc": "drc", "noc": "noc"}
    switches = {short: switch_ns(short) for t, short in seg_sites.items()
                if any(site_type.get(s.site) == t for s in inv.servers.values())}

    routers: dict[str, RouterPlan] = {}
    ifaces: dict[str, list[RouterIface]] = {n: [] for n in inv.devices}
    for name, dev in inv.devices.items():
        where = f"devices.{name}"
        if dev.platform != "frr":
            raise LabError(f"{where}: platform {dev.platform}; lab routers run FRR (platform: frr)")
        if dev.mgmt_ip not in mgmt_net:
            raise LabError(f"{where}.mgmt_ip: {dev.mgmt_ip} not in the management net {mgmt_net}")
        if dev.loopback is None:
            raise LabError(f"{where}: a lab router needs a loopback address")
        _check_lab_addr(dev.loopback, f"{where}.loopback")
        for ifname, itf in dev.interfaces.items():
            _check_name(ifname, f"{where}.interfaces")
            addrs = tuple(a for a in [itf.address, *itf.secondary] if a is not None)
            for a in addrs:
                _check_lab_addr(a, f"{where}.interfaces.{ifname}")
            ifaces[name].append(RouterIface(ifname, addrs, itf.kind or "lan",
                                            itf.description or "", passive=True))

    links: dict[str, LinkPlan] = {}
    for lname, link in inv.links.items():
        ends = []
        for end in (link.a, link.b):
            dev_name, ifname = end.split(":", 1)
            if dev_name not in inv.devices:
                raise LabError(f"links.{lname}: '{dev_name}' is not a device")
            _check_name(ifname, f"links.{lname}")
            ends.append((dev_name, ifname))
        hosts = list(link.prefix.hosts())
        if len(hosts) < 2:
            raise LabError(f"links.{lname}: prefix {link.prefix} has fewer than two addresses")
        _check_lab_addr(hosts[0], f"links.{lname}.prefix")
        (da, ia), (db, ib) = ends
        for (d, i), h, peer in (((da, ia), hosts[0], db), ((db, ib), hosts[1], da)):
            if any(x.name == i for x in ifaces[d]):
                raise LabError(f"links.{lname}: {d}:{i} is already used")
            ifaces[d].append(RouterIface(i, (IPv4Interface(f"{h}/{link.prefix.prefixlen}"),),
                                         "link", f"{lname} to {peer}"))
        links[lname] = LinkPlan(lname, router_ns(da), ia, router_ns(db), ib, link.medium,
                                link.bandwidth_mbps,
                                RADIO_DEFAULT_LOSS if link.medium == "radio" else 0.0)

    for name, dev in inv.devices.items():
        lan_switch = None
        short = seg_sites.get(site_type.get(dev.site, ""))
        if short in switches and any(i.name == "lan0" for i in ifaces[name]):
            lan_switch = switches[short]
        routers[name] = RouterPlan(name, router_ns(name), dev.mgmt_ip, short_id("r", name),
                                   dev.loopback,  # type: ignore[arg-type]  # checked above
                                   tuple(ifaces[name]), dev.site, lan_switch)

    # every LAN address on a switch-attached router interface is a possible server gateway
    gateways: list[IPv4Interface] = [a for r in routers.values() if r.lan_switch
                                     for i in r.interfaces if i.name == "lan0"
                                     for a in i.addresses]
    servers: dict[str, ServerPlan] = {}
    for name, srv in inv.servers.items():
        where = f"servers.{name}"
        if srv.mgmt_ip not in mgmt_net:
            raise LabError(f"{where}.mgmt_ip: {srv.mgmt_ip} not in the management net {mgmt_net}")
        if srv.address is None:
            raise LabError(f"{where}: a lab server needs a data-plane address")
        _check_lab_addr(srv.address, f"{where}.address")
        short = seg_sites.get(site_type.get(srv.site, ""))
        if short is None:
            raise LabError(f"{where}: site '{srv.site}' is neither pusat-data, drc nor noc")
        gw_if = next((g for g in gateways if srv.address in g.network), None)
        gateway: IPv4Address | None = None
        if short == "noc":
            lan = inv.sites[srv.site].lan
            if lan is None or srv.address not in lan:
                raise LabError(f"{where}.address: {srv.address} is not in the LAN of site "
                               f"'{srv.site}' (sites.{srv.site}.lan)")
            addr = IPv4Interface(f"{srv.address}/{lan.prefixlen}")
        elif gw_if is None:
            raise LabError(f"{where}.address: {srv.address} is in no router LAN on the server "
                           "segment (no gateway)")
        else:
            addr, gateway = IPv4Interface(f"{srv.address}/{gw_if.network.prefixlen}"), gw_if.ip
        servers[name] = ServerPlan(name, server_ns(name), srv.mgmt_ip, short_id("s", name),
                                   addr, gateway, switches[short], "p" + short_id("", name)[4:],
                                   srv.site)

    # the NOC sees each site directly, and each site sees the NOC: on-link routes both ways
    noc_sw = switches.get("noc")
    noc_nets = sorted({s.address.network for s in servers.values() if s.switch == noc_sw})
    site_nets = sorted({g.network for g in gateways})
    servers = {n: replace(s, onlink=tuple(net for net in (site_nets if s.switch == noc_sw
                                                          else noc_nets)
                                          if net != s.address.network))
               for n, s in servers.items()}

    if "pd" in switches and "drc" in switches:
        if WAN_LINK in links:
            raise LabError(f"links.{WAN_LINK}: the name is reserved for the Pusat Data–DRC WAN")
        links[WAN_LINK] = LinkPlan(WAN_LINK, switches["pd"], "wan-pd", switches["drc"],
                                   "wan-drc", "fiber", None, isolated=True)
    if "noc" in switches:
        for short in ("pd", "drc"):
            if short not in switches:
                continue
            lname = f"noc-{short}"
            if lname in links:
                raise LabError(f"links.{lname}: the name is reserved for the NOC–site link")
            links[lname] = LinkPlan(lname, switches["noc"], f"to-{short}", switches[short],
                                    "to-noc", "fiber", None, isolated=True)

    mgmt_ips = [str(r.mgmt_ip) for r in routers.values()] + [str(s.mgmt_ip)
                                                              for s in servers.values()]
    dup = {x for x in mgmt_ips if mgmt_ips.count(x) > 1} | ({str(gw.ip)} & set(mgmt_ips))
    if dup:
        raise LabError(f"management addresses used twice (or the NOC's {gw.ip}): "
                       f"{', '.join(sorted(dup))}")
    return Topology(mgmt_net, gw, routers, servers, links, switches)
