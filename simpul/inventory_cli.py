"""``simpul inventory check|show|graph``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from simpul.context import AppContext, pass_app
from simpul.errors import ExitCode
from simpul.inventory import InventoryInvalid, host_facts, load_inventory, select
from simpul.inventory.graph import render, to_dot
from simpul.output import print_json, stdout, table

SECTIONS = ("hosts", "devices", "servers", "sites", "links", "services", "backup", "plan")


@click.group()
def inventory() -> None:
    """Check, show and draw the inventory (the single source of truth)."""


@inventory.command()
@click.argument("directory", required=False, type=click.Path(path_type=Path))
@pass_app
def check(app: AppContext, directory: Path | None) -> int:
    """Validate an inventory and report every problem with file, line and key.

    Exit 0 when valid, 3 when not.

    \b
    Example:
      simpul inventory check inventory/contoh-kabupaten
    """
    directory = directory or app.inventory_dir
    try:
        inv = load_inventory(directory)
    except InventoryInvalid as e:
        if app.json:
            print_json(
                {"valid": False, "inventory": str(directory), "problems": [p.__dict__ for p in e.problems]}
            )
        else:
            for p in e.problems:
                click.echo(str(p))
            click.echo(f"{directory}: {len(e.problems)} problem(s); the inventory is NOT valid", err=True)
        return int(ExitCode.CONFIG)
    counts = {
        "sites": len(inv.sites),
        "devices": len(inv.devices),
        "links": len(inv.links),
        "servers": len(inv.servers),
        "admins": len(inv.admins),
        "services": len(inv.services),
        "backup_policies": len(inv.backup_policies),
    }
    if app.json:
        print_json({"valid": True, "inventory": str(directory), "counts": counts})
    else:
        summary = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items())
        click.echo(f"{directory}: valid ({summary})")
    return int(ExitCode.OK)


@inventory.command()
@click.argument("section", required=False, default="hosts", type=click.Choice(SECTIONS))
@click.option(
    "--limit",
    "-l",
    "limits",
    multiple=True,
    help="Selector: host name, group, or key=value (site, site_type, role, platform, kind).",
)
@pass_app
def show(app: AppContext, section: str, limits: tuple[str, ...]) -> int:
    """Show the inventory as tables (or --json).

    \b
    Examples:
      simpul inventory show --limit role=desa-edge
      simpul inventory show services
      simpul --json inventory show --limit site=drc
    """
    inv = load_inventory(app.inventory_dir)
    rows: list[dict[str, Any]]
    if section in ("hosts", "devices", "servers"):
        kind = {"hosts": None, "devices": "device", "servers": "server"}[section]
        names = select(inv, limits, kind=kind)
        rows = [host_facts(inv, n) for n in names]
        if app.json:
            print_json(rows)
        else:
            table(
                f"{len(rows)} host(s)",
                ["name", "kind", "site", "site type", "role", "platform", "mgmt ip"],
                [
                    [r["name"], r["kind"], r["site"], r["site_type"], r["role"], r["platform"], r["mgmt_ip"]]
                    for r in rows
                ],
            )
        return int(ExitCode.OK)
    if section == "sites":
        data = {n: s.model_dump(mode="json") for n, s in inv.sites.items()}
        if app.json:
            print_json(data)
        else:
            table(
                f"{len(data)} site(s)",
                ["name", "type", "official name", "LAN", "uplink"],
                [[n, s.type, s.name, s.lan, s.uplink] for n, s in inv.sites.items()],
            )
    elif section == "links":
        if app.json:
            print_json({n: lk.model_dump(mode="json") for n, lk in inv.links.items()})
        else:
            table(
                f"{len(inv.links)} link(s)",
                ["name", "a", "b", "prefix", "medium", "Mb/s"],
                [[n, lk.a, lk.b, lk.prefix, lk.medium, lk.bandwidth_mbps] for n, lk in inv.links.items()],
            )
    elif section == "services":
        if app.json:
            print_json({n: s.model_dump(mode="json") for n, s in inv.services.items()})
        else:
            table(
                f"{len(inv.services)} service(s)",
                ["name", "service", "owner", "tier", "target %", "RTO", "RPO", "servers"],
                [
                    [n, s.name, s.owner, s.tier, s.availability_target, s.rto, s.rpo, ", ".join(s.servers)]
                    for n, s in inv.services.items()
                ],
            )
    elif section == "backup":
        if app.json:
            print_json({n: p.model_dump(mode="json") for n, p in inv.backup_policies.items()})
        else:
            table(
                "backup policies",
                ["name", "every", "destination", "repository", "keep d/w/m/y", "verify"],
                [
                    [
                        n,
                        p.every,
                        p.destination,
                        p.repository,
                        f"{p.retention.daily}/{p.retention.weekly}/{p.retention.monthly}/{p.retention.yearly}",
                        p.verify,
                    ]
                    for n, p in inv.backup_policies.items()
                ],
            )
    elif section == "plan":
        if app.json:
            print_json(inv.plan.model_dump(mode="json"))
        else:
            table(
                "address plan",
                ["purpose", "supernet", "allocation size"],
                [[k, v, _size(inv.plan.sizes, k)] for k, v in inv.plan.supernets.items()],
            )
    return int(ExitCode.OK)


OVERVIEW_ABOVE = 40  # devices: beyond this the whole-network picture is the overview


@inventory.command()
@click.option("--site", help="One site's page: uplinks, router, addresses, LAN (the OPD's or "
                             "desa's yearly LAN diagram, Perbup Temanggung 83/2021 Pasal 22).")
@click.option("--per-site", is_flag=True,
              help="A PDF bundle: the overview, then one page per OPD, desa and kelurahan.")
@click.option("--view", type=click.Choice(["auto", "overview", "detail"]), default="auto",
              show_default=True,
              help="Whole network: every router with its addresses (detail), or one A3 page with "
                   f"desa grouped by the router they hang off (overview); auto = overview above "
                   f"{OVERVIEW_ABOVE} routers.")
@click.option("--format", "fmt", type=click.Choice(["svg", "png", "pdf", "dot"]),
              help="Output format [default: from -o's extension, else svg; --per-site: pdf].")
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Output file (default: topology[-SITE].FORMAT, topology-sites.pdf).")
@pass_app
def graph(app: AppContext, site: str | None, per_site: bool, view: str, fmt: str | None,
          output: Path | None) -> int:
    """Draw the Jaringan Intra: the whole network, one site, or every site in one PDF.

    \b
    Examples:
      simpul inventory graph -o jaringan-intra.svg
      simpul -i inventory/contoh-kabupaten inventory graph --view overview -o ikhtisar.pdf
      simpul inventory graph --site dinkes --format png
      simpul -i inventory/contoh-kabupaten inventory graph --per-site -o lan-per-situs.pdf
    """
    from simpul.errors import UsageError
    from simpul.inventory.graph import (
        bundle_sites,
        fit_overview,
        render_bundle,
        site_dot,
    )

    if site and per_site:
        raise UsageError("--site and --per-site: give one of them")
    if fmt is None:
        ext = output.suffix.lower().lstrip(".") if output else ""
        fmt = "pdf" if per_site else ext if ext in ("svg", "png", "pdf", "dot") else "svg"
    if per_site and fmt != "pdf":
        raise UsageError("--per-site writes one PDF bundle: use --format pdf (or -o FILE.pdf)")
    out = output or Path("topology-sites.pdf" if per_site else f"topology{'-' + site if site else ''}.{fmt}")
    if not out.parent.is_dir():
        raise UsageError(f"-o {out}: the directory {out.parent} does not exist")
    inv = load_inventory(app.inventory_dir)
    info: dict[str, Any] = {"output": str(out), "format": fmt, "site": site}
    if per_site:
        sites = bundle_sites(inv)
        pages = [("overview", fit_overview(inv)[0]), *((s, site_dot(inv, s)) for s in sites)]
        with app.progress_hook("inventory graph --per-site", len(pages)) as bar:
            n = render_bundle(pages, out, hooks=[bar])
        info |= {"pages": n, "sites": len(sites)}
    elif site:
        render(site_dot(inv, site), out, fmt)
    elif view == "overview" or (view == "auto" and len(inv.devices) > OVERVIEW_ABOVE):
        dot, size = fit_overview(inv)
        render(dot, out, fmt)
        info |= {"view": "overview", "page_pt": [size.width_pt, size.height_pt],
                 "min_font_pt": round(size.min_font_pt, 2), "fits_a3": size.fits()}
        if not size.fits():
            import logging

            logging.getLogger(__name__).warning(
                "the overview does not fit A3 at 6 pt (%.0f × %.0f pt, smallest text %.1f pt): "
                "print the per-site pages (--per-site) instead", size.width_pt, size.height_pt,
                size.min_font_pt)
    else:
        render(to_dot(inv), out, fmt)
    if app.json:
        print_json(info)
    else:
        extra = f" ({info['pages']} pages)" if "pages" in info else ""
        stdout.print(f"wrote {out}{extra}")
    return int(ExitCode.OK)


def _size(sizes: dict[Any, int], purpose: str) -> str:
    key = purpose.removesuffix("_lan")
    return f"/{sizes[key]}" if key in sizes else ""
