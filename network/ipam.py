"""IP address management for the Jaringan Intra: pure allocation logic over the inventory.

Dinkominfo holds the IP numbering authority for the intranet and supervises the OPD and desa
LANs (Perbup Temanggung 83/2021 Pasal 21); every LAN change is reported (Pasal 22). This module
decides *what* to allocate; :mod:`simpul.network.ipam_store` records it atomically in
``ipam.yaml`` and ``simpul ipam`` (:mod:`simpul.network.ipam_cli`) is the command line.

- :class:`Book` — the address space as the inventory and ipam.yaml describe it: every use
  (:mod:`simpul.inventory.addrspace`), the allocations, reservations and released entries.
- :func:`plan_block` — the lowest free block of a purpose's size in its supernet (first fit,
  aligned on its own size), or the existing one when the thing already has it (idempotent).
- :func:`plan_host` — the lowest free host address inside a site LAN, skipping the network and
  broadcast addresses, the router (gateway) addresses and the reserved ranges.
- :func:`utilisation` / :func:`lan_detail` — what ``simpul ipam show`` prints.
- :func:`find_entry`, :func:`released_entry`, :func:`history` — release and history.

Example::

    book = Book.from_inventory(load_inventory("inventory/lab"))
    p = plan_block(book, "desa-lan", "desa-ngadimulyo")
    print(p.space)          # 10.199.32.64/28
"""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from ipaddress import IPv4Address, IPv4Network, ip_address, ip_network
from typing import Any

from simpul.errors import ConfigError, SimpulError, UsageError
from simpul.inventory.addrspace import (
    Use,
    first_fit,
    free_ranges,
    inventory_uses,
    ipam_uses,
    largest_block,
    merge,
)
from simpul.inventory.models import (
    IPAM_PURPOSES,
    LAN_PURPOSES,
    Allocation,
    Inventory,
    Released,
    Reservation,
)

REFS = ["Perbup Temanggung 83/2021 Pasal 21", "Perbup Temanggung 83/2021 Pasal 22"]
"""Regulation references every IPAM change carries in the operations log."""

ALIASES = {
    "opd": "opd-lan", "desa": "desa-lan", "kelurahan": "kelurahan-lan", "links": "link",
    "loopbacks": "loopback", "servers": "server-lan", "server": "server-lan", "drc": "drc-lan",
    "mgmt": "management",
}
WARN_AT = 80.0
"""Default utilisation (percent) above which ``ipam show`` warns."""


class SpaceFull(SimpulError):
    """No free block (or address) of the asked size is left where it was asked for."""


def who() -> str:
    """``user@host`` of the person running the command (``SUDO_USER`` wins over root)."""
    for var in ("SUDO_USER", "USER", "LOGNAME"):
        if os.environ.get(var):
            user = os.environ[var]
            break
    else:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = f"uid{os.getuid()}"
    return f"{user}@{socket.gethostname()}"


