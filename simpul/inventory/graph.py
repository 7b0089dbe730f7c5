"""The topology picture: sites, routers, links and LANs as Graphviz diagrams.

Perbup Temanggung 83/2021 Pasal 22 asks every OPD to submit a current LAN diagram at least
yearly. Three pictures, each built as DOT text by a pure function (golden-file tests) and
rendered with Graphviz:

- :func:`to_dot` — every router, server and link with addresses: readable for a small network
  (the lab);
- :func:`overview_dot` — the whole intranet on one A3 page at kabupaten scale: the core and
  server sites in the middle, each distribution router as one block listing the desa it serves
  (cells styled by the link medium), OPD edges grouped by the core router they hang off, blocks
  to the left and right of the core (``dot``, left to right) so the page stays near square;
- :func:`site_dot` — one site's page: uplink(s) with interfaces and prefixes, the router with
  its addresses, the LAN, and the site's details: the diagram an OPD or desa submits.
  :func:`render_bundle` puts the overview and one page per OPD/desa into a single PDF.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from html import escape
from pathlib import Path

from simpul.errors import SimpulError, UsageError
from simpul.inventory.models import Inventory, Link
from simpul.runner import Hook

A3_PT = (1190.55, 841.89)  # ISO A3 landscape in points (420 × 297 mm)
MIN_FONT_PT = 6.0  # the smallest text the overview may print at on A3
HUB_SITES = ("pusat-data", "drc", "noc")
LEAF_SITES = ("desa", "kelurahan")
MEDIUM_COLOUR = {"fiber": "#1d4ed8", "copper": "#1d4ed8", "veth": "#1d4ed8", "radio": "#c2410c",
                 "vsat": "#7c3aed", "lte": "#7c3aed"}

SITE_COLOURS = {
    "pusat-data": "#dbeafe", "drc": "#fde68a", "noc": "#e5e7eb",
    "opd": "#dcfce7", "desa": "#fce7f3", "kelurahan": "#fce7f3",
}
MEDIUM_STYLE = {"fiber": "solid", "copper": "solid", "veth": "solid", "radio": "dashed",
                "vsat": "dotted", "lte": "dotted"}


def _q(s: str) -> str:
    """Quote a DOT string: escape backslashes and quotes, real newlines become \\n."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(inv: Inventory, *, site: str | None = None, today: date | None = None) -> str:
    """Return Graphviz DOT for the whole intranet, or for one site and its neighbours."""
    if site is not None and site not in inv.sites:
        raise UsageError(f"--site {site}: no such site in the inventory")
    devices = dict(inv.devices)
    links = dict(inv.links)
    if site is not None:
        own = {n for n, d in devices.items() if d.site == site}
        links = {n: lk for n, lk in inv.links.items()
                 if lk.a.split(":")[0] in own or lk.b.split(":")[0] in own}
        keep = own | {e.split(":")[0] for lk in links.values() for e in (lk.a, lk.b)}
        devices = {n: d for n, d in devices.items() if n in keep}
    servers = {n: s for n, s in inv.servers.items() if site is None or s.site == site}
    title = f"Jaringan Intra — {inv.organisation.name}"
    if site is not None:
        title = f"{inv.sites[site].name} — {inv.organisation.name}"
    stamp = (today or date.today()).isoformat()
    lines = [
        "graph simpul {",
        "  graph [rankdir=LR, fontname=\"DejaVu Sans\", fontsize=11, labelloc=t, "
        f"label={_q(title + chr(10) + 'Diagram jaringan / network diagram, ' + stamp + ' (Perbup Temanggung 83/2021 Pasal 22)')}];",
        "  node [fontname=\"DejaVu Sans\", fontsize=10, shape=box, style=\"rounded,filled\", fillcolor=white];",
        "  edge [fontname=\"DejaVu Sans\", fontsize=8];",
    ]
    by_site: dict[str, list[str]] = {}
    for n, d in devices.items():
        by_site.setdefault(d.site, []).append(n)
    for n, s in servers.items():
        by_site.setdefault(s.site, []).append(n)
    for i, (sname, members) in enumerate(sorted(by_site.items())):
        st = inv.sites.get(sname)
        label = f"{st.name if st else sname}"
        if st and st.lan:
            label += f"\nLAN {st.lan}"
        colour = SITE_COLOURS.get(st.type if st else "", "#ffffff")
        lines.append(f"  subgraph cluster_{i} {{")
        lines.append(f"    label={_q(label)}; style=\"rounded,filled\"; fillcolor={_q(colour)}; color=\"#9ca3af\";")
        for m in sorted(members):
            if m in devices:
                d = devices[m]
                lab = f"{m}\n{d.platform} · {d.role}\nmgmt {d.mgmt_ip}"
                if d.loopback:
                    lab += f"\nlo {d.loopback}"
                lines.append(f"    {_q(m)} [label={_q(lab)}, shape=box3d];")
            else:
                s = servers[m]
                lab = f"{m}\n{s.role}\n{s.address or s.mgmt_ip}"
                lines.append(f"    {_q(m)} [label={_q(lab)}, shape=component];")
        lines.append("  }")
    for n, lk in sorted(links.items()):
        a_dev, a_if = lk.a.split(":", 1)
        b_dev, b_if = lk.b.split(":", 1)
        label = f"{lk.prefix}\n{lk.medium}"
        if lk.bandwidth_mbps:
            label += f" {lk.bandwidth_mbps:g} Mb/s"
        style = MEDIUM_STYLE.get(lk.medium, "solid")
        lines.append(
            f"  {_q(a_dev)} -- {_q(b_dev)} [label={_q(label)}, taillabel={_q(a_if)}, "
            f"headlabel={_q(b_if)}, style={style}, tooltip={_q(n)}];")
    # servers hang off their site's core/distribution router when the site has one
    for n, s in sorted(servers.items()):
        routers = [d for d in by_site.get(s.site, []) if d in devices]
        if not routers:
            # DRC servers sit on the segment stretched from the Pusat Data
            pd = [d for d, dev in devices.items()
                  if inv.sites.get(dev.site) and inv.sites[dev.site].type == "pusat-data"]
            routers = pd if inv.sites.get(s.site) and inv.sites[s.site].type == "drc" else []
        if routers:
            lines.append(f"  {_q(sorted(routers)[0])} -- {_q(n)} [color=\"#6b7280\"];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(dot: str, out: Path, fmt: str) -> None:
    """Render DOT to ``out`` with Graphviz (``dot``) in ``fmt`` (svg, png, pdf)."""
    if fmt == "dot":
        out.write_text(dot)
        return
    out.write_bytes(render_bytes(dot, fmt))


def render_bytes(dot: str, fmt: str) -> bytes:
    """DOT → the rendered file's bytes (svg, png, pdf) with Graphviz ``dot``."""
    exe = shutil.which("dot")
    if exe is None:
        raise SimpulError("Graphviz 'dot' is not installed", hint="run scripts/setup (package graphviz)")
    cp = subprocess.run([exe, f"-T{fmt}"], input=dot.encode(), capture_output=True, timeout=300,
                        check=False)
    if cp.returncode != 0:
        raise SimpulError(f"graphviz failed: {cp.stderr.decode(errors='replace').strip()[:300]}")
    return cp.stdout


def render_bundle(pages: Sequence[tuple[str, str]], out: Path, *, hooks: Sequence[Hook] = (),
                  parallel: int = 2) -> int:
    """Render each ``(name, DOT)`` as PDF page(s) and write them, in order, as one PDF
    (merged with ``pypdf``); returns the number of pages. Pages render through the core
    runner (``hooks`` see one result per page)."""
    import io

    from pypdf import PdfReader, PdfWriter

    from simpul.results import Result, Status
    from simpul.runner import run_each

    dots = dict(pages)
    results = run_each([n for n, _ in pages],
                       lambda n: Result(n, Status.OK, value=render_bytes(dots[n], "pdf")),
                       parallel=parallel, hooks=hooks)
    failed = [r for r in results if not isinstance(r.value, bytes)]
    if failed:
        raise SimpulError(f"{failed[0].target}: {failed[0].message}")
    writer = PdfWriter()
    for r in results:
        for page in PdfReader(io.BytesIO(r.value)).pages:
            writer.add_page(page)
    tmp = out.with_name(f".{out.name}.tmp")
    with tmp.open("wb") as f:
        writer.write(f)
    tmp.replace(out)
    return len(writer.pages)


# --- the kabupaten overview ------------------------------------------------------------------


@dataclass
class Block:
    """One box of the overview: a distribution router with the sites it serves, or a group of
    OPD/desa edges that hang directly off a core router."""

    key: str
    title: str
    subtitle: str
    parent: str | None  # the hub (core router) the block hangs off
    head: str | None = None  # the block's own router (a distribution router), if any
    cells: list[tuple[str, str, str]] = field(default_factory=list)  # (label, medium, site type)
    uplink: tuple[str, float | None] = ("fiber", None)  # medium, Mb/s of the block's uplink


def _short(name: str) -> str:
    for prefix, rep in (("Desa ", ""), ("Kelurahan ", "Kel. "), ("Kecamatan ", "Kec. ")):
        if name.startswith(prefix):
            return rep + name[len(prefix):]
    return name


def _tree(inv: Inventory) -> tuple[list[str], dict[str, str | None], dict[str, tuple[str, str]]]:
    """Hubs, each device's parent toward the hubs (BFS over the links), and each device's
    uplink (medium, link name)."""
    adj: dict[str, list[tuple[str, str, str]]] = {}
    for lname, lk in inv.links.items():
        a, b = lk.a.split(":")[0], lk.b.split(":")[0]
        adj.setdefault(a, []).append((b, lk.medium, lname))
        adj.setdefault(b, []).append((a, lk.medium, lname))
    hubs = [n for n, d in inv.devices.items()
            if inv.sites.get(d.site) is not None and inv.sites[d.site].type in HUB_SITES]
    if not hubs and inv.devices:  # no core site: the best-connected device is the hub
        hubs = [max(inv.devices, key=lambda n: (len(adj.get(n, [])), n))]
    parent: dict[str, str | None] = {h: None for h in hubs}
    uplink: dict[str, tuple[str, str]] = {}
    q = deque(sorted(hubs))
    while q:
        n = q.popleft()
        for m, medium, lname in sorted(adj.get(n, [])):
            if m not in parent and m in inv.devices:
                parent[m] = n
                uplink[m] = (medium, lname)
                q.append(m)
    return sorted(hubs), parent, uplink


def overview_blocks(inv: Inventory) -> tuple[list[str], list[Block]]:
    """The hubs and the blocks of :func:`overview_dot` (pure; tested on contoh-kabupaten)."""
    hubs, parent, uplink = _tree(inv)
    hubset = set(hubs)

    def site_type(dev: str) -> str:
        st = inv.sites.get(inv.devices[dev].site)
        return st.type if st else ""

    def leaf(dev: str) -> bool:
        return site_type(dev) in LEAF_SITES

    def owner(dev: str) -> str | None:
        """The nearest non-leaf ancestor (the router whose block lists this leaf)."""
        p = parent.get(dev)
        while p is not None and leaf(p) and p not in hubset:
            p = parent.get(p)
        return p

    children: dict[str, list[str]] = {}
    for dev in inv.devices:
        if dev in hubset or dev not in parent:
            continue
        if leaf(dev):
            o = owner(dev)
            if o is not None:
                children.setdefault(o, []).append(dev)
    blocks: dict[str, Block] = {}

    def cell(dev: str) -> tuple[str, str, str]:
        d = inv.devices[dev]
        st = inv.sites.get(d.site)
        # desa by their name, OPD by their short site key (dinkes, bappeda): official OPD
        # names run to 60 characters
        label = (_short(st.name) if st.type in LEAF_SITES else d.site) if st else dev
        return (label, uplink.get(dev, ("fiber", ""))[0], site_type(dev))

    for dev in sorted(inv.devices):
        if dev in hubset or dev not in parent or leaf(dev):
            continue
        d = inv.devices[dev]
        st = inv.sites.get(d.site)
        medium, lname = uplink.get(dev, ("fiber", ""))
        lk = inv.links.get(lname)
        bw = lk.bandwidth_mbps if lk else None
        if dev in children:  # a distribution router: its own block
            blocks[dev] = Block(dev, st.name if st else dev,
                                f"{dev} · {d.model or d.platform} · lo {d.loopback or d.mgmt_ip}",
                                parent.get(dev), dev, [cell(c) for c in sorted(children[dev])],
                                (medium, bw))
        else:  # a plain edge: a cell in the group of its parent
            par = parent.get(dev)
            key = f"edges-{par}"
            if par is not None and par not in hubset and par in blocks:
                blocks[par].cells.append(cell(dev))
                continue
            b = blocks.setdefault(key, Block(key, f"OPD → {par}", "", par, None, [], (medium, None)))
            b.cells.append(cell(dev))
    for hub in hubs:  # leaves hanging straight off a hub
        if hub in children:
            key = f"leaves-{hub}"
            blocks[key] = Block(key, f"Desa → {hub}", "", hub, None,
                                [cell(c) for c in sorted(children[hub])],
                                (uplink.get(children[hub][0], ("radio", ""))[0], None))
    for b in blocks.values():
        b.cells.sort()
        if not b.subtitle:
            n = len(b.cells)
            media = sorted({c[1] for c in b.cells})
            b.subtitle = f"{n} site{'s' if n != 1 else ''} · {'/'.join(media)}"
    return hubs, sorted(blocks.values(), key=lambda b: (b.parent or "", b.head is None, b.key))


def _cells_table(b: Block, cols: int) -> str:
    rows = []
    cells = b.cells
    for i in range(0, len(cells), cols):
        tds = []
        for label, medium, stype in cells[i:i + cols]:
            colour = MEDIUM_COLOUR.get(medium, "#374151")
            style = ' STYLE="dashed"' if medium == "radio" else ""
            bg = "#fdf2f8" if stype in LEAF_SITES else "#f0fdf4"
            tds.append(f'<TD BORDER="1" COLOR="{colour}"{style} BGCOLOR="{bg}">{escape(label)}</TD>')
        tds += ["<TD></TD>"] * (cols - len(tds))
        rows.append("<TR>" + "".join(tds) + "</TR>")
    return "".join(rows)


def overview_dot(inv: Inventory, *, today: date | None = None, cols: int = 8) -> str:
    """The whole intranet on one A3 page (see the module docstring)."""
    hubs, blocks = overview_blocks(inv)
    stamp = (today or date.today()).isoformat()
    n_sites = sum(1 for s in inv.sites.values() if s.type not in HUB_SITES)
    title = (f"Jaringan Intra — {inv.organisation.name}\n"
             f"Ikhtisar / overview: {len(inv.devices)} router, {n_sites} OPD/desa/kelurahan, "
             f"{len(inv.links)} link · {stamp} (Perbup Temanggung 83/2021 Pasal 22)")
    lines = [
        "graph overview {",
        f"  graph [rankdir=LR, newrank=true, nodesep=0.08, ranksep=0.7, fontname=\"DejaVu Sans\", "
        f"fontsize=14, labelloc=t, label={_q(title)}, "
        # the drawing plus Graphviz's pad must fit the page: A3 less a 0.3 inch border
        f"size=\"{A3_PT[0] / 72 - 0.3:.2f},{A3_PT[1] / 72 - 0.3:.2f}\", margin=0, pad=0.1];",
        "  node [fontname=\"DejaVu Sans\", fontsize=9, shape=plain];",
        "  edge [fontname=\"DejaVu Sans\", fontsize=7, color=\"#6b7280\"];",
    ]
    # the hub sites in the middle: one node per site (a table: the site, its LAN and servers,
    # one row per core router with a port the lines attach to). Clusters in one rank overlap
    # in dot; table nodes do not.
    by_site: dict[str, list[str]] = {}
    for h in hubs:
        by_site.setdefault(inv.devices[h].site, []).append(h)
    port: dict[str, str] = {}
    site_node: dict[str, str] = {}
    for i, (sname, devs) in enumerate(sorted(by_site.items())):
        st = inv.sites.get(sname)
        servers = [s for s in inv.servers.values() if s.site == sname]
        roles: dict[str, int] = {}
        for srv in servers:
            roles[srv.role] = roles.get(srv.role, 0) + 1
        colour = SITE_COLOURS.get(st.type if st else "", "#ffffff")
        rows = [f'<TR><TD BGCOLOR="{colour}"><B>{escape(st.name if st else sname)}</B>'
                + (f"<BR/>LAN {st.lan}" if st and st.lan else "") + "</TD></TR>"]
        if servers:
            parts = [f"{r} {n}" for r, n in sorted(roles.items())]
            lines_srv = [", ".join(parts[k:k + 4]) for k in range(0, len(parts), 4)]
            rows.append(f'<TR><TD BGCOLOR="{colour}"><FONT POINT-SIZE="8">{len(servers)} server: '
                        + ",<BR/>".join(escape(x) for x in lines_srv) + "</FONT></TD></TR>")
        for j, h in enumerate(devs):
            d = inv.devices[h]
            port[h] = f"p{j}"
            rows.append(f'<TR><TD PORT="p{j}" BORDER="1" BGCOLOR="white"><B>{escape(h)}</B> · '
                        f"{escape(d.model or d.platform)}<BR/>lo {escape(str(d.loopback or d.mgmt_ip))}</TD></TR>")
        for lk in inv.links.values():  # links inside the site
            a, b2 = lk.a.split(":")[0], lk.b.split(":")[0]
            if a in devs and b2 in devs:
                speed = f" {lk.bandwidth_mbps:g} Mb/s" if lk.bandwidth_mbps else ""
                rows.append(f'<TR><TD BGCOLOR="{colour}"><FONT POINT-SIZE="8">{escape(a)} — {escape(b2)}: '
                            f"{lk.medium}{speed}</FONT></TD></TR>")
        node = f"site-{sname}"
        for h in devs:
            site_node[h] = node
        lines.append(f"  {_q(node)} [label=<<TABLE BORDER=\"1\" CELLBORDER=\"0\" CELLSPACING=\"3\" "
                     f"CELLPADDING=\"3\" COLOR=\"#6b7280\" BGCOLOR=\"{colour}\" STYLE=\"rounded\">"
                     f"{''.join(rows)}</TABLE>>];")
    lines.append("  { rank=same; " + " ".join(_q(n) for n in sorted(set(site_node.values()))) + " }")

    def end(h: str) -> str:
        return f"{_q(site_node[h])}:{port[h]}" if h in site_node else _q(h)

    # blocks left and right of the hubs, balanced by height
    load = [0, 0]
    for b in blocks:
        height = (len(b.cells) + cols - 1) // cols + 2
        side = 0 if load[0] <= load[1] else 1
        load[side] += height
        head = (f'<TR><TD COLSPAN="{cols}" BGCOLOR="#e5e7eb"><B>{escape(b.title)}</B><BR/>'
                f'<FONT POINT-SIZE="7">{escape(b.subtitle)}</FONT></TD></TR>')
        lab = (f'<<FONT POINT-SIZE="7"><TABLE BORDER="1" CELLBORDER="0" CELLSPACING="1" CELLPADDING="1" '
               f'COLOR="#6b7280" BGCOLOR="white" STYLE="rounded">{head}'
               f'{_cells_table(b, cols)}</TABLE></FONT>>')
        lines.append(f"  {_q(b.key)} [label={lab}];")
        medium, bw = b.uplink
        style = MEDIUM_STYLE.get(medium, "solid")
        colour = MEDIUM_COLOUR.get(medium, "#6b7280")
        tip = f"{b.key}: {medium}" + (f" {bw:g} Mb/s" if bw else "")
        if b.parent is not None:
            # no edge labels: the medium is the line's style, the block names its uplink
            pair = (_q(b.key), end(b.parent)) if side == 0 else (end(b.parent), _q(b.key))
            lines.append(f"  {pair[0]} -- {pair[1]} [style={style}, color={_q(colour)}, "
                         f"tooltip={_q(tip)}, penwidth=1.2];")
    # links between hubs: labelled with their prefix, not ranked
    for _lname, lk in sorted(inv.links.items()):
        a, b2 = lk.a.split(":")[0], lk.b.split(":")[0]
        if a in hubs and b2 in hubs and site_node.get(a) != site_node.get(b2):
            lab = f"{lk.prefix} {lk.medium}" + (f" {lk.bandwidth_mbps:g} Mb/s" if lk.bandwidth_mbps else "")
            lines.append(f"  {end(a)} -- {end(b2)} [constraint=false, tooltip={_q(lab)}, "
                         f"style={MEDIUM_STYLE.get(lk.medium, 'solid')}, "
                         f"color={_q(MEDIUM_COLOUR.get(lk.medium, '#6b7280'))}];")
    legend = ('<<TABLE BORDER="1" CELLBORDER="0" CELLPADDING="2" COLOR="#9ca3af" BGCOLOR="white">'
              '<TR><TD COLSPAN="2"><B>Keterangan / legend</B></TD></TR>'
              f'<TR><TD BORDER="1" COLOR="{MEDIUM_COLOUR["fiber"]}">    </TD><TD ALIGN="LEFT">fiber</TD></TR>'
              f'<TR><TD BORDER="1" STYLE="dashed" COLOR="{MEDIUM_COLOUR["radio"]}">    </TD>'
              '<TD ALIGN="LEFT">radio</TD></TR>'
              f'<TR><TD BORDER="1" COLOR="{MEDIUM_COLOUR["vsat"]}">    </TD><TD ALIGN="LEFT">VSAT / LTE</TD></TR>'
              '<TR><TD BGCOLOR="#fdf2f8" BORDER="1">    </TD><TD ALIGN="LEFT">desa / kelurahan</TD></TR>'
              '<TR><TD BGCOLOR="#f0fdf4" BORDER="1">    </TD><TD ALIGN="LEFT">OPD</TD></TR>'
              "</TABLE>>")
    lines.append(f"  legend [label={legend}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


# --- one site's page (Pasal 22) -----------------------------------------------------------------


def site_dot(inv: Inventory, site: str, *, today: date | None = None) -> str:
    """One site's LAN diagram: uplinks (interfaces, prefixes, medium), its routers with their
    addresses, its LAN and servers, the sites it serves, and the site's details."""
    if site not in inv.sites:
        raise UsageError(f"--site {site}: no such site in the inventory",
                         hint="see 'simpul inventory show sites'")
    st = inv.sites[site]
    own = sorted(n for n, d in inv.devices.items() if d.site == site)
    servers = sorted(n for n, s in inv.servers.items() if s.site == site)
    _hubs, parent, _uplink = _tree(inv)
    stamp = (today or date.today()).isoformat()
    loc = st.location
    title = (f"{st.name} ({st.type}) — {inv.organisation.name}\n"
             f"Diagram LAN / LAN diagram · {stamp} · Perbup Temanggung 83/2021 Pasal 22")
    lines = [
        "graph site {",
        f"  graph [rankdir=LR, fontname=\"DejaVu Sans\", fontsize=12, labelloc=t, label={_q(title)}, "
        f"nodesep=0.3, ranksep=1.0, size=\"{A3_PT[1] / 72:.2f},{A3_PT[0] / 72 / 1.414:.2f}\"];",
        "  node [fontname=\"DejaVu Sans\", fontsize=10, shape=box, style=\"rounded,filled\", fillcolor=white];",
        "  edge [fontname=\"DejaVu Sans\", fontsize=9];",
    ]
    colour = SITE_COLOURS.get(st.type, "#ffffff")
    lines.append(f"  subgraph cluster_site {{ label={_q(st.name)}; style=\"rounded,filled\"; "
                 f"fillcolor={_q(colour)}; color=\"#9ca3af\";")
    for n in own:
        d = inv.devices[n]
        rows = [f"<TR><TD COLSPAN=\"2\"><B>{escape(n)}</B></TD></TR>",
                f"<TR><TD ALIGN=\"LEFT\">model</TD><TD ALIGN=\"LEFT\">{escape(d.model or d.platform)}</TD></TR>",
                f"<TR><TD ALIGN=\"LEFT\">mgmt</TD><TD ALIGN=\"LEFT\">{d.mgmt_ip}</TD></TR>"]
        if d.loopback:
            rows.append(f"<TR><TD ALIGN=\"LEFT\">loopback</TD><TD ALIGN=\"LEFT\">{d.loopback}</TD></TR>")
        for ifn, itf in sorted(d.interfaces.items()):
            if itf.address is not None:
                rows.append(f"<TR><TD ALIGN=\"LEFT\">{escape(ifn)}</TD><TD ALIGN=\"LEFT\">"
                            f"{itf.address}</TD></TR>")
        lines.append(f"    {_q(n)} [shape=plain, label=<<TABLE BORDER=\"1\" CELLBORDER=\"0\" "
                     f"CELLPADDING=\"3\" BGCOLOR=\"white\">{''.join(rows)}</TABLE>>];")
    lan_label = f"LAN {st.lan}" if st.lan else "LAN"
    if st.lan and own:
        gws = [f"{itf.address.ip} ({n} {ifn})" for n in own
               for ifn, itf in inv.devices[n].interfaces.items()
               if itf.address is not None and itf.address.ip in st.lan]
        if gws:
            lan_label += "\ngateway " + ", ".join(gws)
        lan_label += f"\n{st.lan.num_addresses - 2} host addresses"
    lines.append(f"    \"lan\" [label={_q(lan_label)}, shape=box, style=\"filled\", fillcolor=\"#f8fafc\", "
                 f"peripheries=2];")
    for n in servers:
        s = inv.servers[n]
        lines.append(f"    {_q(n)} [label={_q(f'{n}{chr(10)}{s.role}{chr(10)}{s.address or s.mgmt_ip}')}, "
                     f"shape=component];")
        lines.append(f"    \"lan\" -- {_q(n)};")
    lines.append("  }")
    for n in own:
        lines.append(f"  {_q(n)} -- \"lan\" [penwidth=2];")
    # every link of the site's routers: upstream on the left, the sites it serves on the right;
    # interface names go in the edge label (head/tail labels pile up on a busy router)
    down: list[tuple[str, str, str, str, Link]] = []
    for lname, lk in sorted(inv.links.items()):
        a_dev, a_if = lk.a.split(":", 1)
        b_dev, b_if = lk.b.split(":", 1)
        if a_dev not in own and b_dev not in own:
            continue
        mine, mine_if, peer, peer_if = (a_dev, a_if, b_dev, b_if) if a_dev in own else (b_dev, b_if, a_dev, a_if)
        if peer in own:
            continue
        speed = f" {lk.bandwidth_mbps:g} Mb/s" if lk.bandwidth_mbps else ""
        if parent.get(mine) != peer:
            down.append((mine, mine_if, peer, peer_if, lk))
            continue
        pd = inv.devices.get(peer)
        pst = inv.sites.get(pd.site) if pd else None
        lines.append(f"  {_q(peer)} [label={_q(f'{peer}{chr(10)}{pst.name if pst else peer}')}, "
                     f"fillcolor=\"#f3f4f6\", color=\"#9ca3af\", fontcolor=\"#374151\"];")
        label = f"{peer_if} ↔ {mine_if}\n{lk.prefix}\n{lk.medium}{speed}"
        lines.append(f"  {_q(peer)} -- {_q(mine)} [label={_q(label)}, "
                     f"style={MEDIUM_STYLE.get(lk.medium, 'solid')}, "
                     f"color={_q(MEDIUM_COLOUR.get(lk.medium, '#6b7280'))}, penwidth=1.5, tooltip={_q(lname)}];")
    if len(down) > 4:  # many served sites: one table, one line
        rows = ['<TR><TD><B>interface</B></TD><TD><B>router</B></TD><TD><B>situs / site</B></TD>'
                '<TD><B>link</B></TD><TD><B>media</B></TD></TR>']
        for _mine, mine_if, peer, peer_if, lk in down:
            pd = inv.devices.get(peer)
            pst = inv.sites.get(pd.site) if pd else None
            speed = f" {lk.bandwidth_mbps:g} Mb/s" if lk.bandwidth_mbps else ""
            rows.append(f'<TR><TD ALIGN="LEFT">{escape(mine_if)}</TD><TD ALIGN="LEFT">{escape(peer)} '
                        f'({escape(peer_if)})</TD><TD ALIGN="LEFT">{escape(pst.name if pst else "")}</TD>'
                        f'<TD ALIGN="LEFT">{lk.prefix}</TD>'
                        f'<TD ALIGN="LEFT">{escape(lk.medium)}{speed}</TD></TR>')
        lines.append(f"  served [shape=plain, label=<<TABLE BORDER=\"1\" CELLBORDER=\"0\" CELLPADDING=\"2\" "
                     f"BGCOLOR=\"#f9fafb\" COLOR=\"#9ca3af\"><TR><TD COLSPAN=\"5\"><B>Melayani / serves "
                     f"{len(down)} situs</B></TD></TR>{''.join(rows)}</TABLE>>];")
        media = {x[4].medium for x in down}
        med = media.pop() if len(media) == 1 else "fiber"
        lines.append(f"  {_q(own[0])} -- served [style={MEDIUM_STYLE.get(med, 'solid')}, "
                     f"color={_q(MEDIUM_COLOUR.get(med, '#6b7280'))}, penwidth=1.5];")
    else:
        for mine, mine_if, peer, peer_if, lk in down:
            pd = inv.devices.get(peer)
            pst = inv.sites.get(pd.site) if pd else None
            medium, bw = lk.medium, lk.bandwidth_mbps
            lines.append(f"  {_q(peer)} [label={_q(f'{peer}{chr(10)}{pst.name if pst else peer}')}, "
                         f"fillcolor=\"#f3f4f6\", color=\"#9ca3af\", fontcolor=\"#374151\"];")
            label = f"{mine_if} ↔ {peer_if}\n{lk.prefix}\n{medium}" + (f" {bw:g} Mb/s" if bw else "")
            lines.append(f"  {_q(mine)} -- {_q(peer)} [label={_q(label)}, style={MEDIUM_STYLE.get(medium, 'solid')}, "
                         f"color={_q(MEDIUM_COLOUR.get(medium, '#6b7280'))}, penwidth=1.5];")
    info = [("Situs / site", site), ("Jenis / type", st.type)]
    if loc is not None:
        if loc.address:
            info.append(("Alamat / address", loc.address))
        if loc.kecamatan:
            info.append(("Kecamatan", loc.kecamatan))
        if loc.lat is not None and loc.lon is not None:
            info.append(("Koordinat", f"{loc.lat:.5f}, {loc.lon:.5f}"))
    if st.lan:
        info.append(("LAN", str(st.lan)))
    if st.uplink:
        info.append(("Uplink", st.uplink))
    info.append(("Router", ", ".join(own) or "-"))
    if servers:
        info.append(("Server", ", ".join(servers)))
    info_rows = "".join(f"<TR><TD ALIGN=\"LEFT\"><B>{escape(k)}</B></TD><TD ALIGN=\"LEFT\">{escape(v)}</TD></TR>"
                        for k, v in info)
    lines.append(f"  info [shape=plain, label=<<TABLE BORDER=\"1\" CELLBORDER=\"0\" CELLPADDING=\"3\" "
                 f"BGCOLOR=\"#ffffff\" COLOR=\"#9ca3af\">{info_rows}</TABLE>>];")
    lines.append("}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class PageSize:
    """What a rendered SVG page measures: its size in points and the smallest text on it."""

    width_pt: float
    height_pt: float
    scale: float
    min_font_pt: float

    def fits(self, page: tuple[float, float] = A3_PT, min_font: float = MIN_FONT_PT) -> bool:
        """Within ``page`` (either orientation) with no text below ``min_font`` points."""
        w, h = sorted((self.width_pt, self.height_pt))
        pw, ph = sorted(page)
        return w <= pw + 0.5 and h <= ph + 0.5 and self.min_font_pt + 1e-6 >= min_font


def measure_svg(svg: str) -> PageSize:
    """The page size and the smallest printed font of a Graphviz SVG (font size × the scale
    Graphviz applied to fit ``size``)."""
    import re

    m = re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', svg)
    if not m:
        raise SimpulError("not a Graphviz SVG (no width/height in pt)")
    sc = re.search(r'class="graph" transform="scale\(([\d.]+)', svg)
    scale = float(sc.group(1)) if sc else 1.0
    fonts = [float(f) for f in re.findall(r'font-size="([\d.]+)"', svg)]
    return PageSize(float(m.group(1)), float(m.group(2)), scale, min(fonts, default=0.0) * scale)


def fit_overview(inv: Inventory, *, today: date | None = None) -> tuple[str, PageSize]:
    """The overview whose layout prints largest on A3: tries block widths of 5–9 columns
    and keeps the one Graphviz has to shrink least."""
    best: tuple[str, PageSize] | None = None
    for cols in (5, 6, 7, 8, 9):
        dot = overview_dot(inv, today=today, cols=cols)
        size = measure_svg(render_bytes(dot, "svg").decode())
        if best is None or size.scale > best[1].scale:
            best = (dot, size)
        if size.scale >= 1.0:
            break
    assert best is not None
    return best


def bundle_sites(inv: Inventory) -> list[str]:
    """The sites that get a page in the bundle: every OPD, desa and kelurahan with a router."""
    with_dev = {d.site for d in inv.devices.values()}
    return sorted((s for s, st in inv.sites.items()
                   if st.type in ("opd", *LEAF_SITES) and s in with_dev),
                  key=lambda s: (inv.sites[s].type != "opd", s))
