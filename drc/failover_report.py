"""The *Berita Acara Uji Failover* (failover drill report): HTML in Bahasa Indonesia and English,
self-contained (inline CSS and SVG, no external resources), from the drill's JSON (pure).

The timeline chart draws every acknowledged write as a tick in the lane of the server that
acknowledged it, failed writes in their own lane, who held the service address and who accepted
writes (from the observers on each server), and the drill's events as vertical lines — so the
takeover, the pause and any split brain are visible at a glance.
"""

from __future__ import annotations

import html
from importlib import resources
from typing import Any

import jinja2
import markupsafe

LANE_COLORS = ["#1d4ed8", "#b45309", "#047857", "#7c3aed"]
SCENARIO_TEXT = {
    "switchover": ("Switchover terencana", "Planned switchover"),
    "crash": ("Kerusakan mendadak server primer", "Crash of the primary"),
    "site-loss": ("Kehilangan situs Pusat Data", "Loss of the primary's site"),
    "partition": ("Partisi jaringan antar-situs", "Network partition between the sites"),
    "failback": ("Kembali ke Pusat Data", "Failback to the Pusat Data"),
}


def _x(t: float, t0: float, span: float, left: float, width: float) -> float:
    return left + (t - t0) / span * width


def timeline_svg(report: dict[str, Any], width: int = 960) -> str:
    """The drill as an inline SVG: write lanes per server, errors, address/writable bars, events."""
    acks = report["writes"]["acks"]
    errors = report["writes"]["errors"]
    samples = report.get("samples", {})
    events = report.get("timeline", [])
    nodes = sorted({a[2] for a in acks} | set(samples), key=lambda n: (n != report["cluster"]["primary"], n))
    times = [a[0] for a in acks] + [e[0] for e in errors] + [e["t"] for e in events]
    if not times:
        return "<p>(no data)</p>"
    t0, t1 = min(times), max(times)
    span = max(t1 - t0, 1.0)
    left, right, lane_h, gap = 110.0, 20.0, 34.0, 14.0
    inner = width - left - right
    lanes = [*nodes, "errors"]
    top = 30.0
    height = int(top + len(lanes) * (lane_h + gap) + 40 + 14 * min(len(events), 12))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
           f'role="img" aria-label="timeline" font-family="DejaVu Sans, sans-serif" font-size="11">']
    out.append(f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fff"/>')
    # axis (seconds since the first event)
    step = next(s for s in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600) if span / s <= 12)
    axis_y = top + len(lanes) * (lane_h + gap)
    for k in range(int(span // step) + 1):
        x = _x(t0 + k * step, t0, span, left, inner)
        out.append(f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{axis_y}" stroke="#e5e7eb"/>')
        out.append(f'<text x="{x:.1f}" y="{axis_y + 14}" text-anchor="middle" fill="#374151">'
                   f'{k * step} s</text>')
    for i, lane in enumerate(lanes):
        y = top + i * (lane_h + gap)
        color = "#dc2626" if lane == "errors" else LANE_COLORS[i % len(LANE_COLORS)]
        label = "gagal / failed" if lane == "errors" else lane
        out.append(f'<text x="{left - 8}" y="{y + lane_h / 2 + 4}" text-anchor="end" fill="#111827">'
                   f'{html.escape(label)}</text>')
        out.append(f'<rect x="{left}" y="{y}" width="{inner}" height="{lane_h}" fill="#f9fafb" '
                   f'stroke="#e5e7eb"/>')
        pts = [e[0] for e in errors] if lane == "errors" else [a[0] for a in acks if a[2] == lane]
        if pts:
            d = " ".join(f"M{_x(t, t0, span, left, inner):.1f} {y + 4:.1f}v{lane_h - 12:.1f}" for t in pts)
            out.append(f'<path d="{d}" stroke="{color}" stroke-width="1" opacity="0.7"/>')
        if lane != "errors":
            for key, yy, col in (("vip", y + lane_h - 6, "#f59e0b"), ("writable", y + lane_h - 3, "#10b981")):
                ss = samples.get(lane, [])
                for a, b in zip(ss, [*ss[1:], None], strict=True):
                    if a.get(key) is True:
                        xa = _x(a["t"], t0, span, left, inner)
                        xb = _x(b["t"] if b else a["t"] + 0.5, t0, span, left, inner)
                        out.append(f'<rect x="{xa:.1f}" y="{yy}" width="{max(xb - xa, 1):.1f}" '
                                   f'height="3" fill="{col}"/>')
    for j, e in enumerate(events[:12]):
        x = _x(e["t"], t0, span, left, inner)
        col = {"inject": "#dc2626", "takeover": "#2563eb", "failback": "#2563eb", "heal": "#059669",
               "rejoin": "#059669"}.get(e["kind"], "#6b7280")
        out.append(f'<line x1="{x:.1f}" y1="{top - 8}" x2="{x:.1f}" y2="{axis_y}" stroke="{col}" '
                   'stroke-dasharray="4 3"/>')
        out.append(f'<text x="{x + 3:.1f}" y="{top - 10}" fill="{col}" font-size="10">{j + 1}</text>')
        ly = axis_y + 30 + 14 * j
        out.append(f'<text x="{left}" y="{ly}" fill="{col}">{j + 1}. +{e["t"] - t0:.2f} s — '
                   f'{html.escape(e["id"])} / {html.escape(e["en"])}</text>')
    lx = width - right - 420
    out.append(f'<rect x="{lx}" y="4" width="10" height="4" fill="#f59e0b"/><text x="{lx + 14}" y="10" '
               'fill="#374151">alamat layanan / service address</text>')
    out.append(f'<rect x="{lx + 190}" y="4" width="10" height="4" fill="#10b981"/><text x="{lx + 204}" '
               'y="10" fill="#374151">menerima tulis / writable</text>')
    out.append("</svg>")
    return "\n".join(out)


def render_html(report: dict[str, Any]) -> str:
    """The report as one self-contained HTML page (both languages)."""
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    tpl = env.from_string((resources.files("simpul.drc") / "templates" /
                           "failover_report.html.j2").read_text())
    m = report["metrics"]
    takeovers = {t["label"]: t for t in m["takeovers"]}
    sc = SCENARIO_TEXT.get(report["scenario"], (report["scenario"], report["scenario"]))
    t0 = report.get("t0") or 0
    return tpl.render(r=report, m=m, takeovers=takeovers, scenario_id=sc[0], scenario_en=sc[1],
                      svg=markupsafe.Markup(timeline_svg(report)),  # noqa: S704 - built here, escaped
                      events=[{**e, "dt": e["t"] - t0} for e in report["timeline"]])
