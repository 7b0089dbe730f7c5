"""The producers: each collects one kind of evidence into the pack, read-only.

A producer is a function ``(ctx) -> Evidence`` registered under the name the requirement map
uses. It writes its artefacts under ``<pack>/artefacts/<producer>/`` and says what it found in
one line per language — or states the gap and why (``no availability data for 2026``), never
crashing the build: the runner turns an exception into a failed item (:mod:`simpul.runner`).
Producers only *read*: they run audits and collectors in their read-only modes, and read the
state dir (ledger, drill history, oplog). Each is an adapter over a domain's public functions.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from simpul.inventory.models import Inventory
from simpul.settings import Settings

from .model import Artefact, Evidence, Period, Status, Text, t

log = logging.getLogger(__name__)

TZ = "Asia/Jakarta"


@dataclass
class BuildContext:
    """What producers get: the inventory, settings, the period and where the pack is written."""

    inv: Inventory
    settings: Settings
    period: Period
    out: Path
    known_hosts: Path | None = None
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    tz: str = TZ

    def dir(self, producer: str) -> Path:
        d = self.out / "artefacts" / producer
        d.mkdir(parents=True, exist_ok=True)
        return d

    def write(self, producer: str, name: str, text: str, title: Text) -> Artefact:
        p = self.dir(producer) / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
        return Artefact(str(p.relative_to(self.out)), title)

    def period_bounds(self) -> tuple[float, float]:
        """The period as epoch seconds in the report time zone, the end capped at now."""
        z = ZoneInfo(self.tz)
        s = datetime(self.period.start.year, self.period.start.month, 1, tzinfo=z).timestamp()
        e = datetime(self.period.end.year, self.period.end.month, 1, tzinfo=z).timestamp()
        return s, min(e, self.now.timestamp())


Producer = Callable[[BuildContext], Evidence]
PRODUCERS: dict[str, Producer] = {}


def producer(name: str) -> Callable[[Producer], Producer]:
    def reg(fn: Producer) -> Producer:
        PRODUCERS[name] = fn
        return fn
    return reg


def _csv(header: list[str], rows: list[list[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def _json(data: Any) -> str:
    from simpul.output import to_json

    return to_json(data) + "\n"


# --- design: what is configured ----------------------------------------------------------------


@producer("inventory-extract")
def inventory_extract(ctx: BuildContext) -> Evidence:
    """The inventory as loaded and validated (secrets are names and locations, never values),
    and an asset register of every router and server."""
    inv = ctx.inv
    data = inv.model_dump(mode="json")
    arts = [ctx.write("inventory-extract", "inventory.json", _json(data),
                      t("Inventaris tervalidasi (JSON)", "Validated inventory (JSON)"))]
    rows = [[n, "router", d.site, d.role, d.platform, str(d.mgmt_ip), d.model or "", d.serial or ""]
            for n, d in sorted(inv.devices.items())]
    rows += [[n, "server", s.site, s.role, s.os, str(s.mgmt_ip), "", ""]
             for n, s in sorted(inv.servers.items())]
    arts.append(ctx.write("inventory-extract", "aset-tik.csv",
                          _csv(["name", "kind", "site", "role", "platform_os", "mgmt_ip", "model",
                                "serial"], rows),
                          t("Daftar aset TIK (router dan server)", "ICT asset register (routers and servers)")))
    plan = [[purpose, str(net)] for purpose, net in inv.plan.supernets.items()]
    arts.append(ctx.write("inventory-extract", "rencana-alamat.csv", _csv(["purpose", "supernet"], plan),
                          t("Rencana alamat IP (supernet per peruntukan)", "IP address plan (supernets per purpose)")))
    n = (len(inv.sites), len(inv.devices), len(inv.links), len(inv.servers), len(inv.services))
    return Evidence("inventory-extract", "ok",
                    t(f"{n[0]} lokasi, {n[1]} router, {n[2]} tautan, {n[3]} server, {n[4]} layanan",
                      f"{n[0]} sites, {n[1]} routers, {n[2]} links, {n[3]} servers, {n[4]} services"),
                    arts)


@producer("controls-catalog")
def controls_catalog(ctx: BuildContext) -> Evidence:
    """The hardening controls with their regulation references (the design of server security)."""
    from simpul.deploys.catalog import CONTROLS

    rows = [[c.id, c.family, c.profile, c.scope, c.title_id, c.title_en, "; ".join(c.refs)]
            for c in CONTROLS]
    art = ctx.write("controls-catalog", "kontrol-hardening.csv",
                    _csv(["id", "family", "profile", "scope", "title_id", "title_en", "refs"], rows),
                    t("Katalog kontrol hardening dan rujukannya", "Hardening controls and their references"))
    return Evidence("controls-catalog", "ok",
                    t(f"{len(rows)} kontrol, masing-masing dengan rujukan regulasi",
                      f"{len(rows)} controls, each with its regulation references"), [art])


@producer("topology-overview")
def topology_overview(ctx: BuildContext) -> Evidence:
    """The intranet diagram drawn from the inventory (Perbup Temanggung 83/2021 Pasal 22)."""
    from simpul.inventory.graph import fit_overview, render

    d = ctx.dir("topology-overview")
    dot, _ = fit_overview(ctx.inv, today=ctx.now.date())
    render(dot, d / "jaringan-intra.svg", "svg")
    (d / "jaringan-intra.dot").write_text(dot)
    rel = str((d / "jaringan-intra.svg").relative_to(ctx.out))
    return Evidence("topology-overview", "ok",
                    t(f"diagram {len(ctx.inv.devices)} router dan {len(ctx.inv.links)} tautan",
                      f"diagram of {len(ctx.inv.devices)} routers and {len(ctx.inv.links)} links"),
                    [Artefact(rel, t("Diagram Jaringan Intra (SVG)", "Jaringan Intra diagram (SVG)")),
                     Artefact(str((d / "jaringan-intra.dot").relative_to(ctx.out)),
                              t("Sumber diagram (Graphviz DOT)", "Diagram source (Graphviz DOT)"))])


@producer("backup-policies")
def backup_policies(ctx: BuildContext) -> Evidence:
    """Backup period, media (destination repository) and retention per data set."""
    inv = ctx.inv
    if not inv.backup_policies:
        return Evidence("backup-policies", "gap",
                        t("inventaris tidak memuat kebijakan cadangan (backup_policies)",
                          "the inventory has no backup policies (backup_policies)"))
    rows = []
    for name, p in sorted(inv.backup_policies.items()):
        users = sorted(s for s, srv in inv.servers.items() if name in srv.backup)
        r = p.retention
        rows.append([name, ", ".join(users), "; ".join(src.type for src in p.sources),
                     str(p.every), f"{p.destination}:{p.repository}",
                     f"daily {r.daily}, weekly {r.weekly}, monthly {r.monthly}, yearly {r.yearly}",
                     p.verify])
    art = ctx.write("backup-policies", "kebijakan-cadangan.csv",
                    _csv(["policy", "servers", "sources", "every", "destination", "retention", "verify"], rows),
                    t("Kebijakan cadangan per kumpulan data", "Backup policies per data set"))
    return Evidence("backup-policies", "ok",
                    t(f"{len(rows)} kebijakan cadangan", f"{len(rows)} backup policies"), [art])


@producer("service-targets")
def service_targets(ctx: BuildContext) -> Evidence:
    """Each SPBE service's targets: availability, RTO, RPO, tier, maintenance windows."""
    inv = ctx.inv
    if not inv.services:
        return Evidence("service-targets", "gap",
                        t("inventaris tidak memuat layanan", "the inventory has no services"))
    rows = [[n, s.name, s.owner, " ".join(s.servers), s.tier, s.availability_target,
             str(s.rto), str(s.rpo), len(s.maintenance), s.critical]
            for n, s in sorted(inv.services.items())]
    art = ctx.write("service-targets", "target-layanan.csv",
                    _csv(["service", "name", "owner", "servers", "tier", "availability_target_pct",
                          "rto", "rpo", "maintenance_windows", "critical"], rows),
                    t("Target layanan (ketersediaan, RTO, RPO)", "Service targets (availability, RTO, RPO)"))
    return Evidence("service-targets", "ok",
                    t(f"{len(rows)} layanan dengan target", f"{len(rows)} services with targets"), [art])


