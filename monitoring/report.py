"""Render the SLA report: self-contained HTML (inline SVG charts, no CDN) and CSV, id/en.

The HTML has a summary table, a bar chart of availability per entity against its target and an
outage timeline per entity across the month (down = red, no data = grey, maintenance = blue).
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from .sla import DEFAULT_TZ, SlaRow

TEXT: dict[str, dict[str, str]] = {
    "id": {
        "title": "Laporan Ketersediaan Layanan (SLA)",
        "period": "Periode",
        "by": "Per",
        "generated": "Dibuat",
        "entity": "Entitas",
        "name": "Nama",
        "kind": "Jenis",
        "target": "Target (%)",
        "availability": "Ketersediaan (%)",
        "met": "Tercapai",
        "downtime": "Waktu henti (menit)",
        "maintenance": "Pemeliharaan (menit)",
        "nodata": "Tanpa data (menit)",
        "incidents": "Insiden",
        "reboots": "Reboot",
        "yes": "ya",
        "no": "tidak",
        "na": "t/a",
        "chart_avail": "Ketersediaan per entitas terhadap target",
        "chart_timeline": "Linimasa gangguan",
        "legend": "Merah: gangguan · Abu-abu: tanpa data · Biru: pemeliharaan terjadwal",
        "summary": "{met} dari {n} entitas memenuhi target; total waktu henti {down:.1f} menit "
                   "dalam {inc} insiden; {reboots} reboot.",
        "basis": "Dasar: Pergub Jateng (rancangan 2025) Pasal 7, 11, 16; Perbup Temanggung "
                 "83/2021 Pasal 14(8). Waktu pemeliharaan yang diumumkan tidak dihitung "
                 "sebagai waktu henti.",
        "device": "perangkat", "server": "server", "service": "layanan", "opd": "OPD",
        "desa": "desa", "kelurahan": "kelurahan",
    },
    "en": {
        "title": "Service Availability (SLA) Report",
        "period": "Period",
        "by": "By",
        "generated": "Generated",
        "entity": "Entity",
        "name": "Name",
        "kind": "Kind",
        "target": "Target (%)",
        "availability": "Availability (%)",
        "met": "Met",
        "downtime": "Downtime (min)",
        "maintenance": "Maintenance (min)",
        "nodata": "No data (min)",
        "incidents": "Incidents",
        "reboots": "Reboots",
        "yes": "yes",
        "no": "no",
        "na": "n/a",
        "chart_avail": "Availability per entity against target",
        "chart_timeline": "Outage timeline",
        "legend": "Red: outage · Grey: no data · Blue: declared maintenance",
        "summary": "{met} of {n} entities met their target; total downtime {down:.1f} minutes "
                   "in {inc} incidents; {reboots} reboots.",
        "basis": "Basis: Pergub Jateng (draft 2025) Pasal 7, 11, 16; Perbup Temanggung 83/2021 "
                 "Pasal 14(8). Declared maintenance is not counted as downtime.",
        "device": "device", "server": "server", "service": "service", "opd": "OPD",
        "desa": "village", "kelurahan": "kelurahan",
    },
}

CSV_COLUMNS = ("entity", "name", "kind", "target", "availability", "met", "downtime",
               "maintenance", "nodata", "incidents", "reboots")


def _t(lang: str) -> dict[str, str]:
    if lang not in TEXT:
        from simpul.errors import UsageError

        raise UsageError(f"--lang {lang}: use id or en")
    return TEXT[lang]


def _fmt_pct(v: float | None, t: dict[str, str]) -> str:
    return t["na"] if v is None else f"{v:.3f}"


def _met(v: bool | None, t: dict[str, str]) -> str:
    return t["na"] if v is None else t["yes"] if v else t["no"]


def _cells(r: SlaRow, t: dict[str, str]) -> list[str]:
    return [
        r.entity, r.name, t.get(r.kind, r.kind), f"{r.target:g}", _fmt_pct(r.availability, t),
        _met(r.met, t), f"{r.downtime_min:.1f}", f"{r.maintenance_s / 60:.1f}",
        f"{r.nodata_s / 60:.1f}", str(r.incidents), str(r.reboots),
    ]


def to_csv(rows: Sequence[SlaRow], lang: str = "id") -> str:
    t = _t(lang)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([t[c] for c in CSV_COLUMNS])
    for r in rows:
        w.writerow(_cells(r, t))
    return buf.getvalue()


def _bar_chart(rows: Sequence[SlaRow], t: dict[str, str]) -> str:
    """Horizontal bars: availability on a scale from the worst value (or 95 %) to 100 %."""
    vals = [r.availability for r in rows if r.availability is not None]
    lo = min([95.0, *vals, *(r.target for r in rows)])
    lo = max(0.0, float(int(lo)) - (1 if lo == int(lo) else 0))
    w, label_w, bar_h, gap = 760, 220, 16, 6
    h = len(rows) * (bar_h + gap) + 30
    span = 100.0 - lo or 1.0

    def x(v: float) -> float:
        return label_w + (v - lo) / span * (w - label_w - 60)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img" '
             f'aria-label="{html.escape(t["chart_avail"])}" font-family="sans-serif" font-size="11">']
    for i, r in enumerate(rows):
        y = 10 + i * (bar_h + gap)
        a = r.availability
        parts.append(f'<text x="{label_w - 6}" y="{y + 12}" text-anchor="end">'
                     f'{html.escape(r.entity)}</text>')
        if a is not None:
            color = "#2e7d32" if r.met else "#c62828"
            parts.append(f'<rect x="{label_w}" y="{y}" width="{max(1.0, x(a) - label_w):.1f}" '
                         f'height="{bar_h}" fill="{color}"><title>{html.escape(r.entity)}: '
                         f'{a:.3f}%</title></rect>')
            parts.append(f'<text x="{x(a) + 4:.1f}" y="{y + 12}">{a:.3f}%</text>')
        tx = x(r.target)
        parts.append(f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{y - 2}" y2="{y + bar_h + 2}" '
                     f'stroke="#000" stroke-width="2"><title>target {r.target}%</title></line>')
    axis_y = h - 12
    for v in (lo, lo + span / 2, 100.0):
        parts.append(f'<text x="{x(v):.1f}" y="{axis_y + 10}" text-anchor="middle">{v:g}%</text>')
    parts.append("</svg>")
    return "".join(parts)


def _timeline(rows: Sequence[SlaRow], start: float, end: float, t: dict[str, str]) -> str:
    w, label_w, row_h = 760, 220, 14
    h = len(rows) * (row_h + 6) + 24
    total = end - start

    def x(v: float) -> float:
        return label_w + (v - start) / total * (w - label_w - 10)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img" '
             f'aria-label="{html.escape(t["chart_timeline"])}" font-family="sans-serif" '
             f'font-size="11">']
    for i, r in enumerate(rows):
        y = 6 + i * (row_h + 6)
        parts.append(f'<text x="{label_w - 6}" y="{y + 11}" text-anchor="end">'
                     f'{html.escape(r.entity)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y}" width="{w - label_w - 10}" height="{row_h}" '
                     f'fill="#e8f5e9"/>')
        for spans, color in ((r.nodata, "#9e9e9e"), (r.maintenance, "#1565c0"),
                             (r.outages, "#c62828")):
            for s, e in spans:
                parts.append(f'<rect x="{x(s):.2f}" y="{y}" width="{max(1.0, x(e) - x(s)):.2f}" '
                             f'height="{row_h}" fill="{color}"><title>{html.escape(r.entity)} '
                             f'{(e - s) / 60:.1f} min</title></rect>')
    parts.append("</svg>")
    return "".join(parts)


def to_html(rows: Sequence[SlaRow], *, month: str, by: str, start: float, end: float,
            organisation: str = "", lang: str = "id", tz: str = DEFAULT_TZ,
            generated: datetime | None = None) -> str:
    t = _t(lang)
    gen = (generated or datetime.now(ZoneInfo(tz))).strftime("%Y-%m-%d %H:%M %Z")
    measured = [r for r in rows if r.met is not None]
    summary = t["summary"].format(
        met=sum(1 for r in measured if r.met), n=len(rows),
        down=sum(r.downtime_min for r in rows), inc=sum(r.incidents for r in rows),
        reboots=sum(r.reboots for r in rows),
    )
    head = "".join(f"<th>{html.escape(t[c])}</th>" for c in CSV_COLUMNS)
    body = []
    for r in rows:
        cls = "" if r.met is None else ' class="ok"' if r.met else ' class="bad"'
        body.append(f"<tr{cls}>" + "".join(f"<td>{html.escape(c)}</td>" for c in _cells(r, t))
                    + "</tr>")
    return f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<title>{html.escape(t["title"])} {html.escape(month)}</title>
<style>
body{{font-family:sans-serif;margin:2em;color:#212121}}
table{{border-collapse:collapse;font-size:13px}} td,th{{border:1px solid #bdbdbd;padding:3px 6px}}
th{{background:#eeeeee}} tr.bad td{{background:#ffebee}} tr.ok td:nth-child(6){{color:#2e7d32}}
.note{{color:#616161;font-size:12px}}
</style></head><body>
<h1>{html.escape(t["title"])}</h1>
<p>{html.escape(organisation)}<br>
{html.escape(t["period"])}: <b>{html.escape(month)}</b> ({html.escape(tz)}) ·
{html.escape(t["by"])}: <b>{html.escape(t.get(by, by))}</b> ·
{html.escape(t["generated"])}: {html.escape(gen)}</p>
<p><b>{html.escape(summary)}</b></p>
<table><thead><tr>{head}</tr></thead><tbody>
{"".join(body)}
</tbody></table>
<h2>{html.escape(t["chart_avail"])}</h2>
{_bar_chart(rows, t)}
<h2>{html.escape(t["chart_timeline"])}</h2>
<p class="note">{html.escape(t["legend"])}</p>
{_timeline(rows, start, end, t)}
<p class="note">{html.escape(t["basis"])}</p>
</body></html>
"""
