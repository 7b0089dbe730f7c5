"""Bring an existing IP plan in from CSV, and take Simpul's plan out as CSV.

NOC teams keep their plan in a spreadsheet, phpIPAM or NetBox. ``simpul ipam import FILE.csv``
reads three flavours (``--format auto`` tells them apart by their header row):

``spreadsheet``
    any sheet saved as CSV (comma or semicolon, Excel's BOM is fine) with a column for the
    space — ``prefix``, ``subnet``, ``network``, ``address``, ``ip``, ``range`` or Indonesian
    ``jaringan``/``alamat`` — and optionally ``description``/``keterangan``, ``site``/``lokasi``,
    ``purpose``/``peruntukan``, ``for``/``hostname``/``nama``, ``status``, ``vlan``. Simpul's own
    ``ipam export`` is one, so a plan round-trips.
``netbox``
    NetBox's CSV export of *IPAM → Prefixes* or *IP Addresses*, from the table view (``Prefix``,
    ``Status``, ``Site``/``Scope``, ``VLAN``, ``Description``; ``IP Address``, ``DNS Name``) or
    in the bulk-import field names (``prefix``, ``status``, ``address``, ``dns_name``, ...).
    Status ``reserved`` becomes a reservation, ``dhcp`` a DHCP reservation; ``container`` and
    ``deprecated`` rows are skipped (said so).
``phpipam``
    phpIPAM's Subnets or IP Addresses export saved as CSV (``Section``, ``Subnet``,
    ``IP Address``, ``Hostname``, ``Description``, ``VLAN``, ``Tag``/``ip state``, ``Gateway``)
    or its import template (``section,ip,hostname,description,vrf,subnet,mask,...``). Folders
    are skipped; tag ``Reserved`` / ``DHCP`` become reservations, ``Gateway: Yes`` a gateway
    reservation.

Every row is checked against the plan like an allocation: in a supernet, not overlapping
anything held by someone else (an identical block already in the plan is "present", not a
conflict). The dry run lists each conflict with its row number and the existing owner.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import Any

from simpul.errors import UsageError
from simpul.inventory.addrspace import Use, allocation_use, compatible, message, reservation_use
from simpul.inventory.models import LAN_PURPOSES, Allocation, Reservation

from .ipam import Book, now, resolve_purpose, who

FLAVOURS = ("auto", "spreadsheet", "netbox", "phpipam")
SUPERNET_PURPOSE = {"opd_lan": "opd-lan", "desa_lan": "desa-lan", "links": "link", "loopbacks": "loopback",
                    "servers": "server-lan", "drc": "drc-lan", "management": "management"}

# normalised header -> field, per flavour (normalised = lower case, spaces/underscores/dashes -> " ")
SPREADSHEET_COLS = {
    "prefix": "space", "subnet": "space", "network": "space", "jaringan": "space", "blok": "space",
    "address": "space", "ip": "space", "ip address": "space", "alamat": "space", "alamat ip": "space",
    "range": "space", "space": "space",
    "description": "description", "keterangan": "description", "deskripsi": "description",
    "catatan": "description", "why": "description", "notes": "description",
    "site": "site", "lokasi": "site", "location": "site", "opd": "site",
    "purpose": "purpose", "peruntukan": "purpose", "purpose/kind": "purpose",
    "for": "for", "untuk": "for", "hostname": "for", "host": "for", "nama": "for", "name": "for",
    "status": "status", "kind": "status", "vlan": "vlan",
}
NETBOX_COLS = {
    "prefix": "space", "ip address": "space", "address": "space",
    "status": "status", "site": "site", "scope": "site", "vlan": "vlan", "role": "role",
    "description": "description", "dns name": "for", "tenant": "tenant",
}
PHPIPAM_COLS = {
    "subnet": "subnet", "ip address": "space", "ip": "space", "ip addr": "space", "mask": "mask",
    "hostname": "for", "dns name": "for", "description": "description", "vlan": "vlan",
    "tag": "status", "ip state": "status", "state": "status", "gateway": "gateway", "section": "section",
    "owner": "owner", "note": "note",
}


def _norm(h: str) -> str:
    return re.sub(r"[\s_\-]+", " ", h.strip().lower())


def _cell(v: str | None) -> str:
    s = (v or "").strip()
    if len(s) > 1 and s[0] == "'" and s[1] in "=+@-":
        s = s[1:]  # our own CSV-injection guard (see export_csv)
    return s


@dataclass
class Row:
    """One CSV row, as understood."""

    row: int  # line number in the file (the header is line 1)
    raw: str  # the space as written
    action: str = ""  # allocate | reserve | present | skip | conflict
    space: str = ""  # normalised: prefix, address or range
    purpose: str | None = None
    kind: str | None = None  # reservation kind
    for_: str = ""
    site: str | None = None
    description: str = ""
    detail: str = ""  # why skipped / the conflict / what it is already
    entry: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row, "space": self.space or self.raw, "action": self.action,
                "purpose": self.purpose, "kind": self.kind, "for": self.for_, "site": self.site,
                "detail": self.detail}


@dataclass
class ImportPlan:
    flavour: str
    rows: list[Row]

    @property
    def conflicts(self) -> list[Row]:
        return [r for r in self.rows if r.action == "conflict"]

    @property
    def to_add(self) -> list[Row]:
        return [r for r in self.rows if r.action in ("allocate", "reserve")]


def detect(headers: Sequence[str]) -> str:
    """The flavour a header row belongs to."""
    h = {_norm(x) for x in headers}
    if "section" in h or {"ip state", "hostname"} <= h or {"subnet", "mask"} <= h:
        return "phpipam"
    if ("prefix" in h or "ip address" in h or "address" in h) and (
            h & {"status", "vrf", "tenant", "scope", "dns name", "assigned", "role", "utilization"}):
        return "netbox"
    if any(_norm(x) in SPREADSHEET_COLS and SPREADSHEET_COLS[_norm(x)] == "space" for x in headers):
        return "spreadsheet"
    raise UsageError(f"cannot tell what kind of CSV this is (columns: {', '.join(headers)[:200]})",
                     hint="it needs a prefix/subnet/address column; or give --format "
                          "spreadsheet|netbox|phpipam")


def read_csv(text: str, flavour: str = "auto") -> tuple[str, list[tuple[int, dict[str, str]]]]:
    """(flavour, [(line number, {field: value})]) with the flavour's columns mapped to fields."""
    text = text.lstrip("\ufeff")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise UsageError("the CSV file is empty")
    try:
        dialect: Any = csv.Sniffer().sniff(lines[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    rows = list(reader)
    header_i = next(i for i, r in enumerate(rows) if any(c.strip() for c in r))
    headers = rows[header_i]
    fl = detect(headers) if flavour == "auto" else flavour
    cols = {"spreadsheet": SPREADSHEET_COLS, "netbox": NETBOX_COLS, "phpipam": PHPIPAM_COLS}[fl]
    mapping = {i: cols[_norm(h)] for i, h in enumerate(headers) if _norm(h) in cols}
    if "space" not in mapping.values() and "subnet" not in mapping.values():
        raise UsageError(f"no prefix/address column found for the {fl} format "
                         f"(columns: {', '.join(headers)[:200]})")
    out = []
    # csv's line_num counts physical lines; keep the file's line numbers for the messages
    reader = csv.reader(io.StringIO(text), dialect)
    for rec in reader:
        if reader.line_num <= header_i + 1 or not any(c.strip() for c in rec):
            continue
        fields: dict[str, str] = {}
        for i, v in enumerate(rec):
            f = mapping.get(i)
            if f and _cell(v) and f not in fields:
                fields[f] = _cell(v)
        out.append((reader.line_num, fields))
    return fl, out


# --- understanding a row ------------------------------------------------------------------------


def _space(value: str) -> tuple[str, IPv4Network | IPv4Address | tuple[IPv4Address, IPv4Address]]:
    """Prefix (``10.1.2.0/24``), address (``10.1.2.3``, or ``10.1.2.3/24`` as NetBox writes it)
    or range (``10.1.2.10-10.1.2.20``)."""
    v = value.strip()
    if "-" in v and "/" not in v:
        a, b = (IPv4Address(x.strip()) for x in v.split("-", 1))
        if a > b:
            raise ValueError("first address after the last")
        return "range", (a, b)
    if "/" in v:
        itf = IPv4Interface(v)
        if itf.ip == itf.network.network_address and itf.network.prefixlen < 31:
            return "prefix", itf.network
        return "address", itf.ip  # an address with its mask (NetBox IP addresses)
    return "address", IPv4Address(v)


def _status(flavour: str, f: dict[str, str]) -> tuple[str, str | None, str]:
    """(action, reservation kind, skip reason) from the status/tag/gateway columns."""
    st = _norm(f.get("status", ""))
    if flavour == "phpipam" and _norm(f.get("gateway", "")) in ("yes", "ya", "1", "true"):
        return "reserve", "gateway", ""
    if st in ("container",):
        return "skip", None, "a container (supernet) in NetBox, not an allocation"
    if st in ("deprecated",):
        return "skip", None, "deprecated"
    if st in ("reserved", "dicadangkan", "keep free", "keep-free"):
        return "reserve", "keep-free", ""
    if st in ("dhcp", "dhcp pool"):
        return "reserve", "dhcp", ""
    if st in ("gateway",):
        return "reserve", "gateway", ""
    return "allocate", None, ""


def _site(book: Book, name: str | None) -> str | None:
    """An inventory site for what the CSV calls the site (its key or official name)."""
    if not name:
        return None
    n = name.strip()
    if n in book.inv.sites:
        return n
    low = n.lower()
    for key, s in book.inv.sites.items():
        if key.lower() == low or s.name.lower() == low:
            return key
    return None


def understand(book: Book, flavour: str, line: int, f: dict[str, str], source: str) -> Row:
    """One row -> what importing it would do (without checking it against the plan yet)."""
    raw = f.get("space") or ""
    if flavour == "phpipam" and not raw:
        sub = f.get("subnet", "")
        if "(folder)" in sub or "[folder]" in sub:
            return Row(line, sub, "skip", detail="a phpIPAM folder, not a subnet")
        raw = sub if "/" in sub or not f.get("mask") else f"{sub}/{f['mask']}"
    r = Row(line, raw, description=f.get("description", ""))
    if not raw:
        r.action, r.detail = "conflict", "no prefix or address in this row"
        return r
    try:
        what, val = _space(raw)
    except ValueError:
        r.action, r.detail = "conflict", f"'{raw}' is not an IPv4 prefix, address or range"
        return r
    action, kind, skip = _status(flavour, f)
    if flavour == "spreadsheet" and not f.get("status") and what == "range":
        # a sheet without a status column: a range described as a DHCP pool or gateways
        desc = r.description.lower()
        kind = "dhcp" if "dhcp" in desc else "gateway" if "gateway" in desc else None
    if action == "skip":
        r.action, r.detail, r.space = "skip", skip, raw
        return r
    purpose_raw = f.get("purpose", "")
    purpose: str | None = None
    if _norm(purpose_raw).startswith("reserved"):  # Simpul's export: "reserved: dhcp"
        action = "reserve"
        k = purpose_raw.split(":", 1)[1].strip() if ":" in purpose_raw else ""
        kind = k if k in ("dhcp", "gateway", "keep-free") else kind or "keep-free"
    elif purpose_raw and not _norm(purpose_raw).startswith("host"):
        try:
            purpose = resolve_purpose(purpose_raw)
        except UsageError:
            r.action, r.detail = "conflict", f"unknown purpose '{purpose_raw}'"
            return r
    r.site = _site(book, f.get("site"))
    site_note = (f"site '{f['site']}' is not in the inventory; imported without a site"
                 if f.get("site") and r.site is None else "")
    r.for_ = (f.get("for") or f.get("site") or r.description or f.get("vlan") or raw)[:100]
    why = f"imported from {source} row {line}" + (f": {r.description}" if r.description else "")
    base: dict[str, Any] = {"for": r.for_, "site": r.site, "by": who(), "at": now(), "why": why[:300]}
    if what == "address" and action == "allocate" and purpose is None:
        # an address in the loopback or management supernet is a /32 block of it, not a host
        ip = val
        assert isinstance(ip, IPv4Address)
        sup = next((k for k, n in book.inv.plan.supernets.items() if ip in n), None)
        if sup in ("loopbacks", "management"):
            purpose = SUPERNET_PURPOSE[sup]
    if what == "address" and action == "allocate" and purpose is not None:
        what, val = "prefix", IPv4Network(f"{val}/32")
    if what == "range" or action == "reserve":
        r.action, r.kind = "reserve", kind or "keep-free"
        if what == "range":
            lo, hi = val  # type: ignore[misc]
            r.space = f"{lo}-{hi}"
            r.entry = {"range": r.space, "kind": r.kind, **base}
        elif what == "prefix":
            r.space = str(val)
            r.entry = {"prefix": r.space, "kind": r.kind, **base}
        else:
            r.space = str(val)
            r.entry = {"address": r.space, "kind": r.kind, **base}
    elif what == "prefix":
        net = val
        assert isinstance(net, IPv4Network)
        r.action, r.space = "allocate", str(net)
        if purpose is None:
            sup = next((k for k, n in book.inv.plan.supernets.items() if net.subnet_of(n)), None)
            purpose = SUPERNET_PURPOSE.get(sup or "")
        r.purpose = purpose
        if r.purpose is None:
            r.action, r.detail = "conflict", f"{net} is not inside any supernet of the address plan"
            return r
        r.entry = {"prefix": r.space, "purpose": r.purpose, **base}
    else:
        r.action, r.space = "allocate", str(val)
        r.entry = {"address": r.space, **base}
    if r.site is not None and ("address" in r.entry or r.action == "reserve"):
        # a host address or a reservation at a site must be inside that site's LAN
        lan = book.inv.sites[r.site].lan
        lo, hi = _bounds(r.space)
        if lan is None or not (lo in lan and hi in lan):
            site_note = f"not in the LAN of site {r.site}; imported without a site"
            r.site = None
            r.entry["site"] = None
    r.detail = site_note
    return r


def _bounds(space: str) -> tuple[IPv4Address, IPv4Address]:
    if "-" in space:
        a, b = space.split("-")
        return IPv4Address(a), IPv4Address(b)
    net = IPv4Network(space if "/" in space else f"{space}/32")
    return net.network_address, net.broadcast_address


def _use_of(r: Row, index: int) -> Use:
    if r.action == "reserve":
        return reservation_use(Reservation.model_validate(r.entry), ("import", index))
    return allocation_use(Allocation.model_validate(r.entry), ("import", index))


def plan_import(book: Book, text: str, *, flavour: str = "auto", source: str = "FILE") -> ImportPlan:
    """What importing ``text`` would do: each row allocated, reserved, present, skipped, or in
    conflict (with the existing owner and where it is written). Blocks are placed before host
    addresses, so the addresses of a subnet imported in the same file land inside it."""
    fl, records = read_csv(text, flavour)
    rows = [understand(book, fl, line, f, source) for line, f in records]
    accepted: list[Use] = []
    lans = [u for u in book.uses() if u.container and (u.kind == "site" or u.detail in LAN_PURPOSES)]
    order = sorted(range(len(rows)), key=lambda i: (rows[i].action != "allocate"
                                                    or "prefix" not in rows[i].entry, i))
    for i in order:
        r = rows[i]
        if r.action not in ("allocate", "reserve"):
            continue
        try:
            new = _use_of(r, i)
        except ValueError as e:
            r.action, r.detail = "conflict", str(e).splitlines()[-1][:200]
            continue
        if new.kind == "allocation" and not any(
                new.first >= u.first and new.last <= u.last for u in _supernet_uses(book)):
            r.action, r.detail = "conflict", f"{r.space} is not inside any supernet of the address plan"
            continue
        if new.kind == "host" and not any(u.first <= new.first <= u.last for u in lans):
            r.action, r.detail = "conflict", (f"{r.space} is in no LAN of the plan (import or allocate "
                                              "its subnet first)")
            continue
        present, conflict = _against(book, new, accepted)
        if conflict:
            r.action, r.detail = "conflict", conflict
        elif present:
            r.action, r.detail = "present", present
        else:
            accepted.append(new)
            if new.container and new.detail in LAN_PURPOSES:
                lans.append(new)
    return ImportPlan(fl, rows)


def _supernet_uses(book: Book) -> list[Use]:
    return [Use(int(n.network_address), int(n.broadcast_address), "supernet", k, ("plan", k), str(n))
            for k, n in book.inv.plan.supernets.items()]


def _against(book: Book, new: Use, accepted: list[Use]) -> tuple[str, str]:
    """("already ...", "") when identical to what the plan holds, ("", conflict) when it
    clashes, ("", "") when it can be added."""
    for u in book.between(new.first, new.last) + [a for a in accepted
                                                  if a.last >= new.first and a.first <= new.last]:
        same = u.first == new.first and u.last == new.last
        # the same block is the same LAN or link whatever the file calls it; an address or a
        # reservation is the same only when it is for the same thing
        if same and ((new.kind == "allocation" and u.kind in ("site", "link", "allocation"))
                     or u.name == new.name
                     or (new.kind == "reservation" and u.kind == "plan-reserved")
                     or (u.kind == new.kind == "reservation" and u.detail == new.detail)):
            where = book.where(u) if u.path[0] != "import" else f"row {_row_of(u)} of this file"
            return f"already in the plan: {u.owner} ({where})", ""
        if not compatible(u, new):
            msg = message(new, u)
            where = f"row {_row_of(u)} of this file" if u.path[0] == "import" else book.where(u)
            return "", f"{msg} ({where})"
    return "", ""


def _row_of(u: Use) -> str:
    return str(u.path[1])


# --- export ---------------------------------------------------------------------------------------

EXPORT_COLUMNS = ["space", "status", "purpose", "for", "site", "by", "at", "why", "written at"]


def export_rows(book: Book) -> list[dict[str, str]]:
    """Everything the plan holds, one row per block/address/range, in address order."""
    inv = book.inv
    site_purpose = {"opd": "opd-lan", "desa": "desa-lan", "kelurahan": "kelurahan-lan",
                    "pusat-data": "server-lan", "drc": "drc-lan", "noc": "management"}
    allocs = {id(u): a for u, a in zip(book.uses()[len(book.base):], book.allocations, strict=False)}
    resv = {id(u): r for u, r in zip(book.uses()[len(book.base) + len(book.allocations):],
                                     book.reservations, strict=False)}
    out = []
    for u in sorted(book.uses(), key=lambda u: (u.first, -u.last)):
        entry: Any = allocs.get(id(u)) or resv.get(id(u))
        if u.kind == "site":
            purpose = site_purpose.get(inv.sites[u.name].type, "") if u.name in inv.sites else ""
        elif u.kind in ("allocation",):
            purpose = u.detail
        elif u.kind == "reservation":
            purpose = f"reserved: {u.detail}"
        else:
            purpose = {"link": "link", "loopback": "loopback", "mgmt": "management", "server": "host",
                       "interface": "host (router)", "host": "host", "plan-reserved": "reserved",
                       "service": "host (service)",
                       "vip": "host (service address)"}.get(u.kind, u.kind)
        status = ("allocated" if u.kind in ("allocation", "host") else
                  "reserved" if u.kind in ("reservation", "plan-reserved") else "in use")
        site = (entry.site if entry is not None else
                u.name if u.kind == "site" else _host_site(book, u))
        out.append({"space": u.label, "status": status, "purpose": purpose,
                    "for": u.name if u.kind != "plan-reserved" else "",
                    "site": site or "", "by": entry.by if entry is not None else "",
                    "at": entry.at.strftime("%Y-%m-%dT%H:%M:%SZ") if entry is not None else "",
                    "why": entry.why if entry is not None else "", "written at": book.where(u)})
    return out


def _host_site(book: Book, u: Use) -> str:
    inv = book.inv
    if u.kind in ("mgmt", "loopback", "interface") and u.name in inv.devices:
        return inv.devices[u.name].site
    if u.kind in ("mgmt", "server") and u.name in inv.servers:
        return inv.servers[u.name].site
    return ""


def export_csv(book: Book) -> str:
    """:func:`export_rows` as CSV. Cells that a spreadsheet would run as a formula (starting
    with ``=``, ``+``, ``@`` or ``-``) get a leading ``'`` (CSV injection); import strips it."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, EXPORT_COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in export_rows(book):
        w.writerow({k: ("'" + v if v[:1] in ("=", "+", "@", "-") else v) for k, v in r.items()})
    return buf.getvalue()