# --- implementation: facts collected now -------------------------------------------------------


@producer("harden-audit")
def harden_audit(ctx: BuildContext) -> Evidence:
    """A fresh, read-only hardening audit of every server (inside checks and outside checks)."""
    from simpul.deploys.audit import audit_hosts, previous_audit, report_data
    from simpul.deploys.report import compare_audits, render_html

    names = sorted(ctx.inv.servers)
    if not names:
        return Evidence("harden-audit", "gap", t("inventaris tidak memuat server", "no servers in the inventory"))
    if ctx.known_hosts is None:
        return Evidence("harden-audit", "failed",
                        t("tidak ada known_hosts untuk kunci host server",
                          "no known_hosts file pins the servers' host keys"))
    results = audit_hosts(ctx.inv, names, ctx.known_hosts, today=ctx.now.date())
    data = report_data(ctx.inv, results, now=ctx.now)
    # compared with the last audit the NOC ran (read-only: the pack's audit is not stored)
    data["previous"] = compare_audits(previous_audit(ctx.settings.state_dir, names), data)
    arts = [ctx.write("harden-audit", "audit.json", _json(data),
                      t("Hasil audit hardening (JSON)", "Hardening audit results (JSON)"))]
    for lang in ("id", "en"):
        arts.append(ctx.write("harden-audit", f"audit-{lang}.html", render_html(data, lang, ctx.tz),
                              t(f"Laporan audit hardening ({lang.upper()})",
                                f"Hardening audit report ({lang.upper()})")))
    down = [r.target for r in results if r.status == "unreachable"]
    failing = sum(h["counts"]["fail"] for h in data["hosts"])
    audited = len(names) - len(down)
    status: Status = "partial" if down else "ok"
    note_id = f"; tidak terjangkau: {', '.join(down)}" if down else ""
    note_en = f"; unreachable: {', '.join(down)}" if down else ""
    return Evidence("harden-audit", status,
                    t(f"{audited} dari {len(names)} server diaudit, {failing} kontrol gagal{note_id}",
                      f"{audited} of {len(names)} servers audited, {failing} failing controls{note_en}"),
                    arts)


