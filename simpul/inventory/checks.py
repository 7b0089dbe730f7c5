"""Cross-reference checks that a single model cannot make on its own.

Every referenced site, server, device, group, policy and secret exists; no name, address or
prefix is used twice; addresses sit inside the address plan, in the supernet of the right
purpose (Perbup Temanggung 83/2021 Pasal 21: Dinkominfo holds the IP numbering authority).

Addresses: every prefix and address of every kind — site LANs, links, loopbacks, management,
server and router interface addresses, and the allocations and reservations of ipam.yaml —
is checked against the supernet of its purpose, and **every** pair that overlaps is reported
(:mod:`simpul.inventory.addrspace`), each naming the other's file and line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import timedelta
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from simpul.inventory.addrspace import Use, conflicts, describe, inventory_uses, ipam_uses
from simpul.inventory.models import IPAM_PURPOSES, LAN_PURPOSES, Inventory, Snmp, re_name
from simpul.inventory.source import Loaded

SITE_PURPOSES: dict[str, tuple[str, ...]] = {
    "opd": ("opd_lan",), "desa": ("desa_lan",), "kelurahan": ("desa_lan",),
    "pusat-data": ("servers",), "drc": ("drc",), "noc": ("noc", "management", "servers"),
}
"""The supernet a site's LAN (and the addresses of its servers) must come from. Purposes the
plan does not define are left out (a ``noc`` supernet is optional)."""
LAN_SUPERNETS = ("opd_lan", "desa_lan", "servers", "drc", "noc")
IFACE_PURPOSES: dict[str | None, tuple[str, ...]] = {
    "link": ("links",), "loopback": ("loopbacks",), "mgmt": ("management",),
    "lan": LAN_SUPERNETS, None: LAN_SUPERNETS,
}
# Linux user names an admin may not take: Debian's system accounts and the usual service users.
RESERVED_USERS = frozenset({
    "root", "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp", "proxy",
    "www-data", "backup", "list", "irc", "gnats", "nobody", "systemd-network", "systemd-resolve",
    "systemd-timesync", "messagebus", "sshd", "postgres", "mysql", "redis", "nginx", "chrony",
    "ntp", "snmp", "debian-snmp", "syslog", "tss", "uuidd", "tcpdump", "sudo", "admin", "adm",
    "staff", "users", "simpul-ssh",
})
LINUX_USER = re.compile(r"^[a-z][a-z0-9-]{0,31}$")


def cross_check(inv: Inventory, loaded: Loaded, names: dict[str, set[str]] | None = None) -> None:
    """Append a problem to ``loaded`` for every broken reference or collision."""
    p = loaded.problem
    names = names or {}

    def exists(section: str, name: str) -> bool:
        return name in names.get(section, set()) or name in getattr(inv, section)
    plan = inv.plan.supernets

    def in_plan(addr: IPv4Address | IPv4Network, purposes: Iterable[str], path: tuple[str | int, ...]) -> None:
        wanted = list(purposes)
        purposes = [x for x in wanted if x in plan]
        if not purposes:
            names = " or ".join(f"plan.supernets.{x}" for x in wanted)
            p(path, f"{addr}: the address plan has no supernet for it (add {names})")
            return
        for pur in purposes:
            net = plan[pur]  # type: ignore[index]
            if (addr in net) if isinstance(addr, IPv4Address) else addr.subnet_of(net):
                return
        nets = " or ".join(f"{x} {plan[x]}" for x in purposes)  # type: ignore[index]
        p(path, f"{addr} is not in the {nets} range of the address plan")

    def secret(name: str | None, path: tuple[str | int, ...]) -> None:
        if name is not None and not exists("secrets", name):
            p(path, f"unknown secret '{name}' (declare it under secrets: with env: or file:)")

    def snmp(s: Snmp | None, path: tuple[str | int, ...]) -> None:
        if s is None:
            return
        secret(s.community, (*path, "community"))
        secret(s.auth_key, (*path, "auth_key"))
        secret(s.priv_key, (*path, "priv_key"))

    if inv.organisation.log_host and not exists("servers", inv.organisation.log_host):
        p(("organisation", "log_host"), f"unknown server '{inv.organisation.log_host}'")

    # every host's management address in the management supernet (uniqueness: below)
    for kind, items in (("devices", inv.devices), ("servers", inv.servers)):
        for name, host in items.items():
            path = (kind, name)
            if not exists("sites", host.site):
                p((*path, "site"), f"unknown site '{host.site}'")
            in_plan(host.mgmt_ip, ["management"], (*path, "mgmt_ip"))
            snmp(host.snmp, (*path, "snmp"))
            for i, g in enumerate(host.groups):
                if not exists("groups", g):
                    p((*path, "groups", i), f"unknown group '{g}'")

    for name, d in inv.devices.items():
        secret(d.credential, ("devices", name, "credential"))
        if d.loopback is not None:
            in_plan(d.loopback, ["loopbacks"], ("devices", name, "loopback"))
        for ifname, itf in d.interfaces.items():
            ipath = ("devices", name, "interfaces", ifname)
            for key, addr in [("address", itf.address), *((("secondary", i), a)
                              for i, a in enumerate(itf.secondary))]:
                if addr is None:
                    continue
                kpath = (*ipath, *key) if isinstance(key, tuple) else (*ipath, key)
                in_plan(addr.ip, IFACE_PURPOSES[itf.kind], kpath)
                net = addr.network
                if net.prefixlen <= 30 and addr.ip in (net.network_address, net.broadcast_address):
                    p(kpath, f"{addr}: {addr.ip} is the {'network' if addr.ip == net.network_address else 'broadcast'} "
                      f"address of {net}, not a host address")

    # static routes: the next hop must be on one of the device's own networks (else the router
    # never installs the route)
    connected: dict[str, list[IPv4Network]] = {n: [] for n in inv.devices}
    for name, d in inv.devices.items():
        connected[name] += [a.network for i in d.interfaces.values()
                            for a in [i.address, *i.secondary] if a is not None]
    for link in inv.links.values():
        for end in (link.a, link.b):
            dev = end.split(":", 1)[0]
            if dev in connected:
                connected[dev].append(link.prefix)
    for name, d in inv.devices.items():
        for i, r in enumerate(d.static_routes):
            if not any(r.via in net for net in connected[name]):
                p(("devices", name, "static_routes", i, "via"),
                  f"next hop {r.via} is on none of {name}'s networks "
                  f"({', '.join(map(str, connected[name])) or 'it has none'})")

    for name, link in inv.links.items():
        for end in ("a", "b"):
            dev = getattr(link, end).split(":", 1)[0]
            if not exists("devices", dev):
                p(("links", name, end), f"unknown device '{dev}'")
        in_plan(link.prefix, ["links"], ("links", name, "prefix"))
    for name, site in inv.sites.items():
        if site.lan is not None:
            in_plan(site.lan, SITE_PURPOSES.get(site.type, LAN_SUPERNETS), ("sites", name, "lan"))

    for name, srv in inv.servers.items():
        secret(srv.ssh.key, ("servers", name, "ssh", "key"))
        if srv.address is not None:
            srv_site = inv.sites.get(srv.site)
            in_plan(srv.address, SITE_PURPOSES.get(srv_site.type if srv_site else "", ("servers", "drc")),
                    ("servers", name, "address"))
            if srv_site is not None and srv_site.lan is not None:
                _host_in_lan(p, srv.address, srv_site.lan, f"site {srv.site}", ("servers", name, "address"))
        for i, pol_name in enumerate(srv.backup):
            if not exists("backup_policies", pol_name):
                p(("servers", name, "backup", i), f"unknown backup policy '{pol_name}'")

    # admins (ACC-07): names usable as Linux accounts, never a deploy user, one owner per key
    deploy_users: dict[str, str] = {}
    for name, srv in inv.servers.items():
        deploy_users.setdefault(srv.ssh.user, name)
    declared = {str(n) for n in names.get("admins", set()) | set(inv.admins)}
    for name in sorted(n for n in declared if re_name.match(n)):  # bad names: the loader said so
        if not LINUX_USER.match(name):
            p(("admins", name), "an admin name is the Linux user name: start with a letter, at most "
              "32 characters")
        elif name in RESERVED_USERS:
            p(("admins", name), f"'{name}' is a system account name; choose the person's own user name")
        if name in deploy_users:
            p(("admins", name), f"'{name}' is the deploy user (ssh.user) of server "
              f"'{deploy_users[name]}'; Simpul never manages the deploy user as an admin")
    owner: dict[str, str] = {}
    for name, adm in inv.admins.items():
        for i, key in enumerate(adm.public_keys):
            blob = key.split(" ")[1]
            if blob in owner:
                p(("admins", name, "public_keys", i),
                  f"this key is already admin '{owner[blob]}'s; every person has their own key "
                  "(logins must be attributable)")
            else:
                owner[blob] = name
    for name, srv in inv.servers.items():
        for i, a in enumerate(srv.admins):
            if not exists("admins", a):
                p(("servers", name, "admins", i), f"unknown admin '{a}' (declare it under admins:)")
            elif a == srv.ssh.user:
                p(("servers", name, "admins", i), f"'{a}' is this server's deploy user (ssh.user), "
                  "not an admin")

    for name, svc in inv.services.items():
        if not exists("sites", svc.owner):
            p(("services", name, "owner"), f"unknown site '{svc.owner}'")
        for i, srv_name in enumerate(svc.servers):
            if not exists("servers", srv_name):
                p(("services", name, "servers", i), f"unknown server '{srv_name}'")

    secret(inv.organisation.evidence_signing_key, ("organisation", "evidence_signing_key"))
    _standby_checks(inv, p, exists, in_plan, secret)

    for name, pol in inv.backup_policies.items():
        secret(pol.encryption_key, ("backup_policies", name, "encryption_key"))
        dest = inv.servers.get(pol.destination)
        if dest is None and not exists("servers", pol.destination):
            p(("backup_policies", name, "destination"), f"unknown server '{pol.destination}'")
        elif dest is not None and inv.sites.get(dest.site) and inv.sites[dest.site].type != "drc":
            p(("backup_policies", name, "destination"),
              f"server '{pol.destination}' is at site '{dest.site}', not at the DRC "
              "(backups must leave the Pusat Data: Pergub Kalteng 24/2022 Pasal 14)")
        if dest is not None and not any(s.partition("/")[0] == "restic-rest" for s in dest.services):
            p(("backup_policies", name, "destination"),
              f"server '{pol.destination}' does not list the service restic-rest (the append-only "
              "repository server the Pusat Data writes to); add restic-rest to its services: so "
              "the firewall admits it")
        if pol.service is not None:
            served = inv.services.get(pol.service)
            if served is None and not exists("services", pol.service):
                p(("backup_policies", name, "service"), f"unknown service '{pol.service}'")
            elif served is not None and pol.every > served.rpo and not (
                    served.rpo.total_seconds() == 0 and served.standby is not None):
                # an RPO of 0 is kept by a synchronous DRC standby (services.<s>.standby), not by
                # backups; the backups are then judged by their own period (drc/status.target_of)
                p(("backup_policies", name, "every"),
                  f"a backup every {_td(pol.every)} cannot meet service '{pol.service}''s RPO of "
                  f"{_td(served.rpo)} (the newest backup may be up to 'every' old)")
        if not any(name in srv.backup for srv in inv.servers.values()):
            p(("backup_policies", name), "no server lists this policy (servers.<name>.backup)")

    # repositories: one parent directory per destination (the append-only server's root), one
    # key per repository (several policies may share one, each with its own retention)
    roots: dict[str, tuple[str, str]] = {}
    keys: dict[tuple[str, str], tuple[str, str]] = {}
    for name, pol in inv.backup_policies.items():
        parent, _, repo = pol.repository.rpartition("/")
        have = roots.setdefault(pol.destination, (parent, name))
        if have[0] != parent:
            p(("backup_policies", name, "repository"),
              f"{pol.repository}: every repository on '{pol.destination}' must sit in one "
              f"directory ({have[0]}/..., as in policy '{have[1]}')")
        k = keys.setdefault((pol.destination, repo), (pol.encryption_key, name))
        if k[0] != pol.encryption_key:
            p(("backup_policies", name, "encryption_key"),
              f"repository {pol.repository} on '{pol.destination}' is also used by policy "
              f"'{k[1]}' with key '{k[0]}'; one repository has one key")


    _ipam_checks(inv, loaded, exists, in_plan)

    # every overlapping pair of every kind, each naming the other's place
    idx = loaded.list_index
    uses: list[Use] = inventory_uses(inv) + ipam_uses(
        inv.allocations, inv.reservations, idx.get("allocations"), idx.get("reservations"))
    for x, u in conflicts(uses):
        here, msg = describe(x, u)
        other = u if here is x else x
        o = loaded.where(other.path)
        p(here.path, f"{msg} ({o.file}:{o.line})" if o.line else msg)


def _host_in_lan(p: Callable[[tuple[str | int, ...], str], None], addr: IPv4Address,
                 lan: IPv4Network, owner: str, path: tuple[str | int, ...]) -> None:
    """A host address inside its LAN, and neither its network nor its broadcast address."""
    if addr not in lan:
        p(path, f"{addr} is not in the LAN of {owner} ({lan})")
    elif lan.prefixlen <= 30 and addr in (lan.network_address, lan.broadcast_address):
        what = "network" if addr == lan.network_address else "broadcast"
        p(path, f"{addr} is the {what} address of {owner}'s LAN {lan}, not a host address")


def _ipam_checks(inv: Inventory, loaded: Loaded, exists: Callable[[str, str], bool],
                 in_plan: Callable[[IPv4Address | IPv4Network, Iterable[str], tuple[str | int, ...]], None]) -> None:
    """ipam.yaml: each entry in the supernet of its purpose, at a site that exists, a host
    address inside a LAN (its site's, or an allocated LAN block)."""
    p = loaded.problem
    idx = loaded.list_index
    lan_blocks = [a.prefix for a in inv.allocations if a.prefix is not None and a.purpose in LAN_PURPOSES]
    lan_blocks += [s.lan for s in inv.sites.values() if s.lan is not None]
    for a, i in zip(inv.allocations, idx.get("allocations", range(len(inv.allocations))), strict=False):
        path: tuple[str | int, ...] = ("allocations", i)
        site = inv.sites.get(a.site) if a.site else None
        if a.site and not exists("sites", a.site):
            p((*path, "site"), f"unknown site '{a.site}'")
        if a.prefix is not None and a.purpose in IPAM_PURPOSES:
            in_plan(a.prefix, [IPAM_PURPOSES[a.purpose][0]], (*path, "prefix"))
        elif a.address is not None:
            if site is not None and site.lan is not None:
                _host_in_lan(p, a.address, site.lan, f"site {a.site}", (*path, "address"))
            elif site is not None:
                p((*path, "site"), f"site '{a.site}' has no LAN (sites.{a.site}.lan) to hold {a.address}")
            else:
                lan = next((b for b in lan_blocks if a.address in b), None)
                if lan is None:
                    p((*path, "address"), f"{a.address} is in no LAN (a site LAN or an allocated LAN "
                      "block); host addresses are allocated inside a LAN")
                else:
                    _host_in_lan(p, a.address, lan, "the block", (*path, "address"))
    supernets = list(inv.plan.supernets.values())
    for r, i in zip(inv.reservations, idx.get("reservations", range(len(inv.reservations))), strict=False):
        path = ("reservations", i)
        lo, hi = r.bounds()
        if r.site and not exists("sites", r.site):
            p((*path, "site"), f"unknown site '{r.site}'")
        site = inv.sites.get(r.site) if r.site else None
        if site is not None and site.lan is not None and not (lo in site.lan and hi in site.lan):
            p(path, f"{r.label} is not in the LAN of site {r.site} ({site.lan})")
        if not any(lo in n and hi in n for n in supernets):
            p(path, f"{r.label} is not inside any supernet of the address plan")


def _td(td: timedelta) -> str:
    secs = int(td.total_seconds())
    out = ""
    for unit, n in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if secs >= n:
            out += f"{secs // n}{unit}"
            secs %= n
    return out or "0s"

def _standby_checks(inv: Inventory, p: Any, exists: Any, in_plan: Any, secret: Any) -> None:
    """``services.<name>.standby``: a DRC takeover needs a Pusat Data primary, a DRC replica and
    a witness at a third site (Pergub Kalteng 24/2022 Pasal 11(2)(b), 14; Pergub Jambi 12/2022
    Pasal 23(2)(c)); one etcd runs per server, so services sharing a server share its members."""
    etcd_of: dict[str, tuple[str, frozenset[str]]] = {}
    vips: dict[IPv4Address, str] = {}
    for name, svc in inv.services.items():
        sb = svc.standby
        if sb is None:
            continue
        path = ("services", name, "standby")
        secret(sb.credential, (*path, "credential"))
        site_type: dict[str, str] = {}
        for role, srv_name, sub in ([("primary", sb.primary, ("primary",))]
                                    + [("replica", r, ("replicas", i)) for i, r in enumerate(sb.replicas)]
                                    + [("witness", sb.witness, ("witness",))]
                                    + ([("drill client", sb.drill_client, ("drill_client",))]
                                       if sb.drill_client else [])):
            srv = inv.servers.get(srv_name)
            if srv is None:
                if not exists("servers", srv_name):
                    p((*path, *sub), f"unknown server '{srv_name}'")
                continue
            if srv.address is None:
                p((*path, *sub), f"the {role} '{srv_name}' has no data-plane address (servers."
                  f"{srv_name}.address)")
            site = inv.sites.get(srv.site)
            site_type[srv_name] = site.type if site else "?"
        if site_type.get(sb.primary, "pusat-data") not in ("pusat-data", "?"):
            p((*path, "primary"), f"'{sb.primary}' is at a {site_type[sb.primary]} site; the home "
              "primary runs in the Pusat Data")
        if sb.replicas and all(site_type.get(r, "drc") not in ("drc", "?") for r in sb.replicas):
            p((*path, "replicas"), "no replica is at the DRC: the DRC takes over when the Pusat "
              "Data does not function (Pergub Kalteng 24/2022 Pasal 14)")
        sites = {inv.servers[n].site for n in [sb.primary, *sb.replicas] if n in inv.servers}
        if sb.witness in inv.servers and inv.servers[sb.witness].site in sites:
            p((*path, "witness"), f"the witness '{sb.witness}' is at site "
              f"'{inv.servers[sb.witness].site}' with a database server; it must be at a third site "
              "(e.g. the NOC), or losing that site loses the majority")
        in_plan(sb.vip, ["servers", "drc"], (*path, "vip"))
        if sb.vip in vips:
            p((*path, "vip"), f"{sb.vip} is already the service address of '{vips[sb.vip]}'")
        vips.setdefault(sb.vip, name)
        members = frozenset([sb.primary, *sb.replicas, sb.witness])
        for n in members:
            if n in etcd_of and etcd_of[n][1] != members:
                p(path, f"server '{n}' is also in the standby of service '{etcd_of[n][0]}' with "
                  "other members; one etcd runs per server, so services that share a server must "
                  "name the same primary, replicas and witness")
            etcd_of.setdefault(n, (name, members))
