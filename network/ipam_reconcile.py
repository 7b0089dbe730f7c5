"""Reconcile the IP plan with what the routers carry (and, in the lab, what answers).

``simpul ipam reconcile`` reads every router's interface addresses over SSH with netmiko — the
router facts collector :func:`simpul.network.collect.collect` (FRR ``show interface json``,
TextFSM for the others; host keys pinned) — and compares them with the plan
(:func:`compare`, pure). What it reports, per router:

=================  ==============================================================  ===========
finding            meaning                                                         disagrees
=================  ==============================================================  ===========
``not-in-plan``    the router carries an address outside every supernet             yes
``unallocated``    inside the plan, but nothing gives it to this router             yes
``conflict``       the plan gives that address to someone else                      yes
``reserved``       inside a reserved range (plan.reserved, keep-free, DHCP)         yes
``mismatch``       planned here, but with another prefix length or interface        yes
``missing``        planned on this router (inventory) but not configured            yes
``never-seen``     allocated in ipam.yaml, not on any router (all reached)          yes
``pending``        on the router and in ipam.yaml, not yet written in inventory     no (note)
=================  ==============================================================  ===========

The liveness sweep (``--sweep SITE``, **lab only**) runs ``fping`` over the site's LAN inside
its router's network namespace (``ip netns exec slab-r-<router>``): the packets never leave the
lab. An address that answers without being in the plan is ``alive-unallocated`` (disagrees);
an allocated address that stays silent is ``silent`` (a note: a firewall may drop ping).
phpIPAM's subnet scan is the anchor; it too marks, it never un-allocates.
"""

from __future__ import annotations

import bisect
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path
from typing import Any

from simpul.errors import UsageError
from simpul.inventory.addrspace import Use
from simpul.inventory.models import LAN_PURPOSES, Inventory
from simpul.results import Result, Status

from .ipam import Book

DISAGREE = frozenset({"not-in-plan", "unallocated", "conflict", "reserved", "mismatch", "missing",
                      "never-seen", "alive-unallocated"})
IGNORED = (IPv4Network("127.0.0.0/8"),)


@dataclass(frozen=True)
class Finding:
    kind: str
    router: str  # the router (or "plan" / "sweep <site>")
    interface: str
    address: str
    message: str

    @property
    def disagrees(self) -> bool:
        return self.kind in DISAGREE

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "router": self.router, "interface": self.interface,
                "address": self.address, "message": self.message, "disagrees": self.disagrees}


@dataclass(frozen=True)
class Planned:
    """An address the inventory puts on a router."""

    address: IPv4Address
    prefixlen: int | None  # None: not checked (management addresses)
    interface: str | None  # None: any interface (the loopback, the management address)
    where: str  # devices.core-1.loopback, links.core-dinkes.prefix, ...


def planned(inv: Inventory) -> dict[str, dict[IPv4Address, Planned]]:
    """Every address the inventory puts on each router: interfaces (and secondaries), the
    loopback, the management address, and both ends of every link (first host on ``a``)."""
    out: dict[str, dict[IPv4Address, Planned]] = {n: {} for n in inv.devices}
    for name, d in inv.devices.items():
        mine = out[name]
        mine[d.mgmt_ip] = Planned(d.mgmt_ip, None, None, f"devices.{name}.mgmt_ip")
        if d.loopback is not None:
            mine[d.loopback] = Planned(d.loopback, 32, None, f"devices.{name}.loopback")
        for ifname, itf in d.interfaces.items():
            for i, a in enumerate([itf.address, *itf.secondary]):
                if a is not None:
                    key = "address" if i == 0 else f"secondary[{i - 1}]"
                    mine[a.ip] = Planned(a.ip, a.network.prefixlen, ifname,
                                         f"devices.{name}.interfaces.{ifname}.{key}")
    for lname, link in inv.links.items():
        hosts = list(link.prefix.hosts()) if link.prefix.prefixlen < 31 else list(link.prefix)
        for end, ip in ((link.a, hosts[0]), (link.b, hosts[1] if len(hosts) > 1 else hosts[0])):
            dev, ifname = end.split(":", 1)
            if dev in out:
                out[dev].setdefault(ip, Planned(ip, link.prefix.prefixlen, ifname, f"links.{lname}.prefix"))
    return out