# --- effectiveness: results over the period ----------------------------------------------------


@producer("harden-audit-history")
def harden_audit_history(ctx: BuildContext) -> Evidence:
    """Every hardening audit the NOC ran in the period (kept in ``<state_dir>/audits/``): scores
    and failing controls over time — that the controls are checked regularly and kept."""
    from simpul.deploys.audit import HISTORY_DIR

    d = ctx.settings.state_dir / HISTORY_DIR
    rows: list[list[Any]] = []
    for path in sorted(d.glob("audit-*.json")) if d.is_dir() else []:
        try:
            data = json.loads(path.read_text())
            when = datetime.fromisoformat(data["generated"])
            hosts = data["hosts"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            log.warning("%s: unreadable stored audit skipped (%s)", path, e)
            continue
        if not ctx.period.start <= when.astimezone(ZoneInfo(ctx.tz)).date() < ctx.period.end:
            continue
        scores = [h["score"] for h in hosts if h.get("score") is not None]
        failing = sorted({c["id"] for h in hosts for c in h.get("controls", []) if c["status"] == "fail"})
        rows.append([when.astimezone(ZoneInfo(ctx.tz)).strftime("%Y-%m-%d %H:%M"), len(hosts),
                     min(scores) if scores else "", round(sum(scores) / len(scores), 1) if scores else "",
                     " ".join(failing)])
    if not rows:
        return Evidence("harden-audit-history", "gap",
                        t(f"tidak ada audit hardening tersimpan dalam periode {ctx.period.label}",
                          f"no stored hardening audit in the period {ctx.period.label}"))
    art = ctx.write("harden-audit-history", "riwayat-audit.csv",
                    _csv(["audited_at", "hosts", "min_score", "mean_score", "failing_controls"], rows),
                    t("Riwayat audit hardening dalam periode", "Hardening audits of the period"))
    return Evidence("harden-audit-history", "ok",
                    t(f"{len(rows)} audit dalam periode, terakhir {rows[-1][0]} (skor rata-rata {rows[-1][3]})",
                      f"{len(rows)} audit(s) in the period, last {rows[-1][0]} (mean score {rows[-1][3]})"),
                    [art])


@producer("topology-sites")
def topology_sites(ctx: BuildContext) -> Evidence:
    """One diagram per OPD and desa with its LAN, router, uplink and addresses — the diagram
    each OPD submits yearly (Perbup Temanggung 83/2021 Pasal 22)."""
    from simpul.inventory.graph import bundle_sites, render, site_dot

    sites = bundle_sites(ctx.inv)
    if not sites:
        return Evidence("topology-sites", "gap", t("tidak ada lokasi OPD/desa dengan router",
                                                   "no OPD/desa site with a router"))
    d = ctx.dir("topology-sites")
    arts = []
    for s in sites:
        render(site_dot(ctx.inv, s, today=ctx.now.date()), d / f"{s}.svg", "svg")
        arts.append(Artefact(str((d / f"{s}.svg").relative_to(ctx.out)),
                             t(f"Diagram LAN {ctx.inv.sites[s].name}", f"LAN diagram of {ctx.inv.sites[s].name}")))
    return Evidence("topology-sites", "ok",
                    t(f"{len(sites)} diagram per lokasi (OPD dan desa)", f"{len(sites)} per-site diagrams (OPD and desa)"),
                    arts)


@producer("sla-monthly")
def sla_monthly(ctx: BuildContext) -> Evidence:
    """Availability per service, OPD and desa for every month of the period with data."""
    from simpul.monitoring.ledger import Ledger
    from simpul.monitoring.report import to_csv, to_html
    from simpul.monitoring.sla import month_range, report_rows

    path = ctx.settings.state_dir / "ledger.sqlite"
    if not path.exists():
        return Evidence("sla-monthly", "gap",
                        t(f"belum ada data ketersediaan untuk {ctx.period.label} ('simpul poll' belum berjalan)",
                          f"no availability data for {ctx.period.label} ('simpul poll' has not run)"))
    ledger = Ledger(path, readonly=True)
    arts: list[Artefact] = []
    months_with_data: list[str] = []
    try:
        for month in ctx.period.months(until=ctx.now.date()):
            start, period_end = month_range(month, ctx.tz)
            end = min(period_end, ctx.now.timestamp())
            if end <= start:
                continue
            intervals = ledger.intervals(start, end)
            if not any(intervals.values()):
                continue
            months_with_data.append(month)
            events = ledger.events(start, end)
            for by in ("service", "opd", "desa"):
                rows = report_rows(ctx.inv, intervals, events, start, end, by=by, tz=ctx.tz,
                                   ongoing_at=ctx.now.timestamp() if end < period_end else None)
                if not rows:
                    continue
                arts.append(ctx.write("sla-monthly", f"sla-{month}-{by}.html",
                                      to_html(rows, month=month, by=by, start=start, end=end,
                                              period_end=period_end,
                                              organisation=ctx.inv.organisation.name, lang="id",
                                              tz=ctx.tz),
                                      t(f"Laporan SLA {month} per {by}", f"SLA report {month} by {by}")))
                arts.append(ctx.write("sla-monthly", f"sla-{month}-{by}.csv", to_csv(rows, "en"),
                                      t(f"SLA {month} per {by} (CSV)", f"SLA {month} by {by} (CSV)")))
    finally:
        ledger.close()
    if not months_with_data:
        return Evidence("sla-monthly", "gap",
                        t(f"tidak ada data ketersediaan dalam periode {ctx.period.label}",
                          f"no availability data in the period {ctx.period.label}"))
    return Evidence("sla-monthly", "ok",
                    t(f"{len(months_with_data)} bulan dengan data: {', '.join(months_with_data)}",
                      f"{len(months_with_data)} month(s) with data: {', '.join(months_with_data)}"),
                    arts)


def _in_period(ts: str, start: date, end: date) -> bool:
    try:
        d = datetime.fromisoformat(ts).astimezone(ZoneInfo(TZ)).date()
    except ValueError:
        return False
    return start <= d < end


@producer("oplog-extract")
def oplog_extract(ctx: BuildContext) -> Evidence:
    """Every recorded state change of the period (the log's own lines), with the chain verified
    over the whole log at build time and the head hash that anchors it."""
    from simpul.oplog import OpLog

    log_ = OpLog(ctx.settings.oplog)
    if not log_.path.exists():
        return Evidence("oplog-extract", "gap",
                        t(f"log operasi {log_.path} belum ada", f"operations log {log_.path} does not exist yet"))
    rep = log_.verify()
    lines: list[str] = []
    actions: Counter[str] = Counter()
    with log_.path.open(encoding="utf-8", errors="replace") as f:
        for raw in f:
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw)
            except ValueError:
                continue
            if isinstance(rec, dict) and _in_period(str(rec.get("ts", "")), ctx.period.start, ctx.period.end):
                lines.append(raw.rstrip("\n"))
                actions[str(rec.get("action"))] += 1
    d = ctx.dir("oplog-extract")
    (d / "oplog-extract.jsonl").write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
    head = log_.head_path.read_text() if log_.head_path.exists() else ""
    verdict = {"source": str(log_.path), "records": rep.records, "chain_ok": rep.ok,
               "problems": rep.problems, "head": json.loads(head) if head.strip().startswith("{") else None,
               "extract_records": len(lines), "by_action": dict(sorted(actions.items()))}
    (d / "oplog-verify.json").write_text(_json(verdict), encoding="utf-8")
    arts = [Artefact(str((d / "oplog-extract.jsonl").relative_to(ctx.out)),
                     t("Catatan perubahan periode ini (log operasi, berantai hash)",
                       "State changes of the period (operations log, hash-chained)")),
            Artefact(str((d / "oplog-verify.json").relative_to(ctx.out)),
                     t("Verifikasi rantai log operasi", "Operations log chain verification"))]
    if not rep.ok:
        return Evidence("oplog-extract", "partial",
                        t(f"{len(lines)} catatan; RANTAI LOG RUSAK: {'; '.join(rep.problems[:3])}",
                          f"{len(lines)} records; LOG CHAIN BROKEN: {'; '.join(rep.problems[:3])}"), arts)
    if not lines:
        return Evidence("oplog-extract", "gap",
                        t(f"tidak ada perubahan tercatat dalam periode {ctx.period.label}",
                          f"no state changes recorded in the period {ctx.period.label}"), arts)
    top = ", ".join(f"{a} {n}" for a, n in actions.most_common(6))
    return Evidence("oplog-extract", "ok",
                    t(f"{len(lines)} perubahan tercatat ({top}); rantai utuh",
                      f"{len(lines)} recorded changes ({top}); chain intact"), arts)


