"""Audit report rendering (pure): a self-contained HTML page in Bahasa Indonesia and English.

Input is :func:`simpul.deploys.audit.report_data` (the same dict the JSON output prints), so a
stored JSON report can be re-rendered later. Per host: a score, failing controls first, then
waived, passing and not-applicable ones, each with its references and the evidence.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

ORDER = {"fail": 0, "waived": 1, "pass": 2, "na": 3}

TEXT: dict[str, dict[str, str]] = {
    "title": {"id": "Laporan Audit Hardening Server", "en": "Server Hardening Audit Report"},
    "generated": {"id": "Dibuat", "en": "Generated"},
    "score": {"id": "Skor", "en": "Score"},
    "host": {"id": "Server", "en": "Server"},
    "pass": {"id": "lulus", "en": "pass"},
    "fail": {"id": "gagal", "en": "fail"},
    "waived": {"id": "dikecualikan", "en": "waived"},
    "na": {"id": "tidak berlaku", "en": "not applicable"},
    "control": {"id": "Kontrol", "en": "Control"},
    "status": {"id": "Status", "en": "Status"},
    "evidence": {"id": "Bukti", "en": "Evidence"},
    "refs": {"id": "Rujukan", "en": "References"},
    "unreachable": {"id": "tidak dapat dijangkau", "en": "unreachable"},
    "summary": {"id": "Ringkasan", "en": "Summary"},
    "config_only": {"id": "diperiksa sebagai konfigurasi (pengaturan kernel global tidak dapat "
                          "diterapkan di namespace/kontainer)",
                    "en": "checked as configuration (kernel-global setting cannot be enforced in a "
                          "namespace/container)"},
    "confined_note": {"id": "Server ini berjalan di namespace/kontainer: pengaturan kernel global "
                            "(kernel.*, fs.*, audit, jam, modul) diperiksa sebagai konfigurasi.",
                      "en": "This server runs in a namespace/container: kernel-global settings "
                            "(kernel.*, fs.*, audit, clock, modules) are checked as configuration."},
    "outside": {"id": "Dilihat dari jaringan manajemen", "en": "Seen from the management network"},
    "open_ports": {"id": "Port TCP terbuka", "en": "Open TCP ports"},
    "auth": {"id": "Metode otentikasi SSH", "en": "SSH authentication methods"},
    "crypto": {"id": "Kriptografi yang dinegosiasikan", "en": "Negotiated crypto"},
    "basis": {"id": "Dasar: Pergub Jambi 12/2022 Pasal 23(2)(b); Perbup Temanggung 83/2021 "
                    "Pasal 14(8), 18–19, 26; Peraturan BSSN 4/2021; ISO/IEC 27001:2022 Annex A; "
                    "CIS Debian Linux 12 Benchmark.",
              "en": "Basis: Pergub Jambi 12/2022 Art. 23(2)(b); Perbup Temanggung 83/2021 "
                    "Art. 14(8), 18–19, 26; BSSN Regulation 4/2021; ISO/IEC 27001:2022 Annex A; "
                    "CIS Debian Linux 12 Benchmark."},
}


def t(key: str, lang: str) -> str:
    return TEXT[key][lang]


def both(key: str, lang: str) -> str:
    """Primary language first, the other in brackets: "Skor (Score)"."""
    other = "en" if lang == "id" else "id"
    return f"{TEXT[key][lang]} ({TEXT[key][other]})"


def sort_controls(controls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Failing first, then waived, passing, not applicable; by ID within each."""
    return sorted(controls, key=lambda c: (ORDER.get(c["status"], 9), c["id"]))


def render_html(data: dict[str, Any], lang: str = "id") -> str:
    """The self-contained HTML report (inline CSS, no scripts, no external resources)."""
    if lang not in ("id", "en"):
        raise ValueError(f"lang must be 'id' or 'en', not {lang!r}")
    env = Environment(loader=PackageLoader("simpul.deploys", "templates"),
                      autoescape=select_autoescape(["html", "j2"]), trim_blocks=True,
                      lstrip_blocks=True)
    hosts = sorted(data["hosts"], key=lambda h: (h["score"] is None, h["score"] or 0, h["host"]))
    return env.get_template("report.html.j2").render(
        data=data, hosts=hosts, lang=lang, other="en" if lang == "id" else "id", t=t, both=both,
        sort_controls=sort_controls)


def render_text(data: dict[str, Any], lang: str = "en") -> list[list[str]]:
    """Rows for the terminal table: host, score, counts, the failing control IDs."""
    rows = []
    for h in data["hosts"]:
        c = h["counts"]
        failing = [x["id"] for x in h["controls"] if x["status"] == "fail"]
        score = "-" if h["score"] is None else f"{h['score']}%"
        if not h["reachable"] or h["message"]:
            failing = [h["message"] or t("unreachable", lang)]
        rows.append([h["host"], score, str(c["pass"]), str(c["fail"]), str(c["waived"]), str(c["na"]),
                     ", ".join(failing)])
    return rows