def now() -> str:
    """The time an entry is written, UTC, to the second: ``2026-05-04T02:10:00Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def resolve_purpose(name: str) -> str:
    """The canonical purpose for what a person typed (``desa_lan``, ``links``, ``desa-lan``)."""
    key = name.strip().lower().replace("_", "-")
    key = ALIASES.get(key, key)
    if key not in IPAM_PURPOSES:
        raise UsageError(f"unknown purpose '{name}'; valid purposes: {', '.join(IPAM_PURPOSES)}",
                         hint="a host address inside a LAN is '--in SITE --for HOST'")
    return key


def parse_size(v: str | int | None) -> int | None:
    """``/28``, ``28`` or None."""
    if v is None:
        return None
    s = str(v).strip().lstrip("/")
    if not s.isdigit() or not 8 <= int(s) <= 32:
        raise UsageError(f"--size {v}: give a prefix length between /8 and /32, e.g. /28")
    return int(s)


# --- the address book -------------------------------------------------------------------------


@dataclass
class Book:
    """The address space: the inventory's uses plus the entries of ipam.yaml."""

    inv: Inventory
    base: list[Use]
    allocations: list[Allocation] = field(default_factory=list)
    reservations: list[Reservation] = field(default_factory=list)
    released: list[Released] = field(default_factory=list)
    alloc_lines: list[int] = field(default_factory=list)  # line of each allocation in ipam.yaml
    resv_lines: list[int] = field(default_factory=list)
    _uses: list[Use] | None = None
    # (purpose, for) -> the allocation's use, when the caller keeps one (ipam_store does)
    block_index: dict[tuple[str, str], Use] | None = None
    # merged intervals of the inventory's uses per supernet, shared by every Book of one base
    _base_cache: dict[IPv4Network, list[tuple[int, int]]] = field(default_factory=dict)

    @classmethod
    def from_inventory(cls, inv: Inventory, base: list[Use] | None = None) -> Book:
        """The book of a loaded inventory (its ipam.yaml entries included)."""
        uses = (base if base is not None else inventory_uses(inv)) + organisation_uses(inv)
        return cls(inv, uses, list(inv.allocations), list(inv.reservations), list(inv.released))

    def with_entries(self, allocations: list[Allocation], reservations: list[Reservation],
                     released: list[Released], alloc_lines: list[int] | None = None,
                     resv_lines: list[int] | None = None, uses: list[Use] | None = None,
                     block_index: dict[tuple[str, str], Use] | None = None) -> Book:
        """The same inventory with the ipam.yaml entries read afresh (under the lock);
        ``uses`` (and ``block_index``) when the caller has them already (see ipam_store)."""
        return Book(self.inv, self.base, allocations, reservations, released,
                    alloc_lines or [], resv_lines or [],
                    None if uses is None else self.base + uses, block_index, self._base_cache)

    def used_in(self, net: IPv4Network) -> list[tuple[int, int]]:
        """Inclusive intervals of ``net`` that are used or reserved, merged and in order.

        The inventory's part is computed once per base (it does not change while ipam.yaml
        does); the ipam.yaml entries are added each time.
        """
        lo, hi = int(net.network_address), int(net.broadcast_address)
        base = self._base_cache.get(net)
        if base is None:
            base = merge([(max(u.first, lo), min(u.last, hi)) for u in self.base
                          if u.last >= lo and u.first <= hi])
            self._base_cache[net] = base
        ipam = [(a if a >= lo else lo, b if b <= hi else hi)
                for u in self.uses()[len(self.base):] for a, b in ((u.first, u.last),)
                if b >= lo and a <= hi]
        return merge(base + ipam) if ipam else base

    def uses(self) -> list[Use]:
        if self._uses is None:
            self._uses = self.base + ipam_uses(self.allocations, self.reservations)
        return self._uses

    def overlapping(self, net: IPv4Network) -> list[Use]:
        return self.between(int(net.network_address), int(net.broadcast_address))

    def between(self, lo: int, hi: int) -> list[Use]:
        """The uses sharing an address with the inclusive range ``lo``..``hi``."""
        return [u for u in self.uses() if u.last >= lo and u.first <= hi]

    def where(self, u: Use) -> str:
        """Where a use is written: ``ipam.yaml:12`` or ``sites.dinkes.lan``."""
        if u.ipam:
            ipam = self.uses()[len(self.base):]  # allocations, then reservations
            i = next((k for k, x in enumerate(ipam) if x is u), None)
            if i is not None:
                na = len(self.allocations)
                sec, j, lines = (("allocations", i, self.alloc_lines) if i < na
                                 else ("reservations", i - na, self.resv_lines))
                return f"ipam.yaml:{lines[j]}" if j < len(lines) and lines[j] else f"ipam.yaml {sec}[{j}]"
            return "ipam.yaml"
        return ".".join(str(x) for x in u.path)

    def supernet(self, purpose: str) -> IPv4Network:
        sup_name = IPAM_PURPOSES[purpose][0]
        net = self.inv.plan.supernets.get(sup_name)
        if net is None:
            raise ConfigError(f"the address plan has no supernet for {purpose} (plan.supernets.{sup_name})",
                              hint=f"add it to plan.supernets in {self.inv.source or 'the inventory'}")
        return net