# --- the Jaringan Intra routers ---------------------------------------------------------------


def _cannot_reach(name: str, kind: Literal["router", "server"], *, no_hosts: bool = False) -> Evidence:
    """The evidence of a producer that cannot contact its hosts: none in the inventory (a gap), or
    no known_hosts to pin their host keys (failed: Simpul never connects unpinned)."""
    if no_hosts:
        return Evidence(name, "gap", t(f"tidak ada {kind}", f"no {kind}s"))
    return Evidence(name, "failed", t(f"tidak ada known_hosts untuk kunci host {kind}",
                                      f"no known_hosts pins the {kind}s' host keys"))


def _routers(ctx: BuildContext) -> list[str]:
    return sorted(ctx.inv.devices)


@dataclass(frozen=True)
class _Note:
    id: str = ""
    en: str = ""


def _reach_note(results: list[Any]) -> tuple[list[str], _Note]:
    """The targets that could not be reached, and a note naming them (empty when none)."""
    down = [r.target for r in results if not r.ok]
    if not down:
        return down, _Note()
    return down, _Note(f"; tidak terjangkau: {', '.join(down)}", f"; unreachable: {', '.join(down)}")


@producer("router-intended")
def router_intended(ctx: BuildContext) -> Evidence:
    """The intended config of every router, rendered from the inventory (secrets as names)."""
    from simpul.network.render import render

    names = _routers(ctx)
    if not names:
        return Evidence("router-intended", "gap", t("inventaris tidak memuat router", "no routers in the inventory"))
    arts = []
    platforms: Counter[str] = Counter()
    for n in names:
        r = render(ctx.inv, n)
        platforms[r.platform] += 1
        for fname, text in r.files.items():
            arts.append(ctx.write("router-intended", f"{n}/{fname}", text,
                                  t(f"{n}: konfigurasi yang dimaksud ({fname})", f"{n}: intended config ({fname})")))
    kinds = ", ".join(f"{p} {c}" for p, c in sorted(platforms.items()))
    return Evidence("router-intended", "ok",
                    t(f"{len(names)} router dirender dari inventaris ({kinds})",
                      f"{len(names)} routers rendered from the inventory ({kinds})"), arts)


