"""Audit report rendering (pure): a self-contained HTML page in Bahasa Indonesia and English.

Input is :func:`simpul.deploys.audit.report_data` (the same dict the JSON output prints), so a
stored JSON report can be re-rendered later. What a NOC head reads first comes first:

1. a hosts × controls matrix (failing red, waived grey, not verified violet) and the score per
   host as a chart;
2. what to fix: each failing control once, the hosts it fails on, and the command that fixes it;
3. what changed since the previous audit (new failures, fixed ones);
4. per host: the evidence, in the report's language;
5. each control's rationale and references once, collapsible, at the end.

Scores count only controls checked for real: waived, not applicable and *not verified*
controls (kernel-global settings on a host in a namespace/container) are left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape

ORDER = {"fail": 0, "unverified": 1, "waived": 2, "pass": 3, "na": 4}
DEFAULT_TZ = "Asia/Jakarta"
TZ_NAMES = {"Asia/Jakarta": "WIB", "Asia/Pontianak": "WIB", "Asia/Makassar": "WITA",
            "Asia/Jayapura": "WIT"}
# one mark per status in the matrix, so the matrix reads without colour too
MARK = {"pass": "✓", "fail": "✗", "waived": "W", "na": "–", "unverified": "?"}

TEXT: dict[str, dict[str, str]] = {
    "title": {"id": "Laporan Audit Hardening Server", "en": "Server Hardening Audit Report"},
    "generated": {"id": "Dibuat", "en": "Generated"},
    "score": {"id": "Skor", "en": "Score"},
    "host": {"id": "Server", "en": "Server"},
    "pass": {"id": "lulus", "en": "pass"},
    "fail": {"id": "gagal", "en": "fail"},
    "waived": {"id": "dikecualikan", "en": "waived"},
    "na": {"id": "tidak berlaku", "en": "not applicable"},
    "unverified": {"id": "tidak terverifikasi", "en": "not verified"},
    "control": {"id": "Kontrol", "en": "Control"},
    "status": {"id": "Status", "en": "Status"},
    "evidence": {"id": "Bukti", "en": "Evidence"},
    "refs": {"id": "Rujukan", "en": "References"},
    "rationale": {"id": "Alasan", "en": "Rationale"},
    "unreachable": {"id": "tidak dapat dijangkau", "en": "unreachable"},
    "summary": {"id": "Ringkasan", "en": "Summary"},
    "matrix": {"id": "Matriks server × kontrol", "en": "Servers × controls matrix"},
    "scores": {"id": "Skor per server", "en": "Score per server"},
    "to_fix": {"id": "Yang harus diperbaiki", "en": "What to fix"},
    "fails_on": {"id": "Gagal di", "en": "Failing on"},
    "how_to_fix": {"id": "Cara memperbaiki", "en": "How to fix"},
    "nothing_to_fix": {"id": "Tidak ada kontrol yang gagal.", "en": "No control fails."},
    "since": {"id": "Sejak audit sebelumnya", "en": "Since the previous audit"},
    "new_failures": {"id": "Kegagalan baru", "en": "New failures"},
    "fixed": {"id": "Sudah diperbaiki", "en": "Fixed"},
    "none": {"id": "tidak ada", "en": "none"},
    "first_audit": {"id": "Ini audit pertama yang tersimpan: belum ada pembanding.",
                    "en": "This is the first stored audit: nothing to compare with."},
    "previous_at": {"id": "Dibandingkan dengan audit {when} ({n} server yang sama).",
                    "en": "Compared with the audit of {when} ({n} servers in both)."},
    "details": {"id": "Rincian per server", "en": "Details per server"},
    "catalog": {"id": "Kontrol dan rujukannya", "en": "Controls and their references"},
    "see_refs": {"id": "rujukan", "en": "references"},
    "passing_list": {"id": "{p} kontrol lulus, {na} tidak berlaku (klik untuk melihat)",
                     "en": "{p} passing controls, {na} not applicable (click to show)"},
    "legend": {"id": "✓ lulus · ✗ gagal · W dikecualikan (waiver) · ? tidak terverifikasi · – tidak berlaku",
               "en": "✓ pass · ✗ fail · W waived · ? not verified · – not applicable"},
    "unverified_note": {
        "id": "Tidak terverifikasi: pengaturan kernel global (kernel.*, fs.*, daemon audit, jam, modul) "
              "pada server yang berjalan di namespace/kontainer tidak dapat diterapkan di sana. "
              "Konfigurasinya benar, tetapi berlakunya tidak dapat dibuktikan; kontrol ini tidak "
              "dihitung lulus dan tidak masuk skor. Konfigurasi yang salah tetap dihitung gagal.",
        "en": "Not verified: kernel-global settings (kernel.*, fs.*, the audit daemon, the clock, "
              "modules) on a server that runs in a namespace/container cannot be enforced there. "
              "Their configuration is right, but that they are in force cannot be proven; they do "
              "not count as passing and are left out of the score. A wrong configuration still "
              "counts as a failure."},
    "score_note": {"id": "Skor = lulus ÷ (lulus + gagal); dikecualikan, tidak berlaku dan tidak "
                         "terverifikasi tidak dihitung.",
                   "en": "Score = pass ÷ (pass + fail); waived, not applicable and not verified "
                         "controls are left out."},
    "lead": {"id": "{n} server diaudit: {ok} lulus semua, {bad} dengan temuan; {fails} kegagalan "
                   "kontrol; {unv} tidak terverifikasi.",
             "en": "{n} {servers} audited: {ok} fully passing, {bad} with findings; {fails} "
                   "failing {controls}; {unv} not verified."},
    "outside": {"id": "Dilihat dari jaringan manajemen", "en": "Seen from the management network"},
    "open_ports": {"id": "Port TCP terbuka", "en": "Open TCP ports"},
    "auth": {"id": "Metode otentikasi SSH", "en": "SSH authentication methods"},
    "crypto": {"id": "Kriptografi yang dinegosiasikan", "en": "Negotiated crypto"},
    "confined_note": {"id": "Server ini berjalan di namespace/kontainer: pengaturan kernel global "
                            "diperiksa sebagai konfigurasi dan dilaporkan tidak terverifikasi.",
                      "en": "This server runs in a namespace/container: kernel-global settings "
                            "are checked as configuration and reported as not verified."},
    "waiver": {"id": "Waiver: {reason} (disetujui {approver}, berlaku s.d. {expires}); kontrol "
                     "saat ini {state}.",
               "en": "Waiver: {reason} (approved by {approver}, until {expires}); the control "
                     "currently {state}."},
    "w_passes": {"id": "lulus", "en": "passes"},
    "w_fails": {"id": "gagal", "en": "fails"},
    "basis": {"id": "Dasar: Pergub Jambi 12/2022 Pasal 23(2)(b); Perbup Temanggung 83/2021 "
                    "Pasal 14(8), 18–19, 26; Peraturan BSSN 4/2021; ISO/IEC 27001:2022 Annex A; "
                    "CIS Debian Linux 12 Benchmark.",
              "en": "Basis: Pergub Jambi 12/2022 Art. 23(2)(b); Perbup Temanggung 83/2021 "
                    "Art. 14(8), 18–19, 26; BSSN Regulation 4/2021; ISO/IEC 27001:2022 Annex A; "
                    "CIS Debian Linux 12 Benchmark."},
    "apply_fix": {"id": "terapkan ulang hardening (keluarga {family}); periksa dulu dengan "
                        "'simpul harden plan --limit {hosts}'",
                  "en": "re-apply the hardening (family {family}); check first with "
                        "'simpul harden plan --limit {hosts}'"},
    "config_only": {"id": "diperiksa sebagai konfigurasi (namespace/kontainer)",
                    "en": "checked as configuration (namespace/container)"},
}
# what to do besides (or instead of) re-applying the family, for controls whose fix needs a
# decision or an inventory change
FIX_HINTS: dict[str, dict[str, str]] = {
    "ACC-04": {"id": "Cari UID ganda (cut -d: -f3 /etc/passwd | sort | uniq -d), putuskan akun "
                     "mana yang tetap, lalu ubah UID lainnya dengan usermod -u (keputusan admin).",
               "en": "Find the duplicate UIDs (cut -d: -f3 /etc/passwd | sort | uniq -d), decide "
                     "which account keeps it, renumber the other with usermod -u (an admin's "
                     "decision)."},
    "PKG-03": {"id": "Pasang pembaruan dalam jendela pemeliharaan: simpul run --limit {hosts} "
                     "--apply --sudo -- apt-get -y upgrade, lalu reboot bila diminta.",
               "en": "Install the updates in a maintenance window: simpul run --limit {hosts} "
                     "--apply --sudo -- apt-get -y upgrade, then reboot if required."},
    "FW-02": {"id": "Port yang tidak tercatat: hentikan layanannya, atau catat layanan itu di "
                    "inventaris (servers.<host>.services) bila memang dibutuhkan.",
              "en": "Unrecorded ports: stop the service, or record it in the inventory "
                    "(servers.<host>.services) if it is really needed."},
    "ACC-01": {"id": "Pastikan kunci publik deploy di inventaris benar.",
               "en": "Make sure the inventory's deploy public key is right."},
    "ACC-07": {"id": "Pastikan daftar admin dan kuncinya di inventaris (admins.yaml) benar.",
               "en": "Make sure the admins and their keys in the inventory (admins.yaml) are right."},
    "LOG-02": {"id": "Log host juga harus diterapkan dan terjangkau pada TCP 514.",
               "en": "The log host must be hardened too and reachable on TCP 514."},
}

# The checks' evidence is written in English with values inside; the Indonesian report
# translates the prose around the values (longest phrases first). Values (paths, settings,
# names, numbers) are left as they are.
_ID_PHRASES: tuple[tuple[str, str], ...] = (
    (r"\bthe kernel audit system is not available in a namespace\b",
     "sistem audit kernel tidak tersedia di namespace"),
    (r"\bsshd -T failed \(the configuration does not parse\)", "sshd -T gagal (konfigurasi tidak valid)"),
    (r"\boutside: root publickey login refused\b", "dari luar: login root dengan kunci ditolak"),
    (r"\boutside: root logged in with a key\b", "dari luar: root berhasil login dengan kunci"),
    (r"\boutside: daemon offers\b", "dari luar: daemon menawarkan"),
    (r"\bweak kex/ciphers/MACs refused\b", "kex/cipher/MAC lemah ditolak"),
    (r"\bbanner /etc/issue.net lacks the ID/EN legal warning\b",
     "banner /etc/issue.net tidak memuat peringatan hukum ID/EN"),
    (r"\bthe inventory key is not in (\S+)'s authorized_keys\b",
     r"kunci dari inventaris tidak ada di authorized_keys milik \1"),
    (r"\binventory key authorised\b", "kunci dari inventaris terpasang"),
    (r"\bis not in\b", "tidak termasuk"),
    (r"\bvisudo -c fails\b", "visudo -c gagal"),
    (r"\bmissing Defaults\b", "Defaults yang belum ada:"),
    (r"\bsystem accounts with a login shell\b", "akun sistem dengan shell login"),
    (r"\bkept on purpose\b", "dipertahankan dengan sengaja"),
    (r"\blogin.defs ageing values are not numbers\b", "nilai umur password di login.defs bukan angka"),
    (r"\baccounts without ageing\b", "akun tanpa umur password"),
    (r"\bpam_unix hashing set\b", "hash pam_unix diatur"),
    (r"\bsettings live and persisted\b", "pengaturan aktif dan tersimpan"),
    (r"\bsettings persisted, (\d+) of them checked live\b",
     r"pengaturan tersimpan, \1 di antaranya diperiksa saat berjalan"),
    (r"\bnot persisted in\b", "tidak tersimpan di"),
    (r"\blimits hard core 0\b", "batas hard core 0"),
    (r"\bnot disabled\b", "belum dimatikan"),
    (r"\bmodules disabled\b", "modul dimatikan"),
    (r"\btable inet simpul is not loaded\b", "tabel inet simpul tidak dimuat"),
    (r"\binput policy\b", "kebijakan input"),
    (r"\boutside: (\d+) TCP ports filtered, (\d+) refused\b",
     r"dari luar: \1 port TCP difilter, \2 ditolak"),
    (r"\bopen from the management LAN\b", "terbuka dari LAN manajemen"),
    (r"\binventory\b", "inventaris"),
    (r"\bUNEXPECTED\b", "TIDAK TERCATAT"),
    (r"\bnot limited to the NOC\b", "tidak dibatasi ke NOC"),
    (r"\bopen to everyone\b", "terbuka untuk semua"),
    (r"\bmanagement only from\b", "manajemen hanya dari"),
    (r"\bincludes\b", "memuat"),
    (r"\bnot persisted\b", "tidak tersimpan"),
    (r"\bforwarding to\b", "diteruskan ke"),
    (r"\bconnection up\b", "koneksi aktif"),
    (r"\brsyslog listens on TCP 514\b", "rsyslog mendengarkan di TCP 514"),
    (r"\bnothing listens on TCP 514\b", "tidak ada yang mendengarkan di TCP 514"),
    (r"\brules files\b", "berkas aturan"),
    (r"\bloaded rules\b", "aturan yang dimuat"),
    (r"\bmissing keys\b", "kunci yang belum ada:"),
    (r"\brule groups present\b", "kelompok aturan ada"),
    (r"\brules file ends with -e 2\b", "berkas aturan diakhiri -e 2"),
    (r"-e 2 missing from the rules\b", "-e 2 tidak ada dalam aturan"),
    (r"\baudit configuration locked\b", "konfigurasi audit terkunci"),
    (r"\baudit not locked\b", "audit tidak terkunci"),
    (r"\bchrony sources\b", "sumber chrony"),
    (r"\bchronyd running\b", "chronyd berjalan"),
    (r"\bfail2ban jail sshd active\b", "jail sshd fail2ban aktif"),
    (r"\bjail sshd not active\b", "jail sshd tidak aktif"),
    (r"\bpending security updates\b", "pembaruan keamanan tertunda"),
    (r"\breboot required\b", "perlu reboot"),
    (r"\bpackage lists from\b", "daftar paket dari"),
    (r"\bpaths ok\b", "path sesuai"),
    (r"\bor stricter\b", "atau lebih ketat"),
    (r"\bworld-writable files\b", "berkas world-writable"),
    (r"\bloose log files\b", "berkas log yang terlalu terbuka"),
    (r"\bhome directories open to group/others\b", "direktori home terbuka untuk grup/lainnya"),
    (r"\bSUID/SGID not on the allow-list\b", "SUID/SGID di luar daftar izin"),
    (r"\bSUID/SGID files, all on the allow-list\b", "berkas SUID/SGID, semuanya dalam daftar izin"),
    (r"\bfiles 0600 root\b", "berkas 0600 root"),
    (r"\bcheck could not run\b", "pemeriksaan tidak dapat dijalankan"),
    (r"\bwaiver expired on (\S+) \(approved by ([^)]*)\); the control counts again\b",
     r"waiver kedaluwarsa pada \1 (disetujui \2); kontrol dihitung lagi"),
    (r"\bapproved by\b", "disetujui"),
    (r"\buntil\b", "s.d."),
    (r"\bcurrently passes\b", "saat ini lulus"),
    (r"\bcurrently fails\b", "saat ini gagal"),
    (r"\bstrict profile only \(host profile: (\w+)\)", r"hanya profil strict (profil host: \1)"),
    (r"\bhardening.profile is 'none' for this host\b", "hardening.profile host ini 'none'"),
    (r"\bhost routes or runs containers\b", "host merutekan paket atau menjalankan kontainer"),
    (r"\bthis host is the log host \(it receives logs, see LOG-03\)",
     "host ini adalah log host (menerima log, lihat LOG-03)"),
    (r"\bonly on the log host\b", "hanya pada log host"),
    (r"\bis not set\b", "belum diisi"),
    (r"\bis empty\b", "kosong"),
    (r"\bis not a server in the inventaris\b", "bukan server di inventaris"),
    (r"\bunattended-upgrades installed\b", "unattended-upgrades terpasang"),
    (r"\bauditd installed\b", "auditd terpasang"),
    (r"\bconfigured\b", "dikonfigurasi"),
    (r"\binstalled\b", "terpasang"),
    (r"\brunning\b", "berjalan"),
    (r"\benabled\b", "aktif"),
    (r"\bmissing\b", "tidak ada"),
    (r"\bwant\b", "seharusnya"),
    (r"\bunset\b", "tidak diatur"),
    (r"\bunknown\b", "tidak diketahui"),
    (r"\bnone\b", "tidak ada"),
    (r"\bno (\w)", r"tidak ada \1"),
    (r"\bTrue\b", "ya"),
    (r"\bFalse\b", "tidak"),
)
_ID_RE = tuple((re.compile(p), r) for p, r in _ID_PHRASES)


def evidence(text: str, lang: str) -> str:
    """The evidence of a check in the report's language (values unchanged)."""
    if lang != "id":
        return text
    for rx, rep in _ID_RE:
        text = rx.sub(rep, text)
    return text


