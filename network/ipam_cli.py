"""``simpul ipam``: allocate, reserve, release and reconcile Jaringan Intra addresses.

Plan first: ``allocate``, ``reserve``, ``release`` and ``import`` show what they would do and
exit 6 (a change is pending); ``--apply`` records it in the inventory's ``ipam.yaml`` under a
lock (:mod:`simpul.network.ipam_store`) and in the operations log. Dinkominfo's IP numbering
authority: Perbup Temanggung 83/2021 Pasal 21; LAN changes reported: Pasal 22.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from simpul.context import AppContext, pass_app
from simpul.errors import ExitCode, SimpulError, UsageError
from simpul.inventory import load_inventory
from simpul.inventory.addrspace import inventory_uses
from simpul.inventory.ipamfile import IPAM_FILE
from simpul.inventory.models import Allocation
from simpul.output import print_json, stdout, table

from .ipam import (
    REFS,
    WARN_AT,
    Book,
    Proposal,
    find_entry,
    history,
    lan_detail,
    parse_size,
    plan_block,
    plan_host,
    released_entry,
    resolve_purpose,
    still_written,
    utilisation,
)
from .ipam_csv import FLAVOURS, ImportPlan, export_csv, export_rows, plan_import
from .ipam_store import IpamStore, Transaction

# The inventory minus ipam.yaml, validated once per process and reused while its files are
# unchanged: a script that allocates in a loop (or `simpul.cli.main` called repeatedly) pays the
# full inventory check once, and ipam.yaml itself is always re-read under the lock.
_BASE: dict[Path, tuple[tuple[Any, ...], Book]] = {}


def _signature(directory: Path) -> tuple[Any, ...]:
    sig = []
    for p in sorted(directory.rglob("*.y*ml")):
        if p.parent == directory and p.name == IPAM_FILE:
            continue
        st = p.stat()
        sig.append((str(p), st.st_mtime_ns, st.st_size, st.st_ino))
    return tuple(sig)


def base_book(directory: Path) -> Book:
    """The validated inventory of ``directory`` as a :class:`Book` (cached, see above)."""
    key = directory.resolve()
    sig = _signature(key)
    hit = _BASE.get(key)
    if hit is not None and hit[0] == sig:
        return hit[1]
    inv = load_inventory(directory)
    book = Book.from_inventory(inv, inventory_uses(inv))
    _BASE[key] = (sig, book)
    return book


def _store(app: AppContext) -> IpamStore:
    return IpamStore(app.inventory_dir)


def _fresh(app: AppContext) -> Book:
    """The book with ipam.yaml read now (no lock: for plans and read-only commands)."""
    return _store(app).read().book(base_book(app.inventory_dir))


@contextmanager
def _locked(app: AppContext) -> Iterator[Transaction]:
    """A transaction on ipam.yaml; first logs what an interrupted earlier run could not."""
    with _store(app).transaction() as tx:
        if tx.interrupted:
            seen = {(r.get("params") or {}).get("txn") for r in app.oplog.records()
                    if str(r.get("action", "")).startswith("ipam.")}
            for rec in tx.interrupted:
                if rec.get("txn") not in seen:
                    app.record(str(rec["action"]), str(rec["target"]), "ok", refs=REFS, params={
                        **rec.get("params", {}),
                        "recovered": "logged by the next 'simpul ipam' run: the run that made this "
                                     "change was interrupted before it could log it"})
            tx.recovered()
        yield tx


def _commit(app: AppContext, tx: Transaction, action: str, target: str, params: dict[str, Any]) -> None:
    """Write ipam.yaml and log the change (still under the lock)."""
    txn = tx.commit(action, target, params)
    app.record(action, target, "ok", refs=REFS, params={**params, "txn": txn})
    tx.logged()


def _need_why(apply: bool, why: str | None) -> str:
    if apply and not (why and why.strip()):
        raise UsageError("--why is required with --apply: say why (the request, letter or ticket); it is "
                         "kept with the entry in ipam.yaml")
    return (why or "").strip()


@click.group()
def ipam() -> None:
    """Allocate, reserve, release and reconcile Jaringan Intra addresses (ipam.yaml).

    \b
    Examples:
      simpul ipam show
      simpul ipam allocate --purpose desa-lan --for desa-ngadimulyo
      simpul ipam allocate --purpose desa-lan --for desa-ngadimulyo --why "SK 12/2026" --apply
      simpul ipam allocate --in pusat-data --for pd-web-2 --why "second web server" --apply
      simpul ipam reconcile
    """


# --- show ------------------------------------------------------------------------------------


@ipam.command()
@click.option("--purpose", "purpose", help="Only this purpose's supernet (desa-lan, link, ...).")
@click.option("--site", help="One site's LAN: every address, who holds it, the next free one.")
@click.option("--warn-at", type=click.FloatRange(0, 100), default=WARN_AT, show_default=True,
              help="Warn when a supernet is used above this percentage.")
@pass_app
def show(app: AppContext, purpose: str | None, site: str | None, warn_at: float) -> int:
    """Utilisation of every supernet of the plan (or one site's LAN).

    Used = blocks and addresses allocated or written in the inventory; reserved = plan.reserved
    and reservations. Exit 0; a supernet above --warn-at is flagged, not failed.

    \b
    Examples:
      simpul ipam show
      simpul ipam show --purpose desa-lan
      simpul ipam show --site dinkes
      simpul --json ipam show
    """
    book = _fresh(app)
    if site:
        d = lan_detail(book, site)
        if app.json:
            print_json(d)
            return int(ExitCode.OK)
        table(f"LAN of {d['name']}: {d['lan']}",
              ["address", "what", "held by", "written at"],
              [[r["address"], r["kind"], r["owner"], r["where"]] for r in d["entries"]])
        gw = ", ".join(d["gateways"]) or "none declared"
        stdout.print(f"{d['taken']} of {d['hosts']} host addresses in use or reserved, {d['free']} free; "
                     f"gateway: {gw}; next free: {d['next_free'] or 'none'}")
        for n in d["notes"]:
            stdout.print(f"  note: {n}")
        return int(ExitCode.OK)
    purposes = None
    if purpose:
        from simpul.inventory.models import IPAM_PURPOSES

        purposes = [IPAM_PURPOSES[resolve_purpose(purpose)][0]]
    rows = utilisation(book, purposes)
    if app.json:
        print_json({"inventory": str(app.inventory_dir), "warn_at": warn_at,
                    "supernets": [r.to_dict(warn_at) for r in rows]})
        return int(ExitCode.OK)
    table(f"address plan of {app.inventory_dir}",
          ["purpose", "supernet", "addresses", "used", "reserved", "free", "use %", "largest free",
           "next free"],
          [[r.purpose + (" (h)" if r.level == "hosts" else ""), r.supernet, r.size, r.used, r.reserved, r.free,
            f"{r.percent:.1f}" + (" !" if r.percent >= warn_at else ""),
            r.largest_free or "-", r.next_free or "-"] for r in rows])
    for r in rows:
        if r.percent >= warn_at:
            stdout.print(f"warning: {r.purpose} {r.supernet} is {r.percent:.1f} % used (over {warn_at:g} %); "
                         f"largest free block {r.largest_free or 'none'}")
    if any(r.level == "hosts" for r in rows):
        stdout.print("h = a supernet that is one LAN, counted by address (network, broadcast and "
                     "gateway counted as reserved)")
    stdout.print(f"{len(book.allocations)} allocation(s) and {len(book.reservations)} reservation(s) in "
                 f"{app.inventory_dir}/{IPAM_FILE}")
    return int(ExitCode.OK)


# --- allocate --------------------------------------------------------------------------------


def _plan(book: Book, purpose: str | None, in_: str | None, for_: str, size: str | None,
          site: str | None) -> Proposal:
    if (purpose is None) == (in_ is None):
        raise UsageError("give --purpose PURPOSE (a block from the plan) or --in SITE (a host address "
                         "inside that site's LAN)")
    if in_ is not None:
        if size is not None:
            raise UsageError("--size is for blocks (--purpose); a host address is one address")
        return plan_host(book, in_, for_)
    assert purpose is not None
    return plan_block(book, purpose, for_, size=parse_size(size), site=site)


@ipam.command()
@click.option("--purpose", help="opd-lan, desa-lan, kelurahan-lan, link, loopback, server-lan, drc-lan, "
              "management.")
@click.option("--in", "in_", metavar="SITE", help="A host address inside this site's LAN (or an "
              "allocated LAN: its name or prefix).")
@click.option("--for", "for_", required=True, help="What it is for: a site, router, server or link "
              "name (existing or planned).")
@click.option("--size", help="Prefix length, e.g. /27 (default: plan.sizes for the purpose).")
@click.option("--site", help="The existing site the block belongs to (optional).")
@click.option("--why", help="Why (request, letter, ticket); required with --apply.")
@click.option("--apply", "apply", is_flag=True, help="Record the allocation (default: only show it).")
@pass_app
def allocate(app: AppContext, purpose: str | None, in_: str | None, for_: str, size: str | None,
             site: str | None, why: str | None, apply: bool) -> int:
    """Take the lowest free block of a purpose (or a host address in a LAN).

    Blocks come from the purpose's supernet, aligned on their size, of the size plan.sizes
    gives (or --size). Host addresses skip the network and broadcast addresses, the router
    (gateway) addresses and reserved ranges. Without --apply nothing is recorded (exit 6 = an
    allocation is pending; 0 = FOR already has one). With --apply the choice is made again
    under the lock and written to ipam.yaml: concurrent runs never get the same block.

    \b
    Examples:
      simpul ipam allocate --purpose desa-lan --for desa-ngadimulyo
      simpul ipam allocate --purpose link --for kemloko-ngadimulyo --why "radio link" --apply
      simpul ipam allocate --purpose loopback --for r-ngadimulyo --why "new router" --apply
      simpul ipam allocate --in pusat-data --for pd-web-2 --why "second web server" --apply
    """
    why_text = _need_why(apply, why)
    if not apply:
        prop = _plan(_fresh(app), purpose, in_, for_, size, site)
        return _report_allocation(app, prop, applied=False)
    base = base_book(app.inventory_dir)
    with _locked(app) as tx:
        prop = _plan(tx.book(base), purpose, in_, for_, size, site)
        if prop.existing:
            return _report_allocation(app, prop, applied=False)
        tx.add("allocations", prop.entry(why_text))
        _commit(app, tx, "ipam.allocate", prop.label, {
            "purpose": prop.purpose or "host", "for": for_, "site": prop.site, "from": str(prop.within),
            "why": why_text, "file": str(tx.store.path)})
    return _report_allocation(app, prop, applied=True)


def _report_allocation(app: AppContext, prop: Proposal, *, applied: bool) -> int:
    what = prop.purpose or "host address"
    if app.json:
        print_json({"action": "allocate", "applied": applied, **prop.to_dict()})
    elif prop.existing:
        click.echo(f"{prop.for_} already has {what} {prop.label} ({prop.existing}); nothing to do")
    else:
        verb = "allocated" if applied else "would allocate"
        click.echo(f"{verb} {what} {prop.label} for {prop.for_} (from {prop.within_name} {prop.within})")
        for n in prop.notes:
            click.echo(f"  note: {n}")
        if applied:
            click.echo(f"  recorded in {app.inventory_dir}/{IPAM_FILE} and the operations log; "
                       f"{_next_step(prop)}")
        else:
            click.echo("  plan only: nothing recorded; add --apply --why \"...\" to record it")
    if prop.existing:
        return int(ExitCode.OK)
    return int(ExitCode.OK if applied else ExitCode.DRIFT)


def _next_step(p: Proposal) -> str:
    if p.kind == "host":
        return f"next: write it as the host's address (servers.{p.for_}.address: {p.label})"
    hint = {"desa-lan": "sites.{f}.lan", "opd-lan": "sites.{f}.lan", "kelurahan-lan": "sites.{f}.lan",
            "link": "links.{f}.prefix", "loopback": "devices.{f}.loopback",
            "management": "devices.{f}.mgmt_ip"}.get(p.purpose or "")
    if hint is None:
        return "next: use it in the inventory"
    value = p.label.removesuffix("/32") if p.purpose in ("loopback", "management") else p.label
    return f"next: write it in the inventory ({hint.format(f=p.for_)}: {value})"


# --- reserve / release ---------------------------------------------------------------------------


@ipam.command()
@click.argument("space", metavar="PREFIX|ADDRESS|FIRST-LAST")
@click.option("--kind", type=click.Choice(["dhcp", "gateway", "keep-free"]), required=True,
              help="A DHCP pool, gateway (router/VRRP) addresses, or a range kept free.")
@click.option("--site", help="The site whose LAN holds it.")
@click.option("--for", "for_", help="What it is for (optional).")
@click.option("--why", help="Why; required with --apply.")
@click.option("--apply", "apply", is_flag=True, help="Record the reservation (default: only check it).")
@pass_app
def reserve(app: AppContext, space: str, kind: str, site: str | None, for_: str | None, why: str | None,
            apply: bool) -> int:
    """Keep addresses out of allocation: DHCP pools, gateways, ranges kept free.

    The reservation is checked like everything else (inside the plan, inside the site's LAN,
    not over anything in use). Exit 6 without --apply (pending), 0 recorded.

    \b
    Examples:
      simpul ipam reserve 10.199.16.40-10.199.16.62 --kind dhcp --site dinkes --why "DHCP pool"
      simpul ipam reserve 10.199.47.0/24 --kind keep-free --why "growth of the OPD LANs" --apply
    """
    why_text = _need_why(apply, why)
    entry: dict[str, Any] = {"kind": kind, "for": for_, "site": site, "by": None, "at": None,
                             "why": why_text or "(plan)"}
    if "-" in space:
        entry["range"] = space
    elif "/" in space:
        entry["prefix"] = space
    else:
        entry["address"] = space
    from .ipam import now, who

    entry.update(by=who(), at=now())
    base = base_book(app.inventory_dir)

    def check(book: Book) -> Any:
        from pydantic import ValidationError

        from simpul.inventory.models import Reservation

        try:
            r = Reservation.model_validate(entry)
        except ValidationError as e:
            raise UsageError(f"{space}: {e.errors(include_url=False)[0]['msg'].removeprefix('Value error, ')}") from None
        _check_new(book, r, site)
        return r

    if not apply:
        r = check(_fresh(app))
        _say(app, {"action": "reserve", "applied": False, "space": r.label, "kind": kind, "site": site},
             f"would reserve {r.label} ({kind}){' in site ' + site if site else ''}; add --apply --why \"...\"")
        return int(ExitCode.DRIFT)
    with _locked(app) as tx:
        r = check(tx.book(base))
        tx.add("reservations", entry)
        _commit(app, tx, "ipam.reserve", r.label,
                {"kind": kind, "site": site, "for": for_, "why": why_text})
    _say(app, {"action": "reserve", "applied": True, "space": r.label, "kind": kind, "site": site},
         f"reserved {r.label} ({kind}); recorded in {tx.store.path}")
    return int(ExitCode.OK)


def _check_new(book: Book, r: Any, site: str | None) -> None:
    """A new reservation must not take anything in use (same rules as inventory check)."""
    from simpul.inventory.addrspace import compatible, message, reservation_use

    inv = book.inv
    if site is not None:
        s = inv.sites.get(site)
        if s is None:
            raise UsageError(f"--site {site}: unknown site")
        lo, hi = r.bounds()
        if s.lan is None or lo not in s.lan or hi not in s.lan:
            raise UsageError(f"{r.label} is not in the LAN of site {site} ({s.lan or 'none'})")
    lo, hi = r.bounds()
    if not any(lo in n and hi in n for n in inv.plan.supernets.values()):
        raise UsageError(f"{r.label} is not inside any supernet of the address plan")
    new = reservation_use(r, ("reservations", -1))
    for u in book.between(new.first, new.last):
        if not compatible(u, new):
            msg = message(new, u)
            raise UsageError(f"cannot reserve: {msg} ({book.where(u)})")


def _say(app: AppContext, data: dict[str, Any], text: str) -> None:
    if app.json:
        print_json(data)
    else:
        click.echo(text)


@ipam.command()
@click.argument("target", metavar="PREFIX|ADDRESS|RANGE|NAME")
@click.option("--why", help="Why it is given back; required with --apply.")
@click.option("--apply", "apply", is_flag=True, help="Release it (default: only show what would go).")
@pass_app
def release(app: AppContext, target: str, why: str | None, apply: bool) -> int:
    """Give back an allocation or reservation; the entry moves to the history (released:).

    Space written in sites/devices/links/servers stays in use until it is removed there.
    Exit 6 without --apply (pending), 0 released.

    \b
    Examples:
      simpul ipam release 10.199.32.64/28
      simpul ipam release desa-ngadimulyo --why "desa merged with Kemloko" --apply
    """
    why_text = _need_why(apply, why)

    def pick(book: Book) -> tuple[str, int, Any, str | None]:
        section, i = find_entry(book, target)
        entry = (book.allocations if section == "allocations" else book.reservations)[i]
        still = still_written(book, entry) if isinstance(entry, Allocation) else None
        return section, i, entry, still

    if not apply:
        section, i, entry, still = pick(_fresh(app))
        msg = f"would release {entry.label} ({section[:-1]} for {entry.for_ or entry.site or '-'})"
        if still:
            msg += f"; note: still written in the inventory at {still}"
        _say(app, {"action": "release", "applied": False, "space": entry.label, "still_written": still},
             msg + "\n  plan only: add --apply --why \"...\" to release it")
        return int(ExitCode.DRIFT)
    base = base_book(app.inventory_dir)
    with _locked(app) as tx:
        section, i, entry, still = pick(tx.book(base))
        tx.remove(section, i)
        tx.add("released", released_entry(entry, why_text))
        _commit(app, tx, "ipam.release", entry.label,
                {"was": section[:-1], "for": entry.for_, "site": entry.site, "why": why_text})
    msg = f"released {entry.label}; kept in the history (ipam history {entry.label})"
    if still:
        msg += f"\n  note: still written in the inventory at {still}: remove it there to free the space"
    _say(app, {"action": "release", "applied": True, "space": entry.label, "still_written": still}, msg)
    return int(ExitCode.OK)


@ipam.command(name="history")
@click.argument("query", required=False, metavar="[PREFIX|ADDRESS|NAME]")
@pass_app
def history_cmd(app: AppContext, query: str | None) -> int:
    """Who allocated, reserved and released what, when and why (from ipam.yaml).

    \b
    Examples:
      simpul ipam history
      simpul ipam history 10.199.32.0/19
      simpul ipam history desa-ngadimulyo
    """
    events = history(_fresh(app), query)
    if app.json:
        print_json([e.to_dict() for e in events])
        return int(ExitCode.OK)
    table(f"{len(events)} event(s)" + (f" for {query}" if query else ""),
          ["when (UTC)", "what", "space", "purpose/kind", "for", "site", "by", "why"],
          [[e.at.strftime("%Y-%m-%d %H:%M"), e.action, e.label, e.what, e.for_, e.site, e.by, e.why]
           for e in events])
    return int(ExitCode.OK)


# --- import / export ----------------------------------------------------------------------------


@ipam.command(name="import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "flavour", type=click.Choice(FLAVOURS), default="auto", show_default=True,
              help="spreadsheet, netbox or phpipam (auto: from the header row).")
@click.option("--skip-conflicts", is_flag=True, help="With --apply: import the clean rows, leave the "
              "conflicting ones out (default: refuse while any row conflicts).")
@click.option("--apply", "apply", is_flag=True, help="Record the rows (default: only list what would "
              "happen and every conflict).")
@pass_app
def import_cmd(app: AppContext, file: Path, flavour: str, skip_conflicts: bool, apply: bool) -> int:
    """Import an IP plan from CSV: a spreadsheet, or NetBox's or phpIPAM's export.

    Every row is checked like an allocation. The dry run lists what each row would become and
    every conflict with its row number and the existing owner (exit 6 when there is anything to
    import or any conflict, 0 when the file adds nothing). --apply records all rows in one
    write, and refuses while a row conflicts unless --skip-conflicts.

    \b
    Examples:
      simpul ipam import rencana-ip.csv
      simpul ipam import netbox_prefixes.csv --format netbox
      simpul ipam import phpipam_subnets.csv --apply --skip-conflicts
    """
    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"{file}: cannot read it as UTF-8 text ({e})",
                         hint="save the sheet as 'CSV UTF-8' from the spreadsheet program") from None
    if not apply:
        plan = plan_import(_fresh(app), text, flavour=flavour, source=file.name)
        _report_import(app, file, plan, applied=False)
        return int(ExitCode.DRIFT if plan.to_add or plan.conflicts else ExitCode.OK)
    base = base_book(app.inventory_dir)
    with _locked(app) as tx:
        plan = plan_import(tx.book(base), text, flavour=flavour, source=file.name)
        if plan.conflicts and not skip_conflicts:
            _report_import(app, file, plan, applied=False)
            raise SimpulError(f"{file}: {len(plan.conflicts)} row(s) conflict with the plan; nothing "
                              "was imported",
                              hint="fix those rows (or the plan), or import the rest with --skip-conflicts")
        for r in plan.to_add:
            tx.add("allocations" if r.action == "allocate" else "reservations", r.entry)
        if plan.to_add:
            _commit(app, tx, "ipam.import", str(file), {
                "file": str(file), "format": plan.flavour,
                "allocated": [r.space for r in plan.to_add if r.action == "allocate"],
                "reserved": [r.space for r in plan.to_add if r.action == "reserve"],
                "conflicts_left_out": [r.row for r in plan.conflicts]})
    _report_import(app, file, plan, applied=True)
    return int(ExitCode.OK)


def _report_import(app: AppContext, file: Path, plan: ImportPlan, *, applied: bool) -> None:
    counts = {a: sum(1 for r in plan.rows if r.action == a)
              for a in ("allocate", "reserve", "present", "skip", "conflict")}
    if app.json:
        print_json({"action": "import", "file": str(file), "format": plan.flavour, "applied": applied,
                    "counts": counts, "rows": [r.to_dict() for r in plan.rows]})
        return
    verb = {"allocate": "allocated" if applied else "allocate", "reserve": "reserved" if applied else "reserve"}
    table(f"{file.name} ({plan.flavour})", ["row", "space", "becomes", "purpose/kind", "for", "site", "note"],
          [[r.row, r.space or r.raw, verb.get(r.action, r.action).upper() if r.action == "conflict" else
            verb.get(r.action, r.action), r.purpose or r.kind or "", r.for_, r.site or "", r.detail]
           for r in plan.rows])
    summary = ", ".join(f"{n} {a}" for a, n in counts.items() if n)
    tail = "recorded in ipam.yaml" if applied and plan.to_add else (
        "nothing recorded; add --apply to import" if not applied else "nothing to import")
    stdout.print(f"{summary}; {tail}")


@ipam.command(name="export")
@click.option("--format", "fmt", type=click.Choice(["csv"]), default="csv", show_default=True,
              help="Output format (JSON: simpul --json ipam export).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file (default: standard output).")
@pass_app
def export_cmd(app: AppContext, fmt: str, output: Path | None) -> int:
    """Export the whole plan: every block, address and range in use, allocated or reserved.

    One row each, in address order, with who holds it and where it is written — for a
    spreadsheet, an auditor, or `simpul ipam import` elsewhere (it reads this format back).

    \b
    Examples:
      simpul ipam export --format csv -o rencana-ip.csv
      simpul --json ipam export
    """
    book = _fresh(app)
    if app.json:
        print_json(export_rows(book))
        return int(ExitCode.OK)
    text = export_csv(book)
    if output is None:
        click.echo(text, nl=False)
        return int(ExitCode.OK)
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as e:
        raise UsageError(f"-o {output}: cannot write ({e.strerror})") from None
    click.echo(f"wrote {output} ({text.count(chr(10)) - 1} rows)", err=True)
    return int(ExitCode.OK)


# --- reconcile ---------------------------------------------------------------------------------------


@ipam.command()
@click.option("--limit", "-l", "limits", multiple=True,
              help="Routers to read: a name, a group, or key=value (site, role, platform).")
@click.option("--sweep", "sweeps", multiple=True, metavar="SITE",
              help="Also ping every address of this site's LAN from its router (built-in lab only).")
@click.option("--parallel", type=click.IntRange(1, 200), default=20, show_default=True,
              help="Routers read at once.")
@click.option("--timeout", type=click.FloatRange(1, 120), default=10.0, show_default=True,
              help="SSH connect/command timeout per router (s).")
@pass_app
def reconcile(app: AppContext, limits: tuple[str, ...], sweeps: tuple[str, ...], parallel: int,
              timeout: float) -> int:
    """Compare the plan with the addresses the routers carry (SSH, netmiko).

    Reports addresses in use but not allocated, allocated but never seen, conflicts with
    what the plan gives someone else, and wrong prefix lengths or interfaces. --sweep SITE
    pings the site's LAN from its router's namespace (built-in lab only; the packets stay in
    the lab). Read-only. Exit 0 when everything agrees, 6 when anything disagrees, 4 when no
    router could be read, 5 when some could not.

    \b
    Examples:
      simpul ipam reconcile
      simpul ipam reconcile --limit role=desa-edge
      simpul ipam reconcile --sweep pusat-data
    """
    from simpul import labinfo
    from simpul.inventory import select
    from simpul.results import exit_code_for
    from simpul.ssh import known_hosts_path

    from .collect import collect
    from .ipam_reconcile import compare, compare_sweep, fping_lab, results_of

    book = _fresh(app)
    inv = book.inv
    names = list(select(inv, list(limits), kind="device")) if limits else list(inv.devices)
    info = labinfo.for_inventory(app.inventory_dir)
    targets = [_sweep_plan(book, site, info) for site in sweeps]  # refuse bad sweeps before SSH
    kh = (Path(info["known_hosts"]) if info and info.get("known_hosts")
          else known_hosts_path(app.settings.state_dir))
    with app.progress_hook("ipam reconcile", len(names)) as bar:
        results = collect(inv, names, kh, parallel=parallel, timeout=timeout, hooks=[bar])
    seen = {r.target: {ifn: list(itf["addresses"]) for ifn, itf in r.value["interfaces"].items()}
            for r in results if r.ok and r.value is not None}
    failed = [r for r in results if not r.ok]
    findings = compare(book, seen, [r.target for r in failed])
    for site, lan, router, netns in targets:
        del router
        findings += compare_sweep(book, site, lan, fping_lab(netns, lan))
    out = results_of(findings, [*seen, *(f"sweep {t[0]}" for t in targets)], failed)
    if app.json:
        print_json({"inventory": str(app.inventory_dir), "routers": len(names),
                    "unreachable": [r.to_dict() for r in failed],
                    "findings": [f.to_dict() for f in findings]})
    else:
        for r in failed:
            click.echo(f"{r.target}: {r.status}: {r.message}", err=True)
        shown = findings
        if shown:
            table(f"{sum(f.disagrees for f in findings)} disagreement(s), "
                  f"{sum(not f.disagrees for f in findings)} note(s)",
                  ["router", "interface", "address", "finding", "detail"],
                  [[f.router, f.interface, f.address, f.kind + ("" if f.disagrees else " (note)"),
                    f.message] for f in shown])
        ok = len(seen) - len({f.router for f in findings if f.disagrees and f.router in seen})
        click.echo(f"{len(seen)} router(s) read, {ok} agree with the plan"
                   + (f", {len(failed)} could not be read" if failed else "")
                   + (f"; swept {', '.join(t[0] for t in targets)}" if targets else ""))
    return int(exit_code_for(out, drift_is_failure=True))


def _sweep_plan(book: Book, site: str, info: dict[str, Any] | None) -> tuple[str, Any, str, str]:
    """(site, LAN, router, namespace) for a lab sweep; refuses anything outside the lab."""
    from simpul.lab.topology import LAB_RANGE, router_ns

    from .ipam_reconcile import sweep_target

    if info is None:
        raise UsageError(f"--sweep {site}: the liveness sweep pings from inside the lab router's network "
                         "namespace, so it works only on the running built-in lab's inventory",
                         hint="bring the lab up (simpul lab up) and use its inventory (inventory/lab)")
    lan, router = sweep_target(book, site)
    if not lan.subnet_of(LAB_RANGE):
        raise UsageError(f"--sweep {site}: {lan} is outside the lab's data plane {LAB_RANGE}; "
                         "refusing to send packets there")
    return site, lan, router, router_ns(router)