@producer("router-running")
def router_running(ctx: BuildContext) -> Evidence:
    """The running config of every router as fetched now (volatile lines dropped, secrets hashed)."""
    from simpul.network.backup import fetch_one
    from simpul.runner import run_each

    names = _routers(ctx)
    if not names or ctx.known_hosts is None:
        return _cannot_reach("router-running", "router", no_hosts=not names)
    kh = ctx.known_hosts
    results = run_each(names, lambda n: fetch_one(ctx.inv, n, kh), parallel=10)
    arts = [ctx.write("router-running", f"{r.target}.cfg", str(r.value),
                      t(f"{r.target}: konfigurasi berjalan", f"{r.target}: running config"))
            for r in results if r.ok and r.value is not None]
    down, note = _reach_note(results)
    if not arts:
        return Evidence("router-running", "failed", t("tidak ada router terjangkau" + note.id,
                                                      "no router reachable" + note.en))
    return Evidence("router-running", "partial" if down else "ok",
                    t(f"{len(arts)} dari {len(names)} konfigurasi berjalan diambil{note.id}",
                      f"{len(arts)} of {len(names)} running configs fetched{note.en}"), arts)


@producer("router-drift")
def router_drift(ctx: BuildContext) -> Evidence:
    """Running vs intended and running vs startup (unsaved changes) on every router."""
    from simpul.network.backup import drift

    names = _routers(ctx)
    if not names or ctx.known_hosts is None:
        return _cannot_reach("router-drift", "router", no_hosts=not names)
    results = drift(ctx.inv, names, ctx.known_hosts, parallel=10)
    rows = [{"router": r.target, "status": str(r.status), "message": r.message, "diff": r.diff}
            for r in results]
    art = ctx.write("router-drift", "drift.json", _json(rows),
                    t("Penyimpangan konfigurasi router (berjalan vs dimaksud vs tersimpan)",
                      "Router config drift (running vs intended vs saved)"))
    drifted = [r.target for r in results if r.status == "changed"]
    down, note = _reach_note(results)
    drift_id = f"{len(drifted)} menyimpang ({', '.join(drifted)})" if drifted else "tidak ada penyimpangan"
    drift_en = f"{len(drifted)} drifted ({', '.join(drifted)})" if drifted else "no drift"
    checked = len(names) - len(down)
    return Evidence("router-drift", "partial" if down else "ok",
                    t(f"{checked} router diperiksa: {drift_id}{note.id}",
                      f"{checked} routers checked: {drift_en}{note.en}"), [art])