def t(key: str, lang: str) -> str:
    return TEXT[key][lang]


def both(key: str, lang: str) -> str:
    """Primary language first, the other in brackets: "Skor (Score)"."""
    other = "en" if lang == "id" else "id"
    return f"{TEXT[key][lang]} ({TEXT[key][other]})"


def local_time(iso: str, tz: str = DEFAULT_TZ) -> str:
    """``2026-10-31T08:00:00+00:00`` → ``2026-10-31 15:00 WIB``."""
    try:
        d = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if d.tzinfo is None:
        return iso
    return f"{d.astimezone(ZoneInfo(tz)).strftime('%Y-%m-%d %H:%M')} {TZ_NAMES.get(tz, tz)}"


def sort_controls(controls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Failing first, then not verified, waived, passing, not applicable; by ID within each."""
    return sorted(controls, key=lambda c: (ORDER.get(c["status"], 9), c["id"]))


def _hosts_worst_first(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Hosts that could not be audited first, then by score (lowest first), then by name."""
    return sorted(data["hosts"], key=lambda h: (bool(h["controls"]),
                                                h["score"] if h["score"] is not None else 101,
                                                h["host"]))


def columns(data: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    """The matrix columns: every control any host reports, grouped by family, catalog order."""
    seen: dict[str, dict[str, Any]] = {}
    for h in data["hosts"]:
        for c in h["controls"]:
            seen.setdefault(c["id"], c)
    fams: dict[str, list[dict[str, Any]]] = {}
    for c in seen.values():
        fams.setdefault(c["family"], []).append(c)
    return list(fams.items())


def failing(data: dict[str, Any]) -> list[tuple[dict[str, Any], list[str]]]:
    """Each failing control once (catalog order), with the hosts it fails on."""
    out: dict[str, tuple[dict[str, Any], list[str]]] = {}
    for h in data["hosts"]:
        for c in h["controls"]:
            if c["status"] == "fail":
                out.setdefault(c["id"], (c, []))[1].append(h["host"])
    order = [c["id"] for _, cs in columns(data) for c in cs]
    return [out[i] for i in order if i in out]


def fix_lines(c: dict[str, Any], hosts: Sequence[str], lang: str) -> list[str]:
    """How to fix control ``c`` on ``hosts``: the command, then any hint that needs a person."""
    limit = ",".join(hosts)
    lines = []
    if c.get("change"):
        lines.append(f"simpul harden apply --limit {limit} --apply   # "
                     + TEXT["apply_fix"][lang].format(family=c["change"], hosts=limit))
    hint = FIX_HINTS.get(c["id"])
    if hint:
        lines.append(hint[lang].format(hosts=limit))
    return lines


def compare_audits(prev: dict[str, Any] | None, cur: dict[str, Any]) -> dict[str, Any] | None:
    """New failures and fixed controls against a previous audit (hosts audited in both)."""
    if not prev:
        return None
    before = {h["host"]: {c["id"]: c["status"] for c in h["controls"]} for h in prev.get("hosts", [])
              if h.get("controls")}
    now = {h["host"]: {c["id"]: c["status"] for c in h["controls"]} for h in cur["hosts"]
           if h.get("controls")}
    common = sorted(set(before) & set(now))
    new, fixed = [], []
    for host in common:
        for cid, st in now[host].items():
            was = before[host].get(cid)
            if st == "fail" and was != "fail":
                new.append({"host": host, "control": cid, "was": was})
            elif was == "fail" and st != "fail":
                fixed.append({"host": host, "control": cid, "now": st})
    return {"generated": prev.get("generated", ""), "hosts": common, "new_failures": new,
            "fixed": fixed}


def _score_chart(hosts: Iterable[dict[str, Any]], lang: str) -> str:
    rows = [h for h in hosts if h["score"] is not None]
    w, label_w, bar_h, gap = 720, 150, 16, 6
    h = len(rows) * (bar_h + gap) + 26
    plot = w - label_w - 120
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="scores" width="{w}" height="{h}" '
             f'role="img" aria-label="{t("scores", lang)}" font-family="DejaVu Sans, sans-serif" '
             f'font-size="11">']
    for i, r in enumerate(rows):
        y = 6 + i * (bar_h + gap)
        s = r["score"]
        colour = "#2e7d32" if s >= 90 else "#f9a825" if s >= 70 else "#c62828"
        p, f = r["counts"]["pass"], r["counts"]["fail"]
        parts.append(f'<text x="{label_w - 6}" y="{y + 12}" text-anchor="end">{_x(r["host"])}</text>')
        parts.append(f'<rect x="{label_w}" y="{y}" width="{plot}" height="{bar_h}" fill="#eeeeee"/>')
        parts.append(f'<rect class="score" data-host="{_x(r["host"])}" x="{label_w}" y="{y}" '
                     f'width="{plot * s / 100:.1f}" height="{bar_h}" fill="{colour}"><title>'
                     f'{_x(r["host"])}: {s}% ({p}/{p + f})</title></rect>')
        parts.append(f'<text x="{label_w + plot + 6}" y="{y + 12}">{s}% ({p}/{p + f})</text>')
    axis = h - 8
    for v in (0, 50, 100):
        parts.append(f'<text x="{label_w + plot * v / 100:.1f}" y="{axis}" text-anchor="middle" '
                     f'fill="#616161">{v}%</text>')
    parts.append("</svg>")
    return "".join(parts)


def _x(s: str) -> str:
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def render_html(data: dict[str, Any], lang: str = "id", tz: str = DEFAULT_TZ) -> str:
    """The self-contained HTML report (inline CSS and SVG, no scripts, no external resources)."""
    if lang not in ("id", "en"):
        raise ValueError(f"lang must be 'id' or 'en', not {lang!r}")
    env = Environment(loader=PackageLoader("simpul.deploys", "templates"),
                      autoescape=select_autoescape(["html", "j2"]), trim_blocks=True,
                      lstrip_blocks=True)
    from markupsafe import Markup

    hosts = _hosts_worst_first(data)
    audited = [h for h in hosts if h["controls"]]
    n = len(hosts)
    fails = sum(h["counts"]["fail"] for h in hosts)
    lead = TEXT["lead"][lang].format(
        n=n, servers="server" if n == 1 else "servers",
        ok=sum(1 for h in audited if not h["counts"]["fail"] and h["reachable"] and not h["message"]),
        bad=sum(1 for h in hosts if h["counts"]["fail"] or not h["reachable"] or h["message"]),
        fails=fails, controls="control" if fails == 1 else "controls",
        unv=sum(h["counts"].get("unverified", 0) for h in hosts))
    catalog: dict[str, dict[str, Any]] = {}
    for h in hosts:
        for c in h["controls"]:
            catalog.setdefault(c["id"], c)
    order = [c["id"] for _, cs in columns(data) for c in cs]
    return env.get_template("report.html.j2").render(
        data=data, hosts=hosts, lang=lang, other="en" if lang == "id" else "id", t=t, both=both,
        sort_controls=sort_controls, columns=columns(data), failing=failing(data),
        ncols=max(1, len(order)),
        fix_lines=fix_lines, evidence=evidence, mark=MARK, lead=lead,
        generated=local_time(data["generated"], tz),
        previous=data.get("previous"), previous_at=local_time((data.get("previous") or {}).get(
            "generated", ""), tz) if data.get("previous") else "",
        # the chart escapes every inventory string itself (_x)
        score_chart=Markup(_score_chart(hosts, lang)),  # noqa: S704
        catalog=[catalog[i] for i in order])


def render_text(data: dict[str, Any], lang: str = "en") -> list[list[str]]:
    """Rows for the terminal table: host, score, counts, the failing control IDs."""
    rows = []
    for h in data["hosts"]:
        c = h["counts"]
        failing_ids = [x["id"] for x in h["controls"] if x["status"] == "fail"]
        score = "-" if h["score"] is None else f"{h['score']}%"
        if not h["reachable"] or h["message"]:
            failing_ids = [h["message"] or t("unreachable", lang)]
        rows.append([h["host"], score, str(c["pass"]), str(c["fail"]), str(c["waived"]), str(c["na"]),
                     str(c.get("unverified", 0)), ", ".join(failing_ids)])
    return rows


def comparison_text(cmp: dict[str, Any] | None, tz: str = DEFAULT_TZ) -> str:
    """One line for the terminal: what changed since the previous audit."""
    if cmp is None:
        return "first stored audit: nothing to compare with"

    def names(items: list[dict[str, Any]]) -> str:
        return ", ".join(f"{i['host']} {i['control']}" for i in items) or "none"

    return (f"since the audit of {local_time(cmp['generated'], tz)}: "
            f"{len(cmp['new_failures'])} new failure(s) ({names(cmp['new_failures'])}); "
            f"{len(cmp['fixed'])} fixed ({names(cmp['fixed'])})")
