"""Render the SLA report: self-contained HTML (inline SVG charts, no script, no CDN), CSV and
table rows, in Bahasa Indonesia and English.

The monthly HTML answers a NOC head's questions in order: the verdict per entity (with the data
coverage it rests on and the change against the previous month), availability against the
target, *when* each outage happened on a real time axis (days of the month; an outage of a few
minutes still shows as a mark with its times in the tooltip), and the outage list (start, end,
duration, cause, whether declared maintenance covered it). The year view has twelve months per
entity for the annual evaluation (Pergub Jateng draft 2025 Pasal 16).
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from simpul.errors import UsageError

from .sla import DEFAULT_TZ, Outage, SlaRow, YearRow, tz_label

TEXT: dict[str, dict[str, str]] = {
    "id": {
        "title": "Laporan Ketersediaan Layanan (SLA)",
        "title_year": "Laporan Ketersediaan Layanan (SLA) Tahunan",
        "title_outages": "Daftar gangguan",
        "period": "Periode",
        "by": "Per",
        "generated": "Dibuat",
        "tz": "Zona waktu",
        "entity": "Entitas",
        "name": "Nama",
        "kind": "Jenis",
        "target": "Target (%)",
        "availability": "Ketersediaan (%)",
        "coverage": "Cakupan data (%)",
        "verdict": "Hasil",
        "met": "Tercapai",
        "delta": "Δ vs {prev} (poin %)",
        "downtime": "Waktu henti (menit)",
        "maintenance": "Pemeliharaan (menit)",
        "nodata": "Tanpa data (menit)",
        "incidents": "Insiden",
        "delta_incidents": "Δ insiden",
        "reboots": "Reboot",
        "prev_availability": "Ketersediaan {prev} (%)",
        "prev_incidents": "Insiden {prev}",
        "yes": "ya",
        "no": "tidak",
        "na": "t/a",
        "v_met": "tercapai",
        "v_missed": "tidak tercapai",
        "v_insufficient": "data tidak cukup",
        "v_nodata": "tanpa data",
        "chart_avail": "Ketersediaan per entitas terhadap target",
        "chart_timeline": "Linimasa gangguan",
        "legend": "Merah: gangguan (lebar minimum 3 piksel agar gangguan singkat tetap terlihat; "
                  "arahkan kursor untuk waktunya) · Abu-abu: tanpa data · Biru: pemeliharaan "
                  "terjadwal · Latar abu-abu muda: Sabtu/Minggu",
        "legend_future": " · Putih: belum terjadi (bulan berjalan)",
        "start": "Mulai",
        "end": "Selesai",
        "duration": "Durasi (menit)",
        "counted": "Dihitung sebagai waktu henti (menit)",
        "cause": "Penyebab",
        "detail": "Rincian",
        "covered": "Dalam pemeliharaan",
        "ongoing": "Berlangsung",
        "still_ongoing": "masih berlangsung",
        "c_link": "link putus",
        "c_unreachable": "perangkat tidak terjangkau",
        "c_reboot": "reboot",
        "c_none": "tidak diketahui",
        "m_none": "tidak",
        "m_partial": "sebagian",
        "m_full": "ya, seluruhnya",
        "no_outages": "Tidak ada gangguan dalam periode ini.",
        "summary_met": "Target tercapai: {met} dari {n} entitas.",
        "summary_missed": "Tidak tercapai: {n}.",
        "summary_insufficient": "Data tidak cukup untuk menilai: {n}.",
        "summary_nodata": "Tanpa data: {n}.",
        "summary_down": "Total waktu henti {down} menit dalam {inc} insiden; {reboots} reboot.",
        "compare": "Dibanding {prev} ({n} entitas dengan data): membaik {better}, memburuk "
                   "{worse}, tetap {same}; insiden {inc_prev} → {inc_now}.",
        "no_compare": "Belum ada data bulan sebelumnya ({prev}) untuk perbandingan.",
        "coverage_note": "Cakupan data = waktu yang terukur ÷ (periode − pemeliharaan). Di bawah "
                         "{min}% hasilnya \u201cdata tidak cukup\u201d, kecuali waktu henti yang "
                         "sudah terukur melebihi batas target untuk seluruh periode.",
        "basis": "Dasar: Pergub Jateng (rancangan 2025) Pasal 7, 11, 16; Perbup Temanggung "
                 "83/2021 Pasal 14(8). Waktu pemeliharaan yang diumumkan tidak dihitung "
                 "sebagai waktu henti.",
        "year": "Tahun",
        "year_total": "Setahun",
        "year_legend": "Hijau: tercapai · Merah: tidak tercapai · Kuning: data tidak cukup · "
                       "Abu-abu: tanpa data · kosong: belum dilaporkan",
        "device": "perangkat", "server": "server", "service": "layanan", "opd": "OPD",
        "desa": "desa", "kelurahan": "kelurahan",
    },
    "en": {
        "title": "Service Availability (SLA) Report",
        "title_year": "Annual Service Availability (SLA) Report",
        "title_outages": "Outage list",
        "period": "Period",
        "by": "By",
        "generated": "Generated",
        "tz": "Time zone",
        "entity": "Entity",
        "name": "Name",
        "kind": "Kind",
        "target": "Target (%)",
        "availability": "Availability (%)",
        "coverage": "Coverage (%)",
        "verdict": "Verdict",
        "met": "Met",
        "delta": "Δ vs {prev} (pp)",
        "downtime": "Downtime (min)",
        "maintenance": "Maintenance (min)",
        "nodata": "No data (min)",
        "incidents": "Incidents",
        "delta_incidents": "Δ incidents",
        "reboots": "Reboots",
        "prev_availability": "Availability {prev} (%)",
        "prev_incidents": "Incidents {prev}",
        "yes": "yes",
        "no": "no",
        "na": "n/a",
        "v_met": "met",
        "v_missed": "missed",
        "v_insufficient": "insufficient data",
        "v_nodata": "no data",
        "chart_avail": "Availability per entity against target",
        "chart_timeline": "Outage timeline",
        "legend": "Red: outage (at least 3 pixels wide so that a short outage stays visible; "
                  "hover for its times) · Grey: no data · Blue: declared maintenance · "
                  "Light grey background: Saturday/Sunday",
        "legend_future": " · White: still to come (current month)",
        "start": "Start",
        "end": "End",
        "duration": "Duration (min)",
        "counted": "Counted as downtime (min)",
        "cause": "Cause",
        "detail": "Detail",
        "covered": "Covered by maintenance",
        "ongoing": "Ongoing",
        "still_ongoing": "still ongoing",
        "c_link": "link down",
        "c_unreachable": "device unreachable",
        "c_reboot": "reboot",
        "c_none": "unknown",
        "m_none": "no",
        "m_partial": "partly",
        "m_full": "yes, fully",
        "no_outages": "No outages in this period.",
        "summary_met": "Target met: {met} of {n} {entities}.",
        "summary_missed": "Missed: {n}.",
        "summary_insufficient": "Too little data to judge: {n}.",
        "summary_nodata": "No data: {n}.",
        "summary_down": "Total downtime {down} minutes in {inc} {incidents}; {reboots} {reboots_w}.",
        "compare": "Compared with {prev} ({n} {entities} with data): better {better}, worse "
                   "{worse}, unchanged {same}; incidents {inc_prev} → {inc_now}.",
        "no_compare": "No data for the previous month ({prev}) to compare with.",
        "coverage_note": "Coverage = measured time ÷ (period − maintenance). Below {min}% the "
                         "verdict is \u201cinsufficient data\u201d, unless the downtime already "
                         "measured exceeds the target's allowance for the whole period.",
        "basis": "Basis: Pergub Jateng (draft 2025) Pasal 7, 11, 16; Perbup Temanggung 83/2021 "
                 "Pasal 14(8). Declared maintenance is not counted as downtime.",
        "year": "Year",
        "year_total": "Year",
        "year_legend": "Green: met · Red: missed · Yellow: insufficient data · Grey: no data · "
                       "blank: not reported yet",
        "device": "device", "server": "server", "service": "service", "opd": "OPD",
        "desa": "village", "kelurahan": "kelurahan",
    },
}
MONTHS = {
    "id": ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des"),
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
}
# English nouns that change in the plural; Bahasa Indonesia does not mark the plural on a
# counted noun ("1 insiden", "3 insiden")
PLURALS = {"entity": "entities", "incident": "incidents", "reboot": "reboots",
           "outage": "outages"}

CSV_COLUMNS = ("entity", "name", "kind", "target", "availability", "coverage", "verdict",
               "downtime", "maintenance", "nodata", "incidents", "reboots")
OUTAGE_COLUMNS = ("entity", "name", "start", "end", "tz", "duration", "counted", "cause",
                  "covered", "ongoing", "detail")
VERDICT_COLOUR = {"met": "#2e7d32", "missed": "#c62828", "insufficient": "#f9a825",
                  "nodata": "#9e9e9e"}
VERDICT_BG = {"met": "#e8f5e9", "missed": "#ffebee", "insufficient": "#fff8e1", "nodata": "#eeeeee"}
MIN_MARK_PX = 3.0  # an outage mark is never narrower than this (a 3-minute outage is 0.06 px)


def _t(lang: str) -> dict[str, str]:
    if lang not in TEXT:
        raise UsageError(f"--lang {lang}: use id or en")
    return TEXT[lang]


def plural(n: int, word: str, lang: str) -> str:
    """``1 incident`` / ``2 incidents``; Indonesian counted nouns stay singular."""
    return word if lang == "id" or n == 1 else PLURALS.get(word, word + "s")


def num(v: float, lang: str, digits: int = 1) -> str:
    """A number for people: decimal comma in Bahasa Indonesia, point in English."""
    s = f"{v:,.{digits}f}"
    return s.translate(str.maketrans(",.", ".,")) if lang == "id" else s


def _pct(v: float | None, t: dict[str, str], lang: str = "en", digits: int = 3) -> str:
    return t["na"] if v is None else num(v, lang, digits)


def _verdict(r: SlaRow | None, t: dict[str, str]) -> str:
    return "" if r is None else t[f"v_{r.verdict}"]


def _local(ts: float, tz: str, seconds: bool = False) -> str:
    return datetime.fromtimestamp(ts, ZoneInfo(tz)).strftime(
        "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def _span_text(s: float, e: float, tz: str) -> str:
    """``2026-10-07 09:58–10:01 WIB`` (the end's date only when it differs)."""
    z = ZoneInfo(tz)
    a, b = datetime.fromtimestamp(s, z), datetime.fromtimestamp(e, z)
    end = b.strftime("%H:%M") if a.date() == b.date() else b.strftime("%Y-%m-%d %H:%M")
    return f"{a.strftime('%Y-%m-%d %H:%M')}–{end} {tz_label(tz)}"


def duration(seconds: float, lang: str) -> str:
    """``40 s`` / ``3 min`` / ``2,5 menit`` / ``1 h 5 min`` / ``2 hari 3 jam`` for people."""
    unit = {"id": ("menit", "jam", "hari"), "en": ("min", "h", "d")}[lang]
    m = seconds / 60
    if seconds < 60:
        return f"{round(seconds)} {'detik' if lang == 'id' else 's'}"
    if m < 10:
        v = round(m, 1)
        return f"{num(v, lang, 0 if v == int(v) else 1)} {unit[0]}"
    if m < 60:
        return f"{round(m)} {unit[0]}"
    h, mm = divmod(round(m), 60)
    if h < 24:
        return f"{h} {unit[1]} {mm} {unit[0]}" if mm else f"{h} {unit[1]}"
    d, hh = divmod(h, 24)
    return f"{d} {unit[2]} {hh} {unit[1]}" if hh else f"{d} {unit[2]}"


def _cause(o: Outage, t: dict[str, str]) -> str:
    return t[f"c_{o.cause or 'none'}"]


# --- tables (terminal and CSV) ---------------------------------------------------------------


def _cells(r: SlaRow, t: dict[str, str]) -> list[str]:
    cov = r.coverage
    return [
        r.entity, r.name, t.get(r.kind, r.kind), f"{r.target:g}", _pct(r.availability, t),
        t["na"] if cov is None else f"{cov:.1f}", _verdict(r, t), f"{r.downtime_min:.1f}",
        f"{r.maintenance_s / 60:.1f}", f"{r.nodata_s / 60:.1f}", str(r.incidents), str(r.reboots),
    ]


def summary_header(t: dict[str, str], prev_month: str | None = None) -> list[str]:
    cols = [t[c] for c in CSV_COLUMNS]
    if prev_month:
        cols += [t["prev_availability"].format(prev=prev_month), t["delta"].format(prev=prev_month),
                 t["prev_incidents"].format(prev=prev_month), t["delta_incidents"]]
    return cols


def summary_cells(r: SlaRow, t: dict[str, str], with_prev: bool = False) -> list[str]:
    cells = _cells(r, t)
    if with_prev:
        p, d, di = r.previous, r.delta_availability, r.delta_incidents
        cells += ["" if p is None else f"{p.availability:.3f}", "" if d is None else f"{d:+.3f}",
                  "" if p is None else str(p.incidents), "" if di is None else f"{di:+d}"]
    return cells


def outage_header(t: dict[str, str]) -> list[str]:
    return [t[c] for c in OUTAGE_COLUMNS]


def outage_cells(r: SlaRow, o: Outage, t: dict[str, str], tz: str) -> list[str]:
    return [r.entity, r.name, _local(o.start, tz, True),
            t["still_ongoing"] if o.ongoing else _local(o.end, tz, True), tz_label(tz),
            f"{o.seconds / 60:.1f}", f"{o.downtime_s / 60:.1f}", _cause(o, t),
            t[f"m_{o.covered}"], t["yes"] if o.ongoing else t["no"], o.detail]


def terminal_summary(rows: Sequence[SlaRow], t: dict[str, str],
                     prev_month: str | None = None) -> tuple[list[str], list[list[str]]]:
    """The summary for a terminal: the columns a NOC engineer scans (CSV has them all)."""
    cols = ["entity", "target", "availability", "coverage", "verdict", "downtime", "incidents",
            "reboots"]
    head = [t[c] for c in cols]
    if prev_month:
        head += [t["delta"].format(prev=prev_month), t["delta_incidents"]]
    out = []
    for r in rows:
        a, cov = r.availability, r.coverage
        cells = [r.entity, f"{r.target:g}", _pct(a, t), t["na"] if cov is None else f"{cov:.1f}",
                 _verdict(r, t), f"{r.downtime_min:.1f}", str(r.incidents), str(r.reboots)]
        if prev_month:
            d, di = r.delta_availability, r.delta_incidents
            cells += ["" if d is None else f"{d:+.3f}", "" if di is None else f"{di:+d}"]
        out.append(cells)
    return head, out


def terminal_outages(rows: Sequence[SlaRow], t: dict[str, str], lang: str,
                     tz: str) -> tuple[list[str], list[list[str]]]:
    """The outage list for a terminal, oldest first."""
    head = [t["entity"], f'{t["start"]} ({tz_label(tz)})', f'{t["end"]} ({tz_label(tz)})',
            t["duration"], t["counted"], t["cause"], t["covered"]]
    out = [[r.entity, _local(o.start, tz, True),
            t["still_ongoing"] if o.ongoing else _local(o.end, tz, True),
            f"{o.seconds / 60:.1f}", f"{o.downtime_s / 60:.1f}", _cause(o, t), t[f"m_{o.covered}"]]
           for r, o in chronological(rows)]
    return head, out


def to_csv(rows: Sequence[SlaRow], lang: str = "id", *, prev_month: str | None = None) -> str:
    """The per-entity summary, one line per entity (with the previous month's figures when
    ``prev_month`` is given)."""
    t = _t(lang)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(summary_header(t, prev_month))
    for r in rows:
        w.writerow(summary_cells(r, t, bool(prev_month)))
    return buf.getvalue()


def outages_csv(rows: Sequence[SlaRow], lang: str = "id", tz: str = DEFAULT_TZ) -> str:
    """The outage list, one line per outage (times in ``tz``)."""
    t = _t(lang)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(outage_header(t))
    for r, o in chronological(rows):
        w.writerow(outage_cells(r, o, t, tz))
    return buf.getvalue()


def year_header(t: dict[str, str], lang: str) -> list[str]:
    return [t["entity"], t["name"], t["target"], *MONTHS[lang], t["year_total"], t["coverage"],
            t["verdict"]]


def year_cells(y: YearRow, t: dict[str, str]) -> list[str]:
    def cell(r: SlaRow | None) -> str:
        if r is None:
            return ""
        a = r.availability
        return t["na"] if a is None else f"{a:.3f}"

    cov = y.total.coverage
    return [y.entity, y.name, f"{y.target:g}", *(cell(r) for r in y.months), cell(y.total),
            t["na"] if cov is None else f"{cov:.1f}", _verdict(y.total, t)]


def year_csv(rows: Sequence[YearRow], lang: str = "id") -> str:
    t = _t(lang)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(year_header(t, lang))
    for y in rows:
        w.writerow(year_cells(y, t))
    return buf.getvalue()


# --- charts ----------------------------------------------------------------------------------


def _esc(s: str) -> str:
    return html.escape(s, quote=True)


def _bar_chart(rows: Sequence[SlaRow], t: dict[str, str], lang: str) -> str:
    """Horizontal bars: availability on a scale from the worst value (or 95 %) to 100 %."""
    vals = [r.availability for r in rows if r.availability is not None]
    lo = min([95.0, *vals, *(r.target for r in rows)])
    lo = max(0.0, float(int(lo)) - (1 if lo == int(lo) else 0))
    w, label_w, bar_h, gap = 1000, 230, 16, 6
    h = len(rows) * (bar_h + gap) + 30
    span = 100.0 - lo or 1.0

    def x(v: float) -> float:
        return label_w + (v - lo) / span * (w - label_w - 90)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="bars" width="{w}" height="{h}" '
             f'role="img" aria-label="{_esc(t["chart_avail"])}" font-family="DejaVu Sans, sans-serif" '
             f'font-size="11">']
    for i, r in enumerate(rows):
        y = 10 + i * (bar_h + gap)
        a = r.availability
        parts.append(f'<text x="{label_w - 6}" y="{y + 12}" text-anchor="end">'
                     f'{_esc(r.entity)}</text>')
        if a is not None:
            colour = VERDICT_COLOUR[r.verdict]
            parts.append(f'<rect x="{label_w}" y="{y}" width="{max(1.0, x(a) - label_w):.1f}" '
                         f'height="{bar_h}" fill="{colour}"><title>{_esc(r.entity)}: '
                         f'{num(a, lang, 3)}% — {_esc(_verdict(r, t))}</title></rect>')
            parts.append(f'<text x="{x(a) + 4:.1f}" y="{y + 12}">{num(a, lang, 3)}%</text>')
        else:
            parts.append(f'<text x="{label_w + 4}" y="{y + 12}" fill="#757575">'
                         f'{_esc(t["v_nodata"])}</text>')
        tx = x(r.target)
        parts.append(f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{y - 2}" y2="{y + bar_h + 2}" '
                     f'stroke="#000" stroke-width="2"><title>{_esc(t["target"])}: '
                     f'{num(r.target, lang, 3)}</title></line>')
    axis_y = h - 12
    for v in (lo, lo + span / 2, 100.0):
        parts.append(f'<text x="{x(v):.1f}" y="{axis_y + 10}" text-anchor="middle">'
                     f'{num(v, lang, 1)}%</text>')
    parts.append("</svg>")
    return "".join(parts)