@producer("router-facts")
def router_facts(ctx: BuildContext) -> Evidence:
    """Platform, version, interfaces and OSPF neighbours of every router, collected now."""
    from simpul.network.collect import collect

    names = _routers(ctx)
    if not names or ctx.known_hosts is None:
        return _cannot_reach("router-facts", "router", no_hosts=not names)
    results = collect(ctx.inv, names, ctx.known_hosts, parallel=10)
    facts = {r.target: (r.value if r.ok else {"error": r.message}) for r in results}
    art = ctx.write("router-facts", "facts.json", _json(facts),
                    t("Fakta router: platform, versi, antarmuka, tetangga OSPF",
                      "Router facts: platform, version, interfaces, OSPF neighbours"))
    down, note = _reach_note(results)
    return Evidence("router-facts", "partial" if down else "ok",
                    t(f"fakta {len(names) - len(down)} router dikumpulkan{note.id}",
                      f"facts of {len(names) - len(down)} routers collected{note.en}"), [art])


@producer("router-backup-history")
def router_backup_history(ctx: BuildContext) -> Evidence:
    """Every recorded change of a router's running config in the period (the backup git log)."""
    import subprocess

    repo = ctx.settings.state_dir / "net-backup"
    if not (repo / ".git").is_dir():
        return Evidence("router-backup-history", "gap",
                        t("belum ada cadangan konfigurasi router ('simpul net backup' belum berjalan)",
                          "no router config backups yet ('simpul net backup' has not run)"))
    since, until = ctx.period.start.isoformat(), ctx.period.end.isoformat()
    cp = subprocess.run(["git", "-C", str(repo), "log", f"--since={since}", f"--until={until}",
                         "--stat", "--format=commit %H%nDate: %aI%n%n    %s%n"],
                        capture_output=True, text=True, check=False)
    if cp.returncode != 0:
        return Evidence("router-backup-history", "failed",
                        t(f"git log gagal: {cp.stderr.strip()[:200]}", f"git log failed: {cp.stderr.strip()[:200]}"))
    commits = cp.stdout.count("\ncommit ") + cp.stdout.startswith("commit ")
    art = ctx.write("router-backup-history", "riwayat-konfigurasi.txt", cp.stdout or "(kosong / empty)\n",
                    t("Riwayat perubahan konfigurasi router (git log)", "Router config change history (git log)"))
    if not commits:
        return Evidence("router-backup-history", "gap",
                        t(f"tidak ada cadangan dalam periode {ctx.period.label}",
                          f"no backups in the period {ctx.period.label}"), [art])
    return Evidence("router-backup-history", "ok",
                    t(f"{commits} commit cadangan dalam periode", f"{commits} backup commit(s) in the period"), [art])


# --- the IP plan -----------------------------------------------------------------------------


@producer("ipam-plan")
def ipam_plan(ctx: BuildContext) -> Evidence:
    """The IP plan the Dinas holds (Perbup Temanggung 83/2021 Pasal 21): every block, address and
    range in use, allocated or reserved, and each supernet's utilisation."""
    from simpul.network.ipam import Book, utilisation
    from simpul.network.ipam_csv import export_csv

    book = Book.from_inventory(ctx.inv)
    use = [u.to_dict() for u in utilisation(book)]
    arts = [ctx.write("ipam-plan", "rencana-ip.csv", export_csv(book),
                      t("Rencana IP: setiap blok, alamat dan rentang beserta pemegangnya",
                        "IP plan: every block, address and range with its holder")),
            ctx.write("ipam-plan", "utilisasi.json", _json(use),
                      t("Utilisasi per supernet", "Utilisation per supernet"))]
    hot = [u["purpose"] for u in use if u["warning"]]
    note_id = f"; di atas ambang: {', '.join(hot)}" if hot else ""
    note_en = f"; above the warning level: {', '.join(hot)}" if hot else ""
    return Evidence("ipam-plan", "ok",
                    t(f"{len(use)} supernet, {len(book.allocations)} alokasi, {len(book.reservations)} reservasi{note_id}",
                      f"{len(use)} supernets, {len(book.allocations)} allocations, "
                      f"{len(book.reservations)} reservations{note_en}"), arts)


