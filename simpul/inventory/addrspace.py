"""The address space of an inventory: every block and address in use, and every conflict.

Pure functions, shared by ``simpul inventory check`` (which reports conflicts) and ``simpul
ipam`` (which allocates around everything in use). A **use** is an inclusive range of IPv4
addresses with what holds it:

=================  ==========================================================  =============
kind               from                                                        holds hosts
=================  ==========================================================  =============
``site``           ``sites.<s>.lan``                                           yes
``link``           ``links.<l>.prefix``                                        yes
``allocation``     ``allocations[i]`` with a prefix (ipam.yaml)                yes, unless /32
``loopback``       ``devices.<d>.loopback``                                    no (a host)
``mgmt``           ``devices|servers.<h>.mgmt_ip``                             no (a host)
``server``         ``servers.<s>.address``                                     no (a host)
``interface``      ``devices.<d>.interfaces.<i>.address`` / ``secondary``       no (a host)
``host``           ``allocations[i]`` with an address (ipam.yaml)              no (a host)
``vip``            ``services.<s>.standby.vip`` (a moving service address)     no (a host)
``reservation``    ``reservations[i]`` (ipam.yaml)                             no
``plan-reserved``  ``plan.reserved[i]``                                        no
=================  ==========================================================  =============

Two uses that share an address **conflict** unless one holds hosts and the other is a host
(or a reservation) inside it — a server in its site LAN, a router's interface address in a
link or LAN, a DHCP pool in an OPD LAN — or a ``gateway`` reservation covers a router's
interface address, or an allocation is *realised*: the same prefix/address written in the
inventory by the thing it was allocated for (``allocations: - {prefix: P, for: desa-x}`` and
``sites.desa-x.lan: P``). :func:`conflicts` finds **every** overlapping pair with one sweep
over the uses sorted by start address (not only neighbours in sorted order: a large prefix
that covers several smaller ones conflicts with each of them).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from simpul.inventory.models import LAN_PURPOSES, Allocation, Inventory, Reservation
from simpul.inventory.source import KeyPath

HOST_KINDS = frozenset({"loopback", "mgmt", "server", "interface", "host", "vip"})


@dataclass(frozen=True, slots=True)
class Use:
    """One block, range or address in use, and who holds it."""

    first: int
    last: int
    kind: str
    name: str  # what holds it: site, link, device or server name; an allocation's ``for``
    path: KeyPath  # where it is written (key path into the inventory)
    label: str  # as written: 10.199.16.0/26, 10.199.64.11, 10.199.16.40-10.199.16.62
    container: bool = False  # may hold hosts and reservations
    ipam: bool = False  # an entry of ipam.yaml
    detail: str = ""  # reservation kind, allocation purpose, interface name

    @property
    def host(self) -> bool:
        return self.kind in HOST_KINDS

    @property
    def size(self) -> int:
        return self.last - self.first + 1

    @property
    def owner(self) -> str:
        """Who holds it, for messages: ``site dinkes``, ``server pd-web``, ``allocation for x``."""
        if self.kind == "mgmt":
            return f"{self.path[0][:-1]} {self.name}"  # type: ignore[index]
        if self.kind == "interface":
            return f"interface {self.name}:{self.detail}"
        if self.kind == "loopback":
            return f"loopback of {self.name}"
        if self.kind == "allocation":
            return f"allocation for {self.name}" + (f" ({self.detail})" if self.detail else "")
        if self.kind == "host":
            return f"host allocation for {self.name}"
        if self.kind == "reservation":
            return f"reservation ({self.detail})" + (f" for {self.name}" if self.name else "")
        if self.kind == "plan-reserved":
            return "plan.reserved"
        if self.kind == "vip":
            return f"the service address of {self.name}"
        return f"{self.kind} {self.name}"

    def contains(self, other: Use) -> bool:
        return self.first <= other.first and other.last <= self.last

    def network(self) -> IPv4Network | None:
        """The use as a CIDR network, or None for a range that is not one."""
        size = self.size
        if size & (size - 1) or self.first % size:
            return None
        return IPv4Network((self.first, 32 - (size.bit_length() - 1)))


def _net(kind: str, net: IPv4Network, name: str, path: KeyPath, *, container: bool,
         ipam: bool = False, detail: str = "") -> Use:
    return Use(int(net.network_address), int(net.broadcast_address), kind, name, path, str(net),
               container=container and net.prefixlen < 32, ipam=ipam, detail=detail)


def _addr(kind: str, addr: IPv4Address | IPv4Interface, name: str, path: KeyPath, *,
          ipam: bool = False, detail: str = "") -> Use:
    ip = addr.ip if isinstance(addr, IPv4Interface) else addr
    return Use(int(ip), int(ip), kind, name, path, str(ip), ipam=ipam, detail=detail)


def inventory_uses(inv: Inventory) -> list[Use]:
    """Everything the inventory itself writes down (not ipam.yaml): LANs, links, loopbacks,
    management and server addresses, router interface addresses, ``plan.reserved``."""
    out: list[Use] = []
    for name, site in inv.sites.items():
        if site.lan is not None:
            out.append(_net("site", site.lan, name, ("sites", name, "lan"), container=True))
    for name, link in inv.links.items():
        out.append(_net("link", link.prefix, name, ("links", name, "prefix"), container=True))
    for name, d in inv.devices.items():
        out.append(_addr("mgmt", d.mgmt_ip, name, ("devices", name, "mgmt_ip")))
        if d.loopback is not None:
            out.append(_addr("loopback", d.loopback, name, ("devices", name, "loopback")))
        for ifname, itf in d.interfaces.items():
            if itf.address is not None:
                out.append(_addr("interface", itf.address, name,
                                 ("devices", name, "interfaces", ifname, "address"), detail=ifname))
            for i, sec in enumerate(itf.secondary):
                out.append(_addr("interface", sec, name,
                                 ("devices", name, "interfaces", ifname, "secondary", i), detail=ifname))
    for name, s in inv.servers.items():
        out.append(_addr("mgmt", s.mgmt_ip, name, ("servers", name, "mgmt_ip")))
        if s.address is not None:
            out.append(_addr("server", s.address, name, ("servers", name, "address")))
    for name, svc in inv.services.items():
        # a service address that moves between servers (the DRC takeover's VIP, issue 14): read
        # defensively, the field belongs to the services schema of the DRC work
        vip = getattr(getattr(svc, "standby", None), "vip", None)
        if vip is not None:
            out.append(_addr("vip", vip, name, ("services", name, "standby", "vip")))
    for i, r in enumerate(inv.plan.reserved):
        out.append(_net("plan-reserved", r, "", ("plan", "reserved", i), container=False))
    return out


def allocation_use(a: Allocation, path: KeyPath) -> Use:
    name = a.for_ or ""
    if a.prefix is not None:
        return _net("allocation", a.prefix, name, path, ipam=True, detail=a.purpose or "",
                    container=a.purpose in LAN_PURPOSES or a.purpose in ("link", "management"))
    assert a.address is not None
    return _addr("host", a.address, name, path, ipam=True)


def reservation_use(r: Reservation, path: KeyPath) -> Use:
    lo, hi = r.bounds()
    return Use(int(lo), int(hi), "reservation", r.for_ or r.site or "", path, r.label, ipam=True,
               detail=r.kind)


def ipam_uses(allocations: Sequence[Allocation], reservations: Sequence[Reservation],
              alloc_index: Sequence[int] | None = None,
              resv_index: Sequence[int] | None = None) -> list[Use]:
    """The uses of ipam.yaml entries; ``*_index`` give each entry's position in the file (when
    invalid entries were left out), so messages point at the right line."""
    ai = alloc_index if alloc_index is not None else range(len(allocations))
    ri = resv_index if resv_index is not None else range(len(reservations))
    out = [allocation_use(a, ("allocations", i)) for a, i in zip(allocations, ai, strict=True)]
    out += [reservation_use(r, ("reservations", i)) for r, i in zip(reservations, ri, strict=True)]
    return out


def at_path(u: Use, path: KeyPath) -> Use:
    """The same use written at another place (a cached ipam.yaml entry at its current index)."""
    return Use(u.first, u.last, u.kind, u.name, path, u.label, u.container, u.ipam, u.detail)


def all_uses(inv: Inventory) -> list[Use]:
    return inventory_uses(inv) + ipam_uses(inv.allocations, inv.reservations)


# --- conflicts -------------------------------------------------------------------------------


def realised(a: Use, b: Use) -> bool:
    """An ipam.yaml allocation and the inventory entry it became (same space, same name)."""
    if a.first != b.first or a.last != b.last or a.ipam == b.ipam or a.name != b.name:
        return False
    alloc, other = (a, b) if a.ipam else (b, a)
    if alloc.kind == "allocation":
        return other.kind in ("site", "link", "loopback", "mgmt")
    return alloc.kind == "host" and other.kind in ("server", "interface", "mgmt", "loopback")


def compatible(a: Use, b: Use) -> bool:
    """May ``a`` and ``b`` (which share addresses) coexist? See the module docstring."""
    if realised(a, b):
        return True
    # (outer, inner) orders; both when the two cover the same addresses. A partial overlap is
    # always a conflict.
    nested = [(o, i) for o, i in ((a, b), (b, a)) if o.contains(i)]
    for outer, inner in nested:
        if outer.container and (inner.host or inner.kind == "reservation"):
            return True
        if outer.kind == "reservation" and outer.detail == "gateway" and inner.kind == "interface":
            return True
    return False


def conflicts(uses: Sequence[Use]) -> Iterator[tuple[Use, Use]]:
    """Every conflicting pair ``(earlier, later)`` in address order, each pair once.

    One sweep over the uses sorted by (first, -last), keeping the uses still "open" at the
    current address: O(n log n + pairs).
    """
    order = sorted(uses, key=lambda u: (u.first, -u.last))
    active: list[Use] = []
    for u in order:
        if active:
            active = [x for x in active if x.last >= u.first]
        for x in active:
            if not compatible(x, u):
                yield x, u
        active.append(u)


def describe(x: Use, u: Use) -> tuple[Use, str]:
    """Which use of a conflicting pair the problem is reported on, and the message (without
    the other's location). The ipam.yaml entry is the newcomer when only one of them is."""
    here, other = (x, u) if (x.ipam and not u.ipam) else (u, x)
    return here, message(here, other)


def message(here: Use, other: Use) -> str:
    """What is wrong with ``here`` given the conflicting ``other`` (without its location)."""
    if here.host and other.host and here.first == other.first:
        return f"{here.label} is already used by {other.owner}"
    if other.kind in ("reservation", "plan-reserved") and other.contains(here):
        return f"{here.label} lies in the reserved range {other.label} ({other.owner})"
    if here.kind in ("reservation", "plan-reserved") and here.contains(other):
        return f"reserved range {here.label} takes {other.label} of {other.owner}"
    same = here.first == other.first and here.last == other.last
    verb = "is the same prefix as" if same else "overlaps"
    return f"{here.label} {verb} {other.label} of {other.owner}"


# --- free space ------------------------------------------------------------------------------


def merge(intervals: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, merged inclusive intervals."""
    out: list[tuple[int, int]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1] + 1:
            if b > out[-1][1]:
                out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def free_ranges(space: IPv4Network, used: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The gaps of ``space`` not covered by ``used`` (inclusive intervals)."""
    lo, hi = int(space.network_address), int(space.broadcast_address)
    clipped = [(a if a >= lo else lo, b if b <= hi else hi) for a, b in used if b >= lo and a <= hi]
    out: list[tuple[int, int]] = []
    cur = lo
    for a, b in merge(clipped):
        if a > cur:
            out.append((cur, a - 1))
        cur = max(cur, b + 1)
    if cur <= hi:
        out.append((cur, hi))
    return out


def first_fit(free: Sequence[tuple[int, int]], prefixlen: int) -> IPv4Network | None:
    """The lowest block of ``/prefixlen`` aligned on its size that fits in a free gap."""
    size = 1 << (32 - prefixlen)
    for a, b in free:
        start = (a + size - 1) & ~(size - 1)
        if start + size - 1 <= b:
            return IPv4Network((start, prefixlen))
    return None


def largest_block(free: Sequence[tuple[int, int]]) -> IPv4Network | None:
    """The largest aligned CIDR block in the free gaps (the lowest one of that size)."""
    best: IPv4Network | None = None
    for a, b in free:
        cur = a
        while cur <= b:
            # the largest block starting at cur that is aligned and fits before b
            size = cur & -cur if cur else 1 << 32
            while cur + size - 1 > b:
                size >>= 1
            if best is None or size > best.num_addresses:
                best = IPv4Network((cur, 32 - (size.bit_length() - 1)))
            cur += size
    return best