def organisation_uses(inv: Inventory) -> list[Use]:
    """The NOC's DNS and NTP server addresses (``organisation``): never handed out, but not
    conflicts either when a server of the inventory is one of them."""
    out: list[Use] = []
    org = inv.organisation
    addrs: list[tuple[str, int, str]] = [("dns_servers", i, str(a)) for i, a in enumerate(org.dns_servers)]
    addrs += [("ntp_servers", i, a) for i, a in enumerate(org.ntp_servers)]
    for key, i, a in addrs:
        try:
            ip = IPv4Address(a)
        except ValueError:
            continue  # a host name
        out.append(Use(int(ip), int(ip), "service", key.removesuffix("_servers").upper() + " server",
                       ("organisation", key, i), str(ip)))
    return out


@dataclass(frozen=True)
class Proposal:
    """What ``allocate`` takes (or found already taken)."""

    kind: str  # "block" | "host"
    space: IPv4Network  # the block, or the address as a /32
    purpose: str | None
    for_: str
    site: str | None
    within: IPv4Network  # the supernet or the LAN it comes from
    within_name: str  # "desa_lan" or "site dinkes"
    existing: str = ""  # where it is already written (nothing to do), or ""
    notes: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return str(self.space) if self.kind == "block" else str(self.space.network_address)

    def entry(self, why: str, *, by: str | None = None, at: str | None = None) -> dict[str, Any]:
        """The ipam.yaml entry recording this proposal."""
        d: dict[str, Any] = {"prefix": str(self.space)} if self.kind == "block" else {
            "address": str(self.space.network_address)}
        if self.kind == "block":
            d["purpose"] = self.purpose
        d.update({"for": self.for_, "site": self.site, "by": by or who(), "at": at or now(), "why": why})
        return d

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "allocation": self.label, "purpose": self.purpose, "for": self.for_,
                "site": self.site, "from": str(self.within), "from_name": self.within_name,
                "existing": self.existing or None, "notes": list(self.notes)}


def _size_of(intervals: Iterable[tuple[int, int]]) -> int:
    return sum(b - a + 1 for a, b in merge(list(intervals)))


def _full_message(what: str, net: IPv4Network, name: str, used: Sequence[tuple[int, int]]) -> str:
    free = free_ranges(net, used)
    taken = net.num_addresses - sum(b - a + 1 for a, b in free)
    big = largest_block(free)
    big_s = f"the largest free block is /{big.prefixlen} ({big})" if big else "nothing is free"
    return (f"no free {what} left in {name} {net}: {100 * taken / net.num_addresses:.1f} % used, "
            f"{big_s}")


def plan_block(book: Book, purpose: str, for_: str, *, size: int | None = None,
               site: str | None = None) -> Proposal:
    """The lowest free block of ``purpose``'s size (``plan.sizes`` or ``size``) for ``for_``.

    Idempotent: when ``for_`` already has a block of this purpose (in ipam.yaml, or written in
    the inventory: the site's LAN, the link's prefix, the device's loopback), that block is
    returned with ``existing`` set. Raises :class:`UsageError` (unknown purpose, bad size),
    :class:`ConfigError` (no supernet, unknown site) or :class:`SpaceFull`.
    """
    key = resolve_purpose(purpose)
    sup_name, size_key, default = IPAM_PURPOSES[key]
    net = book.supernet(key)
    plan_sizes: dict[str, int] = {str(k): v for k, v in book.inv.plan.sizes.items()}
    n = size or (plan_sizes.get(size_key) if size_key else None) or default
    if n is None:
        raise UsageError(f"no default size for {key}: give --size /N",
                         hint=f"or add plan.sizes.{size_key}" if size_key else None)
    if n < net.prefixlen:
        raise UsageError(f"--size /{n} is larger than the whole {sup_name} supernet {net}")
    if site is not None and site not in book.inv.sites:
        raise ConfigError(f"unknown site '{site}' (not under sites: in {book.inv.source or 'the inventory'})")
    found = _existing_block(book, key, for_, net)
    if found is not None:
        space, where = found
        return Proposal("block", space, key, for_, site, net, sup_name, existing=where)
    used = book.used_in(net)
    lo, hi = int(net.network_address), int(net.broadcast_address)
    if n >= 31 and net.prefixlen <= 30:
        # single addresses (loopbacks, management) never take the supernet's network or broadcast
        used = [*used, (lo, lo), (hi, hi)]
    block = first_fit(free_ranges(net, used), n)
    if block is None:
        raise SpaceFull(_full_message(f"/{n}", net, f"{sup_name} ({key})", used),
                        hint=f"release unused blocks (simpul ipam show --purpose {key}), ask for a smaller "
                             f"--size, or extend plan.supernets.{sup_name}")
    planned = (plan_sizes.get(size_key) if size_key else None) or default
    notes: tuple[str, ...] = ()
    if size is not None and size != planned:
        notes = (f"/{n} asked with --size (the plan's size for {key} is "
                 f"{'/' + str(planned) if planned else 'not set'})",)
    return Proposal("block", block, key, for_, site, net, sup_name, notes=notes)