@producer("ipam-reconcile")
def ipam_reconcile(ctx: BuildContext) -> Evidence:
    """The plan compared with the addresses the routers carry now: in use but not allocated,
    allocated but never seen, conflicts."""
    from simpul.network.collect import collect
    from simpul.network.ipam import Book
    from simpul.network.ipam_reconcile import compare

    names = _routers(ctx)
    if not names or ctx.known_hosts is None:
        return _cannot_reach("ipam-reconcile", "router", no_hosts=not names)
    book = Book.from_inventory(ctx.inv)
    results = collect(ctx.inv, names, ctx.known_hosts, parallel=10)
    seen = {r.target: {ifn: list(itf["addresses"]) for ifn, itf in r.value["interfaces"].items()}
            for r in results if r.ok and r.value is not None}
    down, note = _reach_note(results)
    findings = compare(book, seen, down)
    bad = [f for f in findings if f.disagrees]
    art = ctx.write("ipam-reconcile", "rekonsiliasi.json", _json([f.to_dict() for f in findings]),
                    t("Rekonsiliasi rencana IP dengan alamat di router", "IP plan reconciled with the routers' addresses"))
    verdict_id = f"{len(bad)} ketidaksesuaian" if bad else "semua sesuai rencana"
    verdict_en = f"{len(bad)} disagreement(s)" if bad else "all agree with the plan"
    return Evidence("ipam-reconcile", "partial" if down else "ok",
                    t(f"{len(seen)} router dibaca: {verdict_id}{note.id}",
                      f"{len(seen)} routers read: {verdict_en}{note.en}"), [art])


# --- backups and drills at the DRC ---------------------------------------------------------


@producer("backup-status")
def backup_status(ctx: BuildContext) -> Evidence:
    """Every backup job judged at the DRC now: newest snapshot age against the RPO, size, dedup,
    last integrity check (read-only: the gauge file of 'simpul backup status' is not written)."""
    from simpul.drc.backup_cli import collect_status

    if not ctx.inv.backup_policies:
        return Evidence("backup-status", "gap", t("tidak ada kebijakan cadangan", "no backup policies"))
    if ctx.known_hosts is None:
        return _cannot_reach("backup-status", "server")
    statuses, now = collect_status(ctx.inv, ctx.known_hosts, None)
    rows = [s.to_dict() for s in statuses]
    art = ctx.write("backup-status", "status-cadangan.json", _json({"now": now.isoformat(), "jobs": rows}),
                    t("Status cadangan di DRC (umur, ukuran, deduplikasi, pemeriksaan)",
                      "Backups at the DRC (age, size, dedup, integrity check)"))
    fresh = [s for s in statuses if s.ok]
    unreachable = [f"{s.policy}@{s.host}" for s in statuses if s.verdict == "unreachable"]
    stale = [f"{s.policy}@{s.host} ({s.verdict})" for s in statuses
             if not s.ok and s.verdict != "unreachable"]
    bad_id = f"; bermasalah: {', '.join(stale)}" if stale else ""
    bad_en = f"; not ok: {', '.join(stale)}" if stale else ""
    status: Status = "partial" if unreachable else "ok"
    return Evidence("backup-status", status,
                    t(f"{len(fresh)} dari {len(statuses)} pekerjaan cadangan segar dan terperiksa{bad_id}",
                      f"{len(fresh)} of {len(statuses)} backup jobs fresh and checked{bad_en}"), [art])


def _drills(ctx: BuildContext, kind: str, rows_of: Callable[[dict[str, Any]], list[Any]],
            header: list[str], *, report_of: Callable[[dict[str, Any]], Path] | None = None,
            result_of: Callable[[dict[str, Any]], str] | None = None) -> Evidence:
    """The drills of ``kind`` in the period: a CSV of all, and each one's Berita Acara.
    ``report_of``/``result_of`` read a history line whose keys differ from the restore
    drill's (``report``, ``result``)."""
    import shutil

    hist = ctx.settings.state_dir / "drills" / kind / "history.jsonl"
    report_of = report_of or (lambda x: Path(str(x.get("report", ""))))
    result_of = result_of or (lambda x: str(x.get("result")))
    name = f"{kind}-drills"
    entries = []
    for line in hist.read_text().splitlines() if hist.exists() else []:
        try:
            x = json.loads(line)
            when = datetime.fromisoformat(str(x["started"]))
        except (ValueError, KeyError, TypeError):
            continue
        if ctx.period.start <= when.astimezone(ZoneInfo(ctx.tz)).date() < ctx.period.end:
            entries.append(x)
    what_id = {"restore": "uji pemulihan", "failover": "uji failover"}.get(kind, kind)
    what_en = {"restore": "restore drill", "failover": "failover drill"}.get(kind, kind)
    if not entries:
        return Evidence(name, "gap", t(f"tidak ada {what_id} dalam periode {ctx.period.label}",
                                       f"no {what_en} in the period {ctx.period.label}"))
    arts = [ctx.write(name, "riwayat.csv", _csv(header, [rows_of(x) for x in entries]),
                      t(f"Riwayat {what_id} dalam periode", f"{what_en.capitalize()}s of the period"))]
    for x in entries:
        report = report_of(x)
        if report.is_file():
            dst = ctx.dir(name) / f"{x.get('drill') or x.get('run_id') or report.parent.name}.html"
            shutil.copyfile(report, dst)
            arts.append(Artefact(str(dst.relative_to(ctx.out)),
                                 t(f"Berita Acara {x.get('service')} {str(x['started'])[:10]} ({result_of(x)})",
                                   f"Drill report {x.get('service')} {str(x['started'])[:10]} ({result_of(x)})")))
    passed = sum(1 for x in entries if result_of(x).lower() in ("pass", "passed", "lulus"))
    last = entries[-1]
    return Evidence(name, "ok",
                    t(f"{len(entries)} {what_id}, {passed} lulus; terakhir {str(last['started'])[:10]} "
                      f"({last.get('service')}: {result_of(last)})",
                      f"{len(entries)} {what_en}(s), {passed} passed; last {str(last['started'])[:10]} "
                      f"({last.get('service')}: {result_of(last)})"), arts)