def _timeline(rows: Sequence[SlaRow], start: float, end: float, t: dict[str, str], lang: str,
              tz: str, period_end: float | None = None) -> str:
    """The month on a real time axis: one column per day (labelled, weekends shaded), one row
    per entity; outages red with a minimum width, no data grey, maintenance blue."""
    z = ZoneInfo(tz)
    period_end = period_end or end
    w, label_w, row_h, gap, top = 1000, 230, 14, 6, 34
    plot_w = w - label_w - 10
    h = top + len(rows) * (row_h + gap) + 8
    total = (period_end - start) or 1.0

    def x(v: float) -> float:
        return label_w + (v - start) / total * plot_w

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="{w}" height="{h}" '
             f'role="img" aria-label="{_esc(t["chart_timeline"])}" '
             f'font-family="DejaVu Sans, sans-serif" font-size="10">']
    # the axis: midnight of every day in the report's zone
    day = datetime.fromtimestamp(start, z).replace(hour=0, minute=0, second=0, microsecond=0)
    days = []
    while day.timestamp() < period_end:
        days.append(day)
        day = (day + timedelta(days=1, hours=3)).replace(hour=0)  # DST-safe step to next midnight
    label_every = 1 if plot_w / max(1, len(days)) >= 22 else 2
    for k, d in enumerate(days):
        x0 = x(max(d.timestamp(), start))
        nxt = days[k + 1].timestamp() if k + 1 < len(days) else period_end
        x1 = x(min(nxt, period_end))
        if d.weekday() >= 5:
            parts.append(f'<rect class="weekend" x="{x0:.2f}" y="{top - 4}" width="{x1 - x0:.2f}" '
                         f'height="{h - top}" fill="#f3f3f3"/>')
        parts.append(f'<line class="tick" x1="{x0:.2f}" x2="{x0:.2f}" y1="{top - 8}" y2="{h - 4}" '
                     f'stroke="#d0d0d0" stroke-width="0.6"/>')
        if k % label_every == 0:
            parts.append(f'<text class="day" x="{(x0 + x1) / 2:.2f}" y="{top - 10}" '
                         f'text-anchor="middle">{d.day}</text>')
    first = datetime.fromtimestamp(start, z)
    parts.append(f'<text x="{label_w - 6}" y="{top - 10}" text-anchor="end" fill="#616161">'
                 f'{MONTHS[lang][first.month - 1]} {first.year} ({_esc(tz_label(tz))})</text>')
    for i, r in enumerate(rows):
        y = top + i * (row_h + gap)
        parts.append(f'<text x="{label_w - 6}" y="{y + 11}" text-anchor="end">'
                     f'{_esc(r.entity)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y}" width="{x(end) - label_w:.2f}" height="{row_h}" '
                     f'fill="#c8e6c9" fill-opacity="0.7"/>')
        for spans, colour, cls in ((r.nodata, "#9e9e9e", "nodata"),
                                   (r.maintenance, "#1565c0", "maint")):
            for s, e in spans:
                parts.append(f'<rect class="{cls}" x="{x(s):.2f}" y="{y}" '
                             f'width="{max(1.0, x(e) - x(s)):.2f}" height="{row_h}" fill="{colour}">'
                             f'<title>{_esc(r.entity)}: {_esc(_span_text(s, e, tz))} '
                             f'({_esc(duration(e - s, lang))})</title></rect>')
        for o in r.outage_list:
            wd = max(MIN_MARK_PX, x(o.end) - x(o.start))
            xs = min(x(o.start), label_w + plot_w - wd)
            tip = (f"{r.entity}: {_span_text(o.start, o.end, tz)} ({duration(o.seconds, lang)}) — "
                   f"{_cause(o, t)}")
            parts.append(f'<rect class="outage" data-entity="{_esc(r.entity)}" '
                         f'data-start="{o.start:.0f}" data-end="{o.end:.0f}" x="{xs:.2f}" '
                         f'y="{y - 1}" width="{wd:.2f}" height="{row_h + 2}" fill="#c62828">'
                         f'<title>{_esc(tip)}</title></rect>')
    parts.append("</svg>")
    return "".join(parts)


