"""Cross-reference checks that a single model cannot make on its own.

Every referenced site, server, device, group, policy and secret exists; no name, address or
prefix is used twice; addresses sit inside the address plan, in the supernet of the right
purpose (Perbup Temanggung 83/2021 Pasal 21: Dinkominfo holds the IP numbering authority).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from simpul.inventory.models import Inventory, Snmp, re_name
from simpul.inventory.source import Loaded

LAN_PURPOSE = {"opd": "opd_lan", "desa": "desa_lan", "kelurahan": "desa_lan"}
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
        purposes = [x for x in purposes if x in plan]
        if not purposes:
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

    # addresses: management and loopbacks unique across devices and servers
    mgmt: dict[IPv4Address, str] = {}
    for kind, items in (("devices", inv.devices), ("servers", inv.servers)):
        for name, host in items.items():
            path = (kind, name)
            if not exists("sites", host.site):
                p((*path, "site"), f"unknown site '{host.site}'")
            if host.mgmt_ip in mgmt:
                p((*path, "mgmt_ip"), f"{host.mgmt_ip} is already used by {mgmt[host.mgmt_ip]}")
            else:
                mgmt[host.mgmt_ip] = f"{kind[:-1]} {name}"
            in_plan(host.mgmt_ip, ["management"], (*path, "mgmt_ip"))
            snmp(host.snmp, (*path, "snmp"))
            for i, g in enumerate(host.groups):
                if not exists("groups", g):
                    p((*path, "groups", i), f"unknown group '{g}'")

    loops: dict[IPv4Address, str] = {}
    for name, d in inv.devices.items():
        secret(d.credential, ("devices", name, "credential"))
        if d.loopback is not None:
            if d.loopback in loops:
                p(("devices", name, "loopback"), f"{d.loopback} is already used by {loops[d.loopback]}")
            loops[d.loopback] = name
            in_plan(d.loopback, ["loopbacks"], ("devices", name, "loopback"))

    # prefixes: links and site LANs, no duplicates or overlaps
    prefixes: list[tuple[IPv4Network, str, tuple[str | int, ...]]] = []
    for name, link in inv.links.items():
        for end in ("a", "b"):
            dev = getattr(link, end).split(":", 1)[0]
            if not exists("devices", dev):
                p(("links", name, end), f"unknown device '{dev}'")
        in_plan(link.prefix, ["links"], ("links", name, "prefix"))
        prefixes.append((link.prefix, f"link {name}", ("links", name, "prefix")))
    for name, site in inv.sites.items():
        if site.lan is not None:
            pur = LAN_PURPOSE.get(site.type)
            purposes = [pur] if pur else ["servers", "drc", "noc", "opd_lan"]
            in_plan(site.lan, purposes, ("sites", name, "lan"))
            prefixes.append((site.lan, f"site {name}", ("sites", name, "lan")))
    prefixes.sort(key=lambda t: (t[0].network_address, -t[0].prefixlen))
    for (na, wa, _), (nb, wb, pb) in zip(prefixes, prefixes[1:], strict=False):
        if na.overlaps(nb):
            what = "is the same prefix as" if na == nb else "overlaps"
            p(pb, f"{nb} {what} {na} of {wa}")

    for name, srv in inv.servers.items():
        secret(srv.ssh.key, ("servers", name, "ssh", "key"))
        if srv.address is not None:
            in_plan(srv.address, ["servers", "drc", "noc"], ("servers", name, "address"))
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


def _standby_checks(inv: Inventory, p: Any, exists: Any, in_plan: Any, secret: Any) -> None:
    """``services.<name>.standby``: a DRC takeover needs a Pusat Data primary, a DRC replica and
    a witness at a third site (Pergub Kalteng 24/2022 Pasal 11(2)(b), 14; Pergub Jambi 12/2022
    Pasal 23(2)(c)); one etcd runs per server, so services sharing a server share its members."""
    addresses = {srv.address: n for n, srv in inv.servers.items() if srv.address is not None}
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
        if sb.vip in addresses:
            p((*path, "vip"), f"{sb.vip} is the address of server '{addresses[sb.vip]}'; the "
              "service address must be free")
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