def _containers(book: Book, ip: int) -> list[Use]:
    """What holds ``ip`` other than host addresses: LANs, links, blocks, reserved ranges."""
    return [u for u in book.between(ip, ip) if not u.host and u.kind != "service"]


def compare(book: Book, seen: dict[str, dict[str, list[IPv4Interface]]],
            unreachable: Iterable[str] = ()) -> list[Finding]:
    """Findings for the routers in ``seen`` (``{router: {ifname: [addresses]}}``)."""
    inv = book.inv
    plan = planned(inv)
    out: list[Finding] = []
    hosts_by_ip: dict[int, list[Use]] = {}
    for u in book.uses():
        if u.host or (u.kind == "allocation" and u.first == u.last):
            hosts_by_ip.setdefault(u.first, []).append(u)
    supernets = [(str(k), n) for k, n in inv.plan.supernets.items()]
    carried: list[tuple[str, IPv4Interface]] = []
    for router, ifaces in sorted(seen.items()):
        mine = plan.get(router, {})
        found: set[IPv4Address] = set()
        for ifname, addrs in sorted(ifaces.items()):
            for a in addrs:
                if any(a.ip in n for n in IGNORED):
                    continue
                carried.append((router, a))
                ip = a.ip
                exp = mine.get(ip)
                if exp is not None:
                    found.add(ip)
                    if exp.prefixlen is not None and exp.prefixlen != a.network.prefixlen:
                        out.append(Finding("mismatch", router, ifname, str(a),
                                           f"carried as {a}, the plan says /{exp.prefixlen} ({exp.where})"))
                    elif exp.interface is not None and exp.interface != ifname:
                        out.append(Finding("mismatch", router, ifname, str(a),
                                           f"carried on {ifname}, the plan says {exp.interface} ({exp.where})"))
                    continue
                out.extend(_unplanned(book, router, ifname, a, hosts_by_ip, supernets))
        for ip, exp in sorted(mine.items()):
            if ip not in found:
                on = f" on {exp.interface}" if exp.interface else ""
                out.append(Finding("missing", router, exp.interface or "", str(ip),
                                   f"planned{on} ({exp.where}) but not configured on the router"))
    out.extend(_never_seen(book, carried, list(unreachable)))
    return out


def _unplanned(book: Book, router: str, ifname: str, a: IPv4Interface,
               hosts_by_ip: dict[int, list[Use]], supernets: list[tuple[str, IPv4Network]]) -> list[Finding]:
    ip = int(a.ip)
    addr = str(a)
    for u in hosts_by_ip.get(ip, []):
        if u.name == router:
            where = book.where(u)
            return [Finding("pending", router, ifname, addr,
                            f"allocated for {router} ({where}); write it in the inventory")] if u.ipam else []
        return [Finding("conflict", router, ifname, addr,
                        f"the plan gives {a.ip} to {u.owner} ({book.where(u)})")]
    inside = _containers(book, ip)
    for u in inside:
        if u.kind in ("plan-reserved",) or (u.kind == "reservation" and u.detail != "gateway"):
            return [Finding("reserved", router, ifname, addr,
                            f"{a.ip} lies in the reserved range {u.label} ({u.owner}, {book.where(u)})")]
    pending = [u for u in inside if u.ipam and u.kind in ("allocation", "reservation")]
    written = [u for u in inside if not u.ipam and u.kind in ("site", "link")]
    if pending and not written:
        u = pending[0]
        return [Finding("pending", router, ifname, addr,
                        f"inside {u.owner} {u.label} ({book.where(u)}); not yet written in the inventory")]
    sup = next((k for k, n in supernets if a.ip in n), None)
    if sup is None:
        return [Finding("not-in-plan", router, ifname, addr,
                         f"{a.ip} is outside every supernet of the address plan")]
    where = f"inside {written[0].owner} {written[0].label}" if written else f"in the {sup} supernet"
    return [Finding("unallocated", router, ifname, addr,
                    f"{where}, but the plan does not give {a.ip} to {router}")]