def _existing_block(book: Book, key: str, for_: str, net: IPv4Network) -> tuple[IPv4Network, str] | None:
    if book.block_index is not None:
        hit = book.block_index.get((key, for_))
        candidates = [hit] if hit is not None else []
    else:
        candidates = [u for u in book.uses()[len(book.base):] if u.kind == "allocation"]
    for u in candidates:
        if u.detail == key and u.name == for_:
            found = u.network()
            assert found is not None
            return found, book.where(u)
    inv = book.inv
    if key in LAN_PURPOSES:
        s = inv.sites.get(for_)
        if s is not None and s.lan is not None and s.lan.subnet_of(net):
            return s.lan, f"sites.{for_}.lan"
    elif key == "link" and for_ in inv.links:
        return inv.links[for_].prefix, f"links.{for_}.prefix"
    elif key == "loopback" and for_ in inv.devices and inv.devices[for_].loopback is not None:
        return IPv4Network(f"{inv.devices[for_].loopback}/32"), f"devices.{for_}.loopback"
    elif key == "management":
        host = inv.devices.get(for_) or inv.servers.get(for_)
        if host is not None and host.mgmt_ip in net:
            section = "devices" if for_ in inv.devices else "servers"
            return IPv4Network(f"{host.mgmt_ip}/32"), f"{section}.{for_}.mgmt_ip"
    return None


# --- host addresses inside a LAN ---------------------------------------------------------------


def resolve_lan(book: Book, where: str) -> tuple[IPv4Network, str | None, str]:
    """A LAN named by a site, by what an allocated LAN block is for, or by its prefix.

    Returns (lan, site name or None, a description for messages).
    """
    inv = book.inv
    site = inv.sites.get(where)
    if site is not None:
        if site.lan is None:
            raise ConfigError(f"site '{where}' has no LAN (sites.{where}.lan)",
                              hint="allocate one first: simpul ipam allocate --purpose opd-lan|desa-lan "
                                   f"--for {where}")
        return site.lan, where, f"site {where}"
    for a in book.allocations:
        if a.prefix is not None and a.purpose in LAN_PURPOSES and a.for_ == where:
            return a.prefix, None, f"the {a.purpose} allocated for {where}"
    try:
        net = ip_network(where, strict=True)
    except ValueError:
        raise UsageError(f"--in {where}: not a site, not the name of an allocated LAN and not a prefix",
                         hint="give a site name (sites:), the name an allocated LAN is for, or the LAN "
                              "prefix, e.g. --in dinkes") from None
    if not isinstance(net, IPv4Network):
        raise UsageError(f"--in {where}: IPv6 is not managed here")
    for name, s in inv.sites.items():
        if s.lan == net:
            return net, name, f"site {name}"
    for a in book.allocations:
        if a.prefix == net and a.purpose in LAN_PURPOSES:
            return net, None, f"the {a.purpose} allocated for {a.for_}"
    raise UsageError(f"--in {where}: {net} is not a site LAN or an allocated LAN block")


def gateways(book: Book, lan: IPv4Network) -> list[IPv4Address]:
    """Router interface addresses inside ``lan`` (the LAN's gateways)."""
    return [IPv4Address(u.first) for u in book.overlapping(lan) if u.kind == "interface"]