@producer("restore-drills")
def restore_drills(ctx: BuildContext) -> Evidence:
    """Restore drills of the period with measured RTO/RPO and their Berita Acara Uji Pemulihan."""
    return _drills(ctx, "restore",
                   lambda x: [x.get("drill"), x.get("service"), x.get("started"), x.get("result"),
                              x.get("rto_s"), x.get("rpo_s"), x.get("findings")],
                   ["drill", "service", "started", "result", "rto_s", "rpo_s", "findings"])


@producer("failover-drills")
def failover_drills(ctx: BuildContext) -> Evidence:
    """Failover drills of the period (switchover, crash, site loss, partition under load) with
    measured RTO, RPO, divergence and their Berita Acara Uji Failover."""
    from simpul.drc.failover import history_dir

    d = history_dir(ctx.settings.state_dir)
    return _drills(ctx, "failover",
                   lambda x: [x.get("run_id"), x.get("service"), x.get("scenario"), x.get("started"),
                              "pass" if x.get("passed") else "fail", x.get("rto_s"),
                              x.get("failback_rto_s"), x.get("rpo_rows"), x.get("divergent"),
                              x.get("acks"), x.get("lab")],
                   ["drill", "service", "scenario", "started", "result", "rto_s", "failback_rto_s",
                    "rpo_rows", "divergent_rows", "acknowledged_writes", "lab"],
                   report_of=lambda x: d / f"{x.get('run_id')}.html",
                   result_of=lambda x: "pass" if x.get("passed") else "fail")


@producer("drc-status")
def drc_status(ctx: BuildContext) -> Evidence:
    """Whether the DRC could take over each service with a standby now: leader and site,
    replicas with lag, synchronous standby, service address, etcd majority (read-only)."""
    from simpul.deploys.dbcluster_render import cluster_specs
    from simpul.drc.cluster import read_status

    specs = cluster_specs(ctx.inv)
    if not specs:
        return Evidence("drc-status", "gap", t("tidak ada layanan dengan standby di DRC "
                                               "(services.<nama>.standby)",
                                               "no service has a DRC standby (services.<name>.standby)"))
    if ctx.known_hosts is None:
        return _cannot_reach("drc-status", "server")
    read = [read_status(ctx.inv, spec, ctx.known_hosts) for spec in specs]
    statuses = [st for st, _ in read]
    art = ctx.write("drc-status", "status-drc.json", _json([s.to_dict() for s in statuses]),
                    t("Kesiapan DRC mengambil alih (pemimpin, replika, lag, etcd, alamat layanan)",
                      "DRC takeover readiness (leader, replicas, lag, etcd, service address)"))
    ready = [s.service for s in statuses if s.can_take_over]
    not_ready = [f"{s.service} ({'; '.join(s.problems[:2]) or 'not ready'})"
                 for s in statuses if not s.can_take_over]
    # failed = no member answered at all; reachable but not ready (or never deployed) = partial
    unreachable = all(all("error" in f for f in facts.values()) for _, facts in read)
    status: Status = "failed" if unreachable else "ok" if not not_ready else "partial"
    down = sorted({n for _, facts in read for n, f in facts.items() if "error" in f})
    if unreachable:  # nothing answered: say who, not what Patroni would have said
        not_ready = [f"{s.service}" for s in statuses]
    tail_id = f"; belum siap: {', '.join(not_ready)}" if not_ready else ""
    tail_en = f"; not ready: {', '.join(not_ready)}" if not_ready else ""
    if down:
        tail_id += f"; tidak terjangkau: {', '.join(down)}"
        tail_en += f"; unreachable: {', '.join(down)}"
    return Evidence("drc-status", status,
                    t(f"DRC siap mengambil alih {len(ready)} dari {len(statuses)} layanan{tail_id}",
                      f"the DRC could take over {len(ready)} of {len(statuses)} services now{tail_en}"),
                    [art])