def _never_seen(book: Book, carried: list[tuple[str, IPv4Interface]],
                unreachable: list[str]) -> list[Finding]:
    """ipam.yaml blocks for links, loopbacks and LANs that no router carries an address in."""
    base = {(u.first, u.last, u.name) for u in book.base}
    ips = sorted(int(a.ip) for _, a in carried)
    out = []
    for u in book.uses()[len(book.base):]:
        if u.kind != "allocation" or (u.first, u.last, u.name) in base:
            continue  # host addresses: only a sweep sees them; realised ones: checked above
        if u.detail not in LAN_PURPOSES and u.detail not in ("link", "loopback"):
            continue
        i = bisect.bisect_left(ips, u.first)
        if i < len(ips) and ips[i] <= u.last:
            continue
        if unreachable:
            continue  # could be on a router we could not read
        out.append(Finding("never-seen", "plan", "", u.label,
                           f"{u.owner} ({book.where(u)}) is on no router"))
    return out


# --- the liveness sweep (lab only) -----------------------------------------------------------------


def sweep_target(book: Book, site: str) -> tuple[IPv4Network, str]:
    """The LAN of ``site`` and the router that carries an address in it (to ping from)."""
    s = book.inv.sites.get(site)
    if s is None or s.lan is None:
        raise UsageError(f"--sweep {site}: not a site with a LAN (sites.{site}.lan)")
    for name, d in book.inv.devices.items():
        for itf in d.interfaces.values():
            for a in [itf.address, *itf.secondary]:
                if a is not None and a.ip in s.lan:
                    return s.lan, name
    raise UsageError(f"--sweep {site}: no router of the inventory has an address in {s.lan}")


def fping_lab(netns: str, lan: IPv4Network, timeout_ms: int = 300) -> set[IPv4Address]:
    """The addresses of ``lan`` that answer ping from inside the lab namespace ``netns``.

    Lab only: the caller checks that ``lan`` is inside the lab's data-plane range and that
    ``netns`` is the lab router's namespace, so no packet leaves the lab.
    """
    if not Path("/run/netns", netns).exists():
        raise UsageError(f"network namespace {netns} does not exist (is the lab up?)")
    cmd = ["ip", "netns", "exec", netns, "fping", "-a", "-q", "-r", "1", "-t", str(timeout_ms),
           "-g", str(lan)]
    cp = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if cp.returncode not in (0, 1):  # 1: some unreachable (normal)
        raise UsageError(f"fping in {netns} failed (exit {cp.returncode}): {cp.stderr.strip()[:200]}")
    return {IPv4Address(x.strip()) for x in cp.stdout.split() if x.strip()}


def compare_sweep(book: Book, site: str, lan: IPv4Network, alive: set[IPv4Address]) -> list[Finding]:
    """Addresses of the LAN that answer without being in the plan, and planned hosts that stay
    silent (a note only: a host may drop ping)."""
    target = f"sweep {site}"
    lo, hi = int(lan.network_address), int(lan.broadcast_address)
    known: dict[int, Use] = {}
    ok_ranges: list[Use] = []
    for u in book.overlapping(lan):
        if u.host:
            known[u.first] = u
        elif u.kind == "reservation" and u.detail in ("dhcp", "gateway"):
            ok_ranges.append(u)
    out = []
    for ip in sorted(alive):
        i = int(ip)
        if i in known or any(u.first <= i <= u.last for u in ok_ranges):
            continue
        out.append(Finding("alive-unallocated", target, "", str(ip),
                           f"answers ping in the LAN of site {site} ({lan}) but is not in the plan"))
    for i, u in sorted(known.items()):
        if lo <= i <= hi and IPv4Address(i) not in alive and u.kind in ("server", "host"):
            out.append(Finding("silent", target, "", u.label,
                               f"{u.owner} ({book.where(u)}) did not answer ping"))
    return out


def results_of(findings: list[Finding], reached: Iterable[str], failed: list[Result]) -> list[Result]:
    """One Result per router (and per sweep / for the plan): changed when anything disagrees."""
    by: dict[str, list[Finding]] = {}
    for f in findings:
        by.setdefault(f.router, []).append(f)
    out = list(failed)
    for target in [*sorted(set(reached) | set(by))]:
        fs = by.get(target, [])
        bad = [f for f in fs if f.disagrees]
        status = Status.CHANGED if bad else Status.OK
        msg = f"{len(bad)} disagreement(s)" if bad else ("agrees with the plan" + (
            f" ({len(fs)} note(s))" if fs else ""))
        out.append(Result(target, status, msg, data={"findings": [f.to_dict() for f in fs]}))
    return out