# --- pages -----------------------------------------------------------------------------------

STYLE = """
body{font-family:"DejaVu Sans",Arial,sans-serif;margin:1.5em 2em;color:#212121;max-width:1400px}
h1{font-size:1.5em;margin-bottom:.2em} h2{font-size:1.2em;margin-top:1.6em;border-bottom:2px solid #ccc}
table{border-collapse:collapse;font-size:13px;margin:.4em 0 1em}
td,th{border:1px solid #bdbdbd;padding:3px 6px;vertical-align:top} th{background:#eeeeee;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.ent,td.when{white-space:nowrap;font-variant-numeric:tabular-nums}
.v{font-weight:bold;white-space:nowrap;border-radius:3px;padding:1px 5px}
.v-met{color:#1b5e20;background:#e8f5e9} .v-missed{color:#b71c1c;background:#ffebee}
.v-insufficient{color:#7a5a00;background:#fff8e1} .v-nodata{color:#616161;background:#eeeeee}
tr.missed td{background:#fff5f5}
.better{color:#2e7d32} .worse{color:#c62828}
.sub{color:#616161;font-size:.85em}
.note{color:#616161;font-size:12px}
.lead{font-size:1.05em}
.year td.cell{text-align:right;font-variant-numeric:tabular-nums;min-width:3.6em}
@media print{body{margin:0} h2{break-after:avoid} tr{break-inside:avoid}}
"""