def plan_host(book: Book, where: str, for_: str) -> Proposal:
    """The lowest free host address in the LAN ``where`` for host ``for_``.

    Skips the network and broadcast addresses (for LANs of /30 and larger), every router
    address in the LAN (its gateways) — or, when no router address is declared there, the first
    host address, kept for the gateway by convention — every reserved range and every address
    in use. Idempotent: a host that already has an address in this LAN gets it back.
    """
    lan, site, desc = resolve_lan(book, where)
    inv = book.inv
    for i, a in enumerate(book.allocations):
        if a.address is not None and a.for_ == for_ and a.address in lan:
            line = book.alloc_lines[i] if i < len(book.alloc_lines) else None
            return Proposal("host", IPv4Network(f"{a.address}/32"), None, for_, site, lan, desc,
                            existing=f"ipam.yaml:{line}" if line else "ipam.yaml")
    srv = inv.servers.get(for_)
    if srv is not None and srv.address is not None and srv.address in lan:
        return Proposal("host", IPv4Network(f"{srv.address}/32"), None, for_, site, lan, desc,
                        existing=f"servers.{for_}.address")
    addr, notes = free_host(book, lan)
    if addr is None:
        hosts = lan.num_addresses - (2 if lan.prefixlen <= 30 else 0)
        raise SpaceFull(f"no free address left in the LAN of {desc} ({lan}): all {hosts} host addresses "
                        "are in use, reserved or kept for the gateway",
                        hint=f"release an address (simpul ipam show --site {where}), shrink a reservation, "
                             "or allocate a larger LAN")
    return Proposal("host", IPv4Network(f"{addr}/32"), None, for_, site, lan, desc, notes=tuple(notes))


def _in_lan(book: Book, lan: IPv4Network) -> list[Use]:
    """The uses inside ``lan``, without the LAN itself (or the block it was allocated as)."""
    lo, hi = int(lan.network_address), int(lan.broadcast_address)
    return [u for u in book.overlapping(lan)
            if not (u.first <= lo and u.last >= hi and u.kind != "reservation")]


def free_host(book: Book, lan: IPv4Network) -> tuple[IPv4Address | None, list[str]]:
    """The lowest free host address of ``lan`` (see :func:`plan_host`) and notes about it."""
    lo, hi = int(lan.network_address), int(lan.broadcast_address)
    skip: list[tuple[int, int]] = []
    notes: list[str] = []
    if lan.prefixlen <= 30:
        skip += [(lo, lo), (hi, hi)]
        if not gateways(book, lan):
            skip.append((lo + 1, lo + 1))
            notes.append(f"{IPv4Address(lo + 1)} kept for the gateway (no router address is declared "
                         "in this LAN)")
    used = [(u.first, u.last) for u in _in_lan(book, lan)]
    free = free_ranges(lan, used + skip)
    return (IPv4Address(free[0][0]) if free else None), notes


# --- utilisation (ipam show) -------------------------------------------------------------------


@dataclass(frozen=True)
class SupernetUse:
    purpose: str  # plan purpose: desa_lan
    supernet: IPv4Network
    size: int
    used: int
    reserved: int
    free: int
    largest_free: IPv4Network | None
    allocations: int  # ipam.yaml entries inside
    next_free: IPv4Network | None  # of the default size (an address, for a supernet that is one LAN)
    default_size: int | None
    level: str = "blocks"  # "hosts" when the supernet is one LAN (servers, drc): counted by address

    @property
    def percent(self) -> float:
        return 100.0 * (self.size - self.free) / self.size

    def to_dict(self, warn_at: float = WARN_AT) -> dict[str, Any]:
        return {"purpose": self.purpose, "supernet": str(self.supernet), "size": self.size,
                "used": self.used, "reserved": self.reserved, "free": self.free,
                "utilisation_percent": round(self.percent, 1), "counted_by": self.level,
                "largest_free_block": str(self.largest_free) if self.largest_free else None,
                "next_free": str(self.next_free) if self.next_free else None,
                "default_size": self.default_size, "allocations": self.allocations,
                "warning": self.percent >= warn_at}


def _default_size_for(book: Book, sup_name: str) -> int | None:
    sizes: dict[str, int] = {str(k): v for k, v in book.inv.plan.sizes.items()}
    for key, (sup, size_key, default) in IPAM_PURPOSES.items():
        if sup == sup_name and key != "kelurahan-lan":
            return (sizes.get(size_key) if size_key else None) or default
    return None


