"""The topology picture: sites, routers, links and LANs as a Graphviz diagram.

Perbup Temanggung 83/2021 Pasal 22 asks every OPD to submit a current LAN diagram at least
yearly; ``simpul inventory graph --site <opd>`` draws that site's part of the Jaringan Intra,
``simpul inventory graph`` the whole network. The DOT text is built by a pure function
(:func:`to_dot`, tested with golden files); rendering to SVG/PNG uses Graphviz ``dot``.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from pathlib import Path

from simpul.errors import SimpulError, UsageError
from simpul.inventory.models import Inventory

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
    exe = shutil.which("dot")
    if exe is None:
        raise SimpulError("Graphviz 'dot' is not installed", hint="run scripts/setup (package graphviz)")
    cp = subprocess.run([exe, f"-T{fmt}", "-o", str(out)], input=dot, text=True,
                        capture_output=True, timeout=120, check=False)
    if cp.returncode != 0:
        raise SimpulError(f"graphviz failed: {cp.stderr.strip()[:300]}")
