"""The *Berita Acara Uji Pemulihan Data* (restore drill record) as one self-contained HTML page
in Bahasa Indonesia and English (pure).

Input is the drill record's JSON (:meth:`simpul.drc.drill.DrillRecord.to_dict`), so a stored
record can be rendered again later. No external resource: CSS inline, the timeline an inline
SVG; it prints on A4 and opens offline.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

HARI = ["Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu"]
BULAN = ["Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September",
         "Oktober", "November", "Desember"]
ZONES = {"WIB": 7, "WITA": 8, "WIT": 9}

KIND_TEXT = {
    "pack": ("paket data repositori rusak", "damaged repository pack"),
    "restore": ("galat saat restore", "restore error"),
    "manifest": ("manifest tidak ada", "manifest missing"),
    "file": ("berkas tidak sesuai manifest", "file does not match the manifest"),
    "dump": ("dump basis data tidak sesuai", "database dump does not match"),
    "database": ("basis data gagal dipulihkan", "database restore failed"),
    "table": ("tabel tidak sesuai catatan saat backup", "table differs from the backup-time record"),
    "smoke": ("kueri uji gagal", "smoke query failed"),
    "target": ("target tidak tercapai", "target missed"),
    "cleanup": ("scratch tidak terhapus", "scratch not removed"),
    "step": ("langkah gagal", "step failed"),
}


def human_bytes(n: Any) -> str:
    if n is None:
        return "-"
    v = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if v < 1024 or unit == "TiB":
            return f"{v:.0f} {unit}" if unit == "B" else f"{v:.1f} {unit}"
        v /= 1024
    return f"{v:.1f} TiB"


def human_seconds(s: Any) -> str:
    if s is None:
        return "-"
    secs = float(s)
    if secs < 120:
        return f"{secs:.1f} s"
    td = int(secs)
    d, r = divmod(td, 86400)
    h, r = divmod(r, 3600)
    m, sec = divmod(r, 60)
    parts = [f"{d} hari/d" if d else "", f"{h} j/h" if h else "", f"{m} mnt/min" if m else "",
             f"{sec} dtk/s" if sec and not d else ""]
    return " ".join(p for p in parts if p)


def local(iso: str | None, zone: str) -> dict[str, str]:
    """Date and time in the zone (WIB/WITA/WIT), with the Indonesian day and month names."""
    if not iso:
        return {"hari": "-", "tanggal": "-", "jam": "-", "date_en": "-", "iso": "-"}
    t = datetime.fromisoformat(iso).astimezone(timezone(timedelta(hours=ZONES.get(zone, 7))))
    return {"hari": HARI[t.weekday()], "tanggal": f"{t.day} {BULAN[t.month - 1]} {t.year}",
            "jam": t.strftime("%H.%M"), "date_en": t.strftime("%A, %d %B %Y, %H:%M"),
            "iso": t.isoformat(timespec="seconds")}


def timeline_svg(steps: list[dict[str, Any]], width: int = 640, row: int = 18) -> dict[str, Any]:
    """Bars for the timeline (start/length in pixels); the template draws them as inline SVG."""
    if not steps:
        return {"width": width, "height": row, "bars": [], "total": 0}
    total = max(s["end_s"] for s in steps) or 1.0
    label_w = 230
    scale = (width - label_w - 10) / total
    bars = []
    for i, s in enumerate(steps):
        bars.append({"y": i * row, "x": label_w + s["start_s"] * scale,
                     "w": max(1.5, s["seconds"] * scale), "ok": s["ok"],
                     "label": f"{s['step']} · {s['unit']}"[:42], "seconds": s["seconds"]})
    return {"width": width, "height": len(steps) * row + 20, "bars": bars, "total": total,
            "label_w": label_w, "axis_y": len(steps) * row + 12,
            "ticks": [{"x": label_w + f * total * scale, "t": f"{f * total:.0f} s"}
                      for f in (0, 0.25, 0.5, 0.75, 1.0)]}


def render_html(data: dict[str, Any], zone: str = "WIB") -> str:
    env = Environment(loader=PackageLoader("simpul.drc", "templates"),
                      autoescape=select_autoescape(["html", "j2"]), trim_blocks=True,
                      lstrip_blocks=True)
    env.filters["bytes"] = human_bytes
    env.filters["secs"] = human_seconds
    tmpl = env.get_template("berita_acara.html.j2")
    verified = {
        "files": sum(u.get("files_checked") or 0 for u in data.get("units", [])),
        "file_bytes": sum(u.get("files_bytes") or 0 for u in data.get("units", [])),
        "tables": sum(len(u.get("tables") or []) for u in data.get("units", [])),
        "rows": sum(int(t.get("rows") or 0) for u in data.get("units", []) for t in u.get("tables") or []),
        "restored": sum(u.get("restored_bytes") or 0 for u in data.get("units", [])),
        "smoke": sum(len(u.get("smoke") or []) for u in data.get("units", [])),
    }
    return tmpl.render(d=data, zone=zone, start=local(data.get("started"), zone),
                       end=local(data.get("finished"), zone), kinds=KIND_TEXT, v=verified,
                       tl=timeline_svg(data.get("timeline", [])),
                       snap_time=lambda iso: local(iso, zone))