def utilisation(book: Book, purposes: Sequence[str] | None = None) -> list[SupernetUse]:
    """Per supernet of the plan: size, used, reserved, free, largest free block.

    A supernet is counted in blocks (a LAN or link is used as a whole); a supernet that is one
    LAN (the Pusat Data and DRC server LANs) is counted by address, with the network,
    broadcast and gateway addresses as reserved.
    """
    out: list[SupernetUse] = []
    for sup_name, net in book.inv.plan.supernets.items():
        if purposes and sup_name not in purposes:
            continue
        lo, hi = int(net.network_address), int(net.broadcast_address)
        over = book.overlapping(net)
        whole = any(u.container and u.first <= lo and u.last >= hi for u in over)
        level = "hosts" if whole else "blocks"
        if whole:
            inside = _in_lan(book, net)
            used = [(u.first, u.last) for u in inside if u.kind not in ("reservation", "plan-reserved")]
            held = [(u.first, u.last) for u in inside if u.kind in ("reservation", "plan-reserved")]
            if net.prefixlen <= 30:
                held += [(lo, lo), (hi, hi)]
                if not gateways(book, net):
                    held.append((lo + 1, lo + 1))
        else:
            used = [(u.first, u.last) for u in over if u.kind not in ("reservation", "plan-reserved")]
            held = [(u.first, u.last) for u in over if u.kind in ("reservation", "plan-reserved")]
            if net.prefixlen <= 30 and _default_size_for(book, sup_name) == 32:
                held += [(lo, lo), (hi, hi)]

        def clip(iv: list[tuple[int, int]], lo: int = lo, hi: int = hi) -> list[tuple[int, int]]:
            return [(max(a, lo), min(b, hi)) for a, b in iv]

        n_used = _size_of(clip(used))
        n_all = _size_of(clip(used + held))
        free = free_ranges(net, used + held)
        dsize = 32 if whole else _default_size_for(book, sup_name)
        out.append(SupernetUse(
            sup_name, net, net.num_addresses, n_used, n_all - n_used, net.num_addresses - n_all,
            largest_block(free), sum(1 for u in over if u.ipam and u.kind in ("allocation", "host")),
            first_fit(free, dsize) if dsize and dsize >= net.prefixlen else None, dsize, level))
    return out


def lan_detail(book: Book, where: str) -> dict[str, Any]:
    """One LAN: its hosts, who uses each address, the reservations and the next free address."""
    lan, site, desc = resolve_lan(book, where)
    lo, hi = int(lan.network_address), int(lan.broadcast_address)
    rows = []
    for u in sorted(book.overlapping(lan), key=lambda u: (u.first, -u.last)):
        if u.first <= lo and u.last >= hi and u.kind != "reservation":
            continue  # the LAN itself (or what it was allocated as)
        rows.append({"address": u.label, "kind": u.kind, "owner": u.owner, "where": book.where(u)})
    hosts = lan.num_addresses - (2 if lan.prefixlen <= 30 else 0)
    nxt, notes = free_host(book, lan)
    taken = _size_of([(max(u.first, lo), min(u.last, hi)) for u in _in_lan(book, lan)])
    return {"lan": str(lan), "site": site, "name": desc, "hosts": hosts, "taken": taken,
            "free": max(hosts - taken, 0), "gateways": [str(g) for g in gateways(book, lan)],
            "next_free": str(nxt) if nxt else None, "notes": notes, "entries": rows}


# --- release and history ------------------------------------------------------------------------