def _head(lang: str, title: str) -> str:
    return (f'<!doctype html>\n<html lang="{lang}"><head><meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{_esc(title)}</title>\n<style>{STYLE}</style></head><body>\n")


def _badge(verdict: str, t: dict[str, str]) -> str:
    return f'<span class="v v-{verdict}">{_esc(t["v_" + verdict])}</span>'


def _delta(r: SlaRow, lang: str) -> str:
    d = r.delta_availability
    if d is None:
        return ""
    cls = "better" if d > 5e-4 else "worse" if d < -5e-4 else ""
    return f'<span class="{cls}">{"+" if d >= 0 else "−"}{num(abs(d), lang, 3)}</span>'


def _summary(rows: Sequence[SlaRow], t: dict[str, str], lang: str) -> list[str]:
    n = len(rows)
    count = {v: sum(1 for r in rows if r.verdict == v) for v in ("met", "missed", "insufficient",
                                                                  "nodata")}
    inc = sum(r.incidents for r in rows)
    reb = sum(r.reboots for r in rows)
    parts = [t["summary_met"].format(met=count["met"], n=n, entities=plural(n, "entity", lang))]
    for v in ("missed", "insufficient", "nodata"):
        if count[v]:
            parts.append(t[f"summary_{v}"].format(n=count[v]))
    parts.append(t["summary_down"].format(
        down=num(sum(r.downtime_min for r in rows), lang), inc=inc,
        incidents=plural(inc, "incident", lang), reboots=reb, reboots_w=plural(reb, "reboot", lang)))
    return parts


def _comparison(rows: Sequence[SlaRow], t: dict[str, str], lang: str, prev_month: str) -> str:
    with_prev = [r for r in rows if r.previous is not None and r.availability is not None]
    if not with_prev:
        return t["no_compare"].format(prev=prev_month)
    deltas = [r.delta_availability or 0.0 for r in with_prev]
    n = len(with_prev)
    return t["compare"].format(
        prev=prev_month, n=n, entities=plural(n, "entity", lang),
        better=sum(1 for d in deltas if d > 5e-4), worse=sum(1 for d in deltas if d < -5e-4),
        same=sum(1 for d in deltas if abs(d) <= 5e-4),
        inc_prev=sum(r.previous.incidents for r in with_prev if r.previous),
        inc_now=sum(r.incidents for r in with_prev))


def chronological(rows: Sequence[SlaRow]) -> list[tuple[SlaRow, Outage]]:
    """Every outage of every row, oldest first (the order a NOC head reads an outage list)."""
    return sorted(((r, o) for r in rows for o in r.outage_list), key=lambda ro: (ro[1].start,
                                                                                 ro[0].entity))


def _sub(r: SlaRow) -> str:
    return f'<div class="sub">{_esc(r.name)}</div>' if r.name != r.entity else ""


def _outage_table(rows: Sequence[SlaRow], t: dict[str, str], lang: str, tz: str) -> str:
    body = []
    for r, o in chronological(rows):
        end = (f"<i>{_esc(t['still_ongoing'])}</i>" if o.ongoing else _esc(_local(o.end, tz)))
        body.append(
            f'<tr class="outage" data-entity="{_esc(r.entity)}" data-start="{o.start:.0f}" '
            f'data-end="{o.end:.0f}"><td class="ent">{_esc(r.entity)}{_sub(r)}</td>'
            f'<td class="when">{_esc(_local(o.start, tz))}</td><td class="when">{end}</td>'
            f'<td class="num">{_esc(duration(o.seconds, lang))}</td>'
            f'<td class="num">{num(o.downtime_s / 60, lang)}</td>'
            f'<td>{_esc(_cause(o, t))}<div class="sub">{_esc(o.detail)}</div></td>'
            f'<td>{_esc(t["m_" + o.covered])}</td></tr>')
    if not body:
        return f'<p class="none">{_esc(t["no_outages"])}</p>'
    head = "".join(f"<th>{_esc(x)}</th>" for x in (
        t["entity"], f'{t["start"]} ({tz_label(tz)})', f'{t["end"]} ({tz_label(tz)})',
        t["duration"].replace(" (menit)", "").replace(" (min)", ""), t["counted"], t["cause"],
        t["covered"]))
    return (f'<table class="outages"><thead><tr>{head}</tr></thead><tbody>\n'
            + "\n".join(body) + "\n</tbody></table>")


def to_html(rows: Sequence[SlaRow], *, month: str, by: str, start: float, end: float,
            organisation: str = "", lang: str = "id", tz: str = DEFAULT_TZ,
            generated: datetime | None = None, prev_month: str | None = None,
            period_end: float | None = None) -> str:
    """The monthly report. ``end`` is where the data stops (now, for the current month);
    ``period_end`` the month's end (the time axis always shows the whole month)."""
    t = _t(lang)
    gen = generated or datetime.now(ZoneInfo(tz))
    gen_s = f"{gen.astimezone(ZoneInfo(tz)).strftime('%Y-%m-%d %H:%M')} {tz_label(tz)}"
    with_prev = bool(prev_month) and any(r.previous is not None for r in rows)
    cols = [t["entity"], t["kind"], t["target"], t["availability"]]
    if with_prev:
        cols.append(t["delta"].format(prev=prev_month))
    cols += [t["coverage"], t["verdict"], t["downtime"], t["incidents"]]
    if with_prev:
        cols.append(t["delta_incidents"])
    cols += [t["maintenance"], t["nodata"], t["reboots"]]
    head = "".join(f"<th>{_esc(c)}</th>" for c in cols)
    body = []
    for r in rows:
        cov = r.coverage
        cells = [f'<td class="ent">{_esc(r.entity)}{_sub(r)}</td>',
                 f"<td>{_esc(t.get(r.kind, r.kind))}</td>",
                 f'<td class="num">{num(r.target, lang, 3).rstrip("0").rstrip(",.")}</td>',
                 f'<td class="num">{_pct(r.availability, t, lang)}</td>']
        if with_prev:
            cells.append(f'<td class="num">{_delta(r, lang)}</td>')
        cells += [f'<td class="num">{t["na"] if cov is None else num(cov, lang)}</td>',
                  f"<td>{_badge(r.verdict, t)}</td>",
                  f'<td class="num">{num(r.downtime_min, lang)}</td>',
                  f'<td class="num">{r.incidents}</td>']
        if with_prev:
            di = r.delta_incidents
            cls = "" if not di else "worse" if di > 0 else "better"
            cells.append(f'<td class="num"><span class="{cls}">'
                         f'{"" if di is None else f"{di:+d}"}</span></td>')
        cells += [f'<td class="num">{num(r.maintenance_s / 60, lang)}</td>',
                  f'<td class="num">{num(r.nodata_s / 60, lang)}</td>',
                  f'<td class="num">{r.reboots}</td>']
        body.append(f'<tr class="entity {r.verdict}" data-entity="{_esc(r.entity)}">'
                    + "".join(cells) + "</tr>")
    min_cov = rows[0].min_coverage if rows else 90.0
    compare = (f'<p class="lead">{_esc(_comparison(rows, t, lang, prev_month))}</p>'
               if prev_month else "")
    return (
        _head(lang, f"{t['title']} {month}")
        + f"<h1>{_esc(t['title'])}</h1>\n"
        + f"<p>{_esc(organisation)}<br>\n{_esc(t['period'])}: <b>{_esc(month)}</b> · "
        + f"{_esc(t['by'])}: <b>{_esc(t.get(by, by))}</b> · {_esc(t['tz'])}: {_esc(tz_label(tz))} · "
        + f"{_esc(t['generated'])}: {_esc(gen_s)}</p>\n"
        + f'<p class="lead"><b>{_esc(" ".join(_summary(rows, t, lang)))}</b></p>\n'
        + compare
        + f'<table class="summary"><thead><tr>{head}</tr></thead><tbody>\n'
        + "\n".join(body) + "\n</tbody></table>\n"
        + f'<p class="note">{_esc(t["coverage_note"].format(min=num(min_cov, lang, 0)))}</p>\n'
        + f"<h2>{_esc(t['chart_timeline'])}</h2>\n"
        + f'<p class="note">{_esc(t["legend"] + (t["legend_future"] if period_end and end < period_end else ""))}</p>\n'
        + _timeline(rows, start, end, t, lang, tz, period_end)
        + f"\n<h2>{_esc(t['title_outages'])}</h2>\n"
        + _outage_table(rows, t, lang, tz)
        + f"\n<h2>{_esc(t['chart_avail'])}</h2>\n"
        + _bar_chart(rows, t, lang)
        + f'\n<p class="note">{_esc(t["basis"])}</p>\n</body></html>\n'
    )


def year_html(rows: Sequence[YearRow], *, year: int, by: str, organisation: str = "",
              lang: str = "id", tz: str = DEFAULT_TZ, generated: datetime | None = None) -> str:
    """Twelve months per entity: availability per month coloured by its verdict, and the year."""
    t = _t(lang)
    gen = generated or datetime.now(ZoneInfo(tz))
    gen_s = f"{gen.astimezone(ZoneInfo(tz)).strftime('%Y-%m-%d %H:%M')} {tz_label(tz)}"

    def cell(r: SlaRow | None) -> str:
        if r is None:
            return '<td class="cell"></td>'
        a = r.availability
        tip = f"{_verdict(r, t)}; {t['coverage']}: " + (
            t["na"] if r.coverage is None else num(r.coverage, lang))
        # a month without data is a grey "–": twelve columns of "n/a" drown the figures
        return (f'<td class="cell" style="background:{VERDICT_BG[r.verdict]}" title="{_esc(tip)}">'
                f'{"–" if a is None else num(a, lang, 3)}</td>')

    head = "".join(f"<th>{_esc(c)}</th>" for c in (
        t["entity"], t["target"], *MONTHS[lang], t["year_total"], t["coverage"], t["verdict"],
        t["incidents"]))
    body = []
    for y in rows:
        cov = y.total.coverage
        body.append(
            f'<tr class="entity" data-entity="{_esc(y.entity)}"><td class="ent">{_esc(y.entity)}'
            + (f'<div class="sub">{_esc(y.name)}</div>' if y.name != y.entity else "") + "</td>"
            + f'<td class="num">{num(y.target, lang, 3).rstrip("0").rstrip(",.")}</td>'
            + "".join(cell(r) for r in y.months) + cell(y.total)
            + f'<td class="num">{t["na"] if cov is None else num(cov, lang)}</td>'
            f"<td>{_badge(y.total.verdict, t)}</td><td class=\"num\">{y.total.incidents}</td></tr>")
    return (
        _head(lang, f"{t['title_year']} {year}")
        + f"<h1>{_esc(t['title_year'])}</h1>\n"
        + f"<p>{_esc(organisation)}<br>\n{_esc(t['year'])}: <b>{year}</b> · {_esc(t['by'])}: "
        + f"<b>{_esc(t.get(by, by))}</b> · {_esc(t['tz'])}: {_esc(tz_label(tz))} · "
        + f"{_esc(t['generated'])}: {_esc(gen_s)}</p>\n"
        + f'<p class="lead"><b>{_esc(" ".join(_summary([y.total for y in rows], t, lang)))}</b></p>\n'
        + f'<p class="note">{_esc(t["year_legend"])}</p>\n'
        + f'<table class="year"><thead><tr>{head}</tr></thead><tbody>\n'
        + "\n".join(body) + "\n</tbody></table>\n"
        + f'<p class="note">{_esc(t["basis"])}</p>\n</body></html>\n'
    )