def find_entry(book: Book, target: str) -> tuple[str, int]:
    """The ipam.yaml entry ``target`` names: a prefix, an address, a range, or what an
    allocation is for. Returns (section, index). Raises :class:`UsageError` when it names
    none or several."""
    t = target.strip()
    for i, a in enumerate(book.allocations):
        if a.label == t or (a.prefix is not None and str(a.prefix.network_address) == t
                            and a.prefix.prefixlen == 32):
            return "allocations", i
    for i, r in enumerate(book.reservations):
        if r.label == t:
            return "reservations", i
    named = [i for i, a in enumerate(book.allocations) if a.for_ == t]
    if len(named) == 1:
        return "allocations", named[0]
    if len(named) > 1:
        labels = ", ".join(book.allocations[i].label for i in named)
        raise UsageError(f"'{t}' has {len(named)} allocations ({labels}); name the one to release")
    raise UsageError(f"nothing in ipam.yaml is '{t}' (give the prefix, address, range or the name "
                     "an allocation is for)",
                     hint="see simpul ipam history; what is written in sites/devices/links/servers "
                          "is released by editing those files")


def released_entry(entry: Allocation | Reservation, why: str, *, by: str | None = None,
                   at: str | None = None) -> dict[str, Any]:
    """The ``released:`` line for an allocation or reservation given back."""
    d = entry.model_dump(mode="json", by_alias=True, exclude_none=True)
    d = {"was": "allocation" if isinstance(entry, Allocation) else "reservation", **d}
    d["at"] = entry.at.strftime("%Y-%m-%dT%H:%M:%SZ")
    d.update({"released_by": by or who(), "released_at": at or now(), "released_why": why})
    return d


def still_written(book: Book, entry: Allocation) -> str | None:
    """Where the inventory still uses an allocation's space for the same thing, if it does."""
    space = entry.space()
    lo, hi = int(space.network_address), int(space.broadcast_address)
    for u in book.base:
        if u.first == lo and u.last == hi and u.name == entry.for_:
            return ".".join(str(x) for x in u.path)
    return None


@dataclass(frozen=True)
class Event:
    at: datetime
    action: str  # allocated | reserved | released
    label: str
    what: str  # purpose, "host", or the reservation kind
    for_: str
    site: str
    by: str
    why: str

    def to_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "action": self.action, "space": self.label, "what": self.what,
                "for": self.for_, "site": self.site, "by": self.by, "why": self.why}


def history(book: Book, query: str | None = None) -> list[Event]:
    """Every allocation, reservation and release in ipam.yaml, oldest first; ``query`` keeps
    those overlapping a prefix/address or naming a thing (``for``) or a site."""
    net: IPv4Network | None = None
    if query:
        try:
            q = ip_network(query, strict=False) if "/" in query else ip_network(f"{ip_address(query)}/32")
            net = q if isinstance(q, IPv4Network) else None
        except ValueError:
            net = None

    def wanted(space: IPv4Network | None, lo_hi: tuple[int, int] | None, for_: str | None,
               site: str | None) -> bool:
        if not query:
            return True
        if net is not None and lo_hi is not None:
            return lo_hi[1] >= int(net.network_address) and lo_hi[0] <= int(net.broadcast_address)
        return query in (for_, site)

    out: list[Event] = []
    for a in book.allocations:
        sp = a.space()
        if wanted(sp, (int(sp.network_address), int(sp.broadcast_address)), a.for_, a.site):
            out.append(Event(a.at, "allocated", a.label, a.purpose or "host", a.for_ or "", a.site or "",
                             a.by, a.why))
    for r in book.reservations:
        lo, hi = r.bounds()
        if wanted(None, (int(lo), int(hi)), r.for_, r.site):
            out.append(Event(r.at, "reserved", r.label, r.kind, r.for_ or "", r.site or "", r.by, r.why))
    for x in book.released:
        space = x.prefix or (IPv4Network(f"{x.address}/32") if x.address else None)
        if space is not None:
            lo_hi = (int(space.network_address), int(space.broadcast_address))
        elif x.range:
            a_, b_ = x.range.split("-")
            lo_hi = (int(IPv4Address(a_)), int(IPv4Address(b_)))
        else:
            lo_hi = None
        if wanted(space, lo_hi, x.for_, x.site):
            what = x.purpose or x.kind or "host"
            verb = "allocated" if x.was == "allocation" else "reserved"
            out.append(Event(x.at, verb, x.label, what, x.for_ or "", x.site or "", x.by, x.why))
            out.append(Event(x.released_at, "released", x.label, what, x.for_ or "", x.site or "",
                             x.released_by, x.released_why))
    return sorted(out, key=lambda e: e.at)
