"""Restore drills: restore a service's newest backups into scratch at the DRC, verify them
against the backup-time record, measure RTO and RPO, clean up, and keep the record.

Pergub Jambi 12/2022 Pasal 23(2)(e) (the IT contingency plan is tested regularly) and 24(4)
(availability = backup copies and system recovery); Pergub Jateng (draft 2025) Pasal 11(6),
12(1)(g) (recovery per the continuity plan); Perbup Temanggung 83/2021 Pasal 15.

A drill, for service S:

1. **plan** (:func:`plan_drill`, read-only): the *units* to restore — every (policy, source
   server) of the policies serving S — with the newest snapshot of each at the DRC (or the one
   ``--snapshot`` names), the scratch place, the targets;
2. **execute** (:func:`execute`): leftovers of an interrupted drill are removed first (and
   reported); the repository's data is read and authenticated (``restic check --read-data``:
   the plain structure check missed a damaged pack here, LAB-FACTS); each unit is restored into
   ``/var/lib/simpul-backup/scratch/<drill>/`` at the DRC; every file is compared with the
   manifest (size, sha256); every dump is loaded into a **scratch** PostgreSQL/MariaDB (own data
   directory, socket in the scratch directory, no TCP, PostgreSQL on port 5499 — never over live
   data) and every table's row count and checksum compared with the backup-time record; a smoke
   query runs; then everything is stopped and removed, also when the drill fails or is
   interrupted.

**RTO** is drill start → the last unit verified; **achieved RPO** is the age of the restored
snapshot at drill start. Both are compared with the service's targets. Every failure is a
:class:`~simpul.drc.manifest.Finding` naming the snapshot, pack, file or table.

Library code: no printing, no oplog (the command records), hooks for tests
(:class:`DrillHooks`).
"""

from __future__ import annotations

import fcntl
import getpass
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from simpul.deploys import backup_spec as bs
from simpul.drc import manifest as mf
from simpul.drc.remote import RemoteError, call, target
from simpul.drc.retention import parse_time
from simpul.drc.status import fmt_age, tag_value
from simpul.errors import ConfigError, LockedError, SimpulError, UsageError
from simpul.inventory.models import Inventory
from simpul.results import Result, Status
from simpul.runner import Interrupted, run_each

log = logging.getLogger(__name__)

REFS = ["Pergub Jambi 12/2022 Pasal 23(2)(e), 24(4)", "Pergub Jateng (draft 2025) Pasal 11(6), 12(1)(g)",
        "Perbup Temanggung 83/2021 Pasal 15", "Pergub Kalteng 24/2022 Pasal 11(2)(b), 14"]


@dataclass
class Unit:
    """One snapshot to restore: one policy from one source server."""

    index: int
    policy: str
    host: str
    destination: str
    repository: str
    snapshot: str  # short ID
    snapshot_time: datetime
    logical_bytes: int | None
    databases: list[dict[str, Any]]  # from the inventory: type, database, smoke_query
    paths: list[str]

    @property
    def name(self) -> str:
        return f"{self.policy}@{self.host}"

    @property
    def key(self) -> str:
        return f"u{self.index}"

    def to_dict(self) -> dict[str, Any]:
        return {"unit": self.name, "policy": self.policy, "host": self.host,
                "destination": self.destination, "repository": self.repository,
                "snapshot": self.snapshot, "snapshot_time": self.snapshot_time.isoformat(),
                "bytes": self.logical_bytes, "databases": self.databases, "paths": self.paths}


@dataclass
class DrillPlan:
    drill_id: str
    service: str
    title: str
    rto: timedelta
    rpo: timedelta
    units: list[Unit]
    destinations: list[str]
    scratch: str = bs.SCRATCH
    port: int = bs.SCRATCH_PORT
    organisation: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"drill": self.drill_id, "service": self.service, "title": self.title,
                "organisation": self.organisation,
                "rto_s": int(self.rto.total_seconds()), "rpo_s": int(self.rpo.total_seconds()),
                "destinations": self.destinations, "scratch": f"{self.scratch}/{self.drill_id}",
                "scratch_postgres_port": self.port, "units": [u.to_dict() for u in self.units],
                "steps": [
                    "remove the scratch of any interrupted drill (and say so)",
                    "restic check --read-data of each repository (every pack read and authenticated)",
                    "restic restore of each snapshot into the scratch directory",
                    "every file against the manifest (size, sha256); every dump's sha256",
                    f"dumps loaded into scratch PostgreSQL (port {self.port}, socket only) / "
                    "MariaDB (socket only); every table's rows and checksum against the "
                    "backup-time record",
                    "a smoke query per database",
                    "stop and remove the scratch; write the record and the Berita Acara"]}


@dataclass
class DrillHooks:
    """Test seams: called in the drill's own order (never set by the command line)."""

    after_load: Callable[[Unit, dict[str, Any]], None] | None = None
    after_begin: Callable[[DrillPlan], None] | None = None
    after_restore: Callable[[Unit, str], None] | None = None  # (unit, restored directory)


@dataclass
class Step:
    step: str
    unit: str
    start: float
    end: float
    ok: bool
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "unit": self.unit, "start_s": round(self.start, 2),
                "end_s": round(self.end, 2), "seconds": round(self.end - self.start, 2),
                "ok": self.ok, "detail": self.detail}


@dataclass
class UnitOutcome:
    unit: Unit
    steps: list[Step] = field(default_factory=list)
    findings: list[mf.Finding] = field(default_factory=list)
    verified_at: float | None = None
    manifest: dict[str, Any] = field(default_factory=dict)
    restored_bytes: int = 0
    files_checked: int = 0
    files_bytes: int = 0
    tables: list[dict[str, Any]] = field(default_factory=list)  # name, rows, ok
    smoke: list[dict[str, Any]] = field(default_factory=list)
    manifest_sha256: str = ""


# --- planning --------------------------------------------------------------------------------


def new_drill_id(service: str, now: datetime) -> str:
    return f"{service}-{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(2)}"


def service_jobs(inv: Inventory, service: str) -> list[bs.JobGroup]:
    if service not in inv.services:
        known = ", ".join(sorted(inv.services)) or "none"
        raise UsageError(f"unknown service '{service}' (services: {known})")
    js = [j for j in bs.job_groups(inv) if j.pol.service == service]
    if not js:
        raise ConfigError(f"no backup policy serves service '{service}'",
                          hint="set service: on its backup_policies and list them on the servers")
    return js


def plan_drill(inv: Inventory, service: str, known_hosts: Path, *, snapshot: str | None = None,
               now: datetime | None = None) -> DrillPlan:
    """Choose the snapshots (read-only: asks the DRC for its snapshot lists)."""
    now = now or datetime.now(UTC)
    js = service_jobs(inv, service)
    repos: dict[tuple[str, str], dict[str, Any]] = {}
    for j in js:
        k = (j.pol.destination, j.repository)
        if k not in repos:
            repos[k] = call(target(inv, j.pol.destination, known_hosts), "drc-status", j.repository,
                            timeout=600)
    units: list[Unit] = []
    for j in js:
        snaps = [s for s in repos[(j.pol.destination, j.repository)].get("snapshots") or []
                 if tag_value(s.get("tags") or [], "policy") == j.policy and s.get("hostname") in j.hosts]
        if snapshot:
            snaps = [s for s in snaps if str(s["id"]).startswith(snapshot)]
            if not snaps:
                continue
        if not snaps:
            raise SimpulError(f"no snapshot of {j.policy} from {j.host} at {j.pol.destination}",
                              hint="run 'simpul backup run' (or wait for the cron job) first")
        s = max(snaps, key=lambda s: parse_time(s["time"]))
        dbs = [{"type": "mariadb" if src.type == "mysql" else src.type, "database": src.database,
                "smoke_query": src.smoke_query} for src in j.pol.sources if src.type != "paths"]
        paths = [p for src in j.pol.sources if src.type == "paths" for p in src.paths]
        b = tag_value(s.get("tags") or [], "bytes")
        units.append(Unit(len(units) + 1, j.policy, str(s.get("hostname") or j.host),
                          j.pol.destination, j.repository,
                          str(s.get("short_id") or s["id"][:8]), parse_time(s["time"]),
                          int(b) if b else None, dbs, paths))
    if not units:
        raise UsageError(f"snapshot {snapshot} is not a snapshot of service {service}'s policies")
    svc = inv.services[service]
    return DrillPlan(new_drill_id(service, now), service, svc.name, svc.rto, svc.rpo, units,
                     sorted({u.destination for u in units}), organisation=inv.organisation.name)


# --- executing -------------------------------------------------------------------------------


@dataclass
class DrillRecord:
    """Everything the report and the operations log need."""

    plan: DrillPlan
    started: datetime
    finished: datetime | None = None
    outcomes: list[UnitOutcome] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    findings: list[mf.Finding] = field(default_factory=list)
    leftovers_removed: list[dict[str, Any]] = field(default_factory=list)
    cleanup: list[dict[str, Any]] = field(default_factory=list)
    rto: timedelta | None = None
    interrupted: bool = False
    error: str = ""

    @property
    def rpo(self) -> timedelta:
        return max((self.started - u.snapshot_time for u in self.plan.units), default=timedelta(0))

    @property
    def passed(self) -> bool:
        return (not self.findings and not self.interrupted and not self.error
                and self.rto is not None and self.rto <= self.plan.rto and self.rpo <= self.plan.rpo)

    def to_dict(self) -> dict[str, Any]:
        p = self.plan
        return {
            "format": "simpul-restore-drill/1", "drill": p.drill_id, "service": p.service,
            "title": p.title, "result": "passed" if self.passed else "failed",
            "started": self.started.isoformat(timespec="seconds"),
            "finished": self.finished.isoformat(timespec="seconds") if self.finished else None,
            "operator": _operator(), "noc_host": socket.gethostname(),
            "targets": {"rto_s": int(p.rto.total_seconds()), "rpo_s": int(p.rpo.total_seconds())},
            "rto_s": round(self.rto.total_seconds(), 1) if self.rto is not None else None,
            "rpo_s": round(self.rpo.total_seconds(), 1),
            "rto_ok": self.rto is not None and self.rto <= p.rto, "rpo_ok": self.rpo <= p.rpo,
            "units": [_unit_dict(o, self.started) for o in self.outcomes],
            "checks": self.checks, "findings": [f.to_dict() for f in self.findings],
            "timeline": [s.to_dict() for s in sorted(self.steps, key=lambda s: (s.start, s.unit))],
            "leftovers_removed": self.leftovers_removed, "cleanup": self.cleanup,
            "scratch_left": any(not c.get("removed") for c in self.cleanup) or not self.cleanup,
            "interrupted": self.interrupted, "error": self.error, "refs": REFS,
            "plan": p.to_dict(),
        }


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def _unit_dict(o: UnitOutcome, started: datetime) -> dict[str, Any]:
    u = o.unit
    return {
        **u.to_dict(), "rpo_s": round((started - u.snapshot_time).total_seconds(), 1),
        "verified_s": round(o.verified_at, 1) if o.verified_at is not None else None,
        "restored_bytes": o.restored_bytes, "files_checked": o.files_checked,
        "files_bytes": o.files_bytes, "tables": o.tables, "smoke": o.smoke,
        "manifest": {k: v for k, v in o.manifest.items() if k != "sources"},
        "manifest_sha256": o.manifest_sha256, "recorded": mf.summarise(o.manifest) if o.manifest else {},
        "ok": not o.findings and o.verified_at is not None,
    }


class Clock:
    def __init__(self) -> None:
        self.t0 = time.monotonic()

    def __call__(self) -> float:
        return time.monotonic() - self.t0


@contextmanager
def noc_lock(state_dir: Path) -> Iterator[None]:
    """One drill at a time from this NOC (the scratch place at the DRC is shared)."""
    d = state_dir / "drills" / "restore"
    d.mkdir(parents=True, exist_ok=True)
    fd = os.open(d / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockedError("another restore drill is running from this NOC",
                              hint="wait for it to finish") from None
        yield
    finally:
        os.close(fd)


def _step(rec: list[Step], clock: Clock, name: str, unit: str, fn: Callable[[], Any],
          ok: Callable[[Any], bool] = lambda _: True, detail: Callable[[Any], str] = lambda _: ""
          ) -> Any:
    t = clock()
    try:
        res = fn()
    except SimpulError as e:
        rec.append(Step(name, unit, t, clock(), False, e.message[:300]))
        raise
    rec.append(Step(name, unit, t, clock(), ok(res), detail(res)[:300]))
    return res


@dataclass
class DbOutcome:
    steps: list[Step] = field(default_factory=list)
    findings: list[mf.Finding] = field(default_factory=list)
    tables: list[dict[str, Any]] = field(default_factory=list)
    smoke: list[dict[str, Any]] = field(default_factory=list)


def _run_db(t: Any, plan: DrillPlan, u: Unit, src: dict[str, Any], info: dict[str, Any],
            smoke: str, clock: Clock, hooks: DrillHooks) -> DbOutcome:
    """Load one dump into the unit's scratch database server and verify every table."""
    o = DbOutcome()
    did, name, snap = plan.drill_id, u.name, u.snapshot
    engine = "postgres" if src["type"] == "postgres" else "mariadb"
    db = src["database"]
    label = f"{engine} {db}"
    locale = [x for k in ("encoding", "lc_collate", "lc_ctype") if src.get(k)
              for x in (f"--{k.replace('_', '-')}", str(src[k]))]
    load = _step(o.steps, clock, f"load {label}", name, partial(
        call, t, "drill-db-load", did, "--unit", u.key, "--engine", engine, "--db", db,
        "--dump", src["file"], "--port", str(plan.port), *locale, timeout=24 * 3600),
        ok=lambda r: not r.get("rc"), detail=lambda r: r.get("message") or f"{r.get('seconds')} s")
    if load.get("rc"):
        o.findings.append(mf.Finding("database", label, f"restore of the dump failed: "
                                     f"{load.get('message')}", name, snap))
        return o
    if hooks.after_load is not None:
        hooks.after_load(u, {"engine": engine, "database": db, **info})
    m = _step(o.steps, clock, f"verify {label}", name, partial(
        call, t, "drill-db-measure", did, "--unit", u.key, "--engine", engine, "--db", db,
        "--port", str(plan.port), "--smoke", smoke, timeout=24 * 3600))
    fs = mf.compare_tables(src.get("tables", []), m.get("tables", []), unit=name,
                           snapshot=snap, database=db)
    bad = {f.subject for f in fs}
    o.findings += fs
    for tb in src.get("tables", []):
        o.tables.append({"database": label, "table": tb["name"], "rows": tb["rows"],
                         "ok": tb["name"] not in bad})
    sm = m.get("smoke") or {}
    if sm:
        o.smoke.append({"database": label, **sm})
        if not sm.get("ok"):
            o.findings.append(mf.Finding("smoke", label, f"smoke query failed: "
                                         f"{sm.get('error')} ({sm.get('query')})", name, snap))
    o.steps[-1].ok = not fs and bool(sm.get("ok", True))
    o.steps[-1].detail = (f"{len(src.get('tables', []))} tables, "
                          f"{sum(int(x['rows']) for x in src.get('tables', []))} rows"
                          + (f"; {len(fs)} mismatch(es)" if fs else "; all match")
                          + (f"; smoke query: {'; '.join(' '.join(map(str, r)) for r in sm.get('rows') or [])}"
                             if sm.get("ok") else ""))
    return o


def _run_unit(inv: Inventory, known_hosts: Path, plan: DrillPlan, u: Unit, clock: Clock,
              hooks: DrillHooks) -> UnitOutcome:
    """Restore one snapshot, verify its files and dumps, then load and verify its databases
    (in parallel, each in the unit's own scratch database server)."""
    o = UnitOutcome(u)
    t = target(inv, u.destination, known_hosts)
    did, name, snap = plan.drill_id, u.name, u.snapshot
    try:
        r = _step(o.steps, clock, "restore", name, partial(
            call, t, "drill-restore", did, "--repo", u.repository, "--unit", u.key, "--snapshot",
            snap, timeout=24 * 3600), ok=lambda r: not r.get("errors") and not r.get("rc"),
            detail=lambda r: f"{r.get('bytes', 0)} bytes restored in {r.get('seconds')} s"
                             + (f"; {len(r['errors'])} error(s)" if r.get("errors") else ""))
        o.restored_bytes = int(r.get("bytes") or 0)
        if hooks.after_restore is not None:
            hooks.after_restore(u, str(r.get("target", "")))
        o.findings += mf.restore_findings(r, unit=name, snapshot=snap)
        v = _step(o.steps, clock, "verify files", name, partial(
            call, t, "drill-verify-files", did, "--unit", u.key, "--policy", u.policy,
            timeout=24 * 3600), ok=lambda v: "error" not in v)
        if "error" in v or not v.get("manifest"):
            o.findings.append(mf.Finding("manifest", f"{bs.SPOOL}/{u.policy}/MANIFEST.json",
                                         v.get("error", "manifest missing"), name, snap))
            return o
        o.manifest = v["manifest"]
        o.manifest_sha256 = v.get("manifest_sha256", "")
        for res in v["units"]:
            o.findings += mf.file_findings(res, unit=name, snapshot=snap)
            if res["type"] == "paths":
                o.files_checked += int(res.get("checked", 0))
                o.files_bytes += int(res.get("bytes", 0))
        o.steps[-1].detail = (f"{o.files_checked} files ({o.files_bytes} bytes) and "
                              f"{sum(1 for x in v['units'] if x['type'] != 'paths')} dump(s) checked")
        o.steps[-1].ok = not o.findings
        smoke_of = {(d["type"], d["database"]): d.get("smoke_query") for d in u.databases}
        dbs = []
        for src in o.manifest.get("sources", []):
            if src["type"] == "paths":
                continue
            label = f"{src['type']} {src['database']}"
            if any(f.kind == "dump" and f.subject == src["file"] for f in o.findings):
                o.findings.append(mf.Finding("database", label, "not loaded: its dump failed "
                                             "verification", name, snap))
                continue
            dbs.append(src)
        engines: dict[str, dict[str, Any]] = {}
        for engine in sorted({"postgres" if s["type"] == "postgres" else "mariadb" for s in dbs}):
            engines[engine] = _step(o.steps, clock, f"start scratch {engine}", name, partial(
                call, t, "drill-db-start", did, "--unit", u.key, "--engine", engine, "--port",
                str(plan.port), timeout=600),
                detail=lambda i: f"socket {i.get('socket')}" + (f", port {i['port']}" if i.get("port") else ""))

        def one_db(src: dict[str, Any]) -> Result:
            engine = "postgres" if src["type"] == "postgres" else "mariadb"
            d = _run_db(t, plan, u, src, engines[engine], smoke_of.get((src["type"], src["database"])) or "",
                        clock, hooks)
            return Result(f"{src['type']} {src['database']}", Status.OK, value=d)

        for res in run_each(dbs, one_db, name=lambda s: f"{s['type']} {s['database']}",
                            parallel=max(1, len(dbs))):
            if isinstance(res.value, DbOutcome):
                o.steps += res.value.steps
                o.findings += res.value.findings
                o.tables += res.value.tables
                o.smoke += res.value.smoke
            else:
                o.findings.append(mf.Finding("database", res.target, res.message, name, snap))
        o.verified_at = clock()
    except RemoteError as e:
        o.findings.append(mf.Finding("step", o.steps[-1].step if o.steps else "drill", e.message,
                                     name, snap))
    return o


@dataclass
class CheckOutcome:
    destination: str
    repository: str
    doc: dict[str, Any]
    steps: list[Step]
    done_at: float


def _run_check(inv: Inventory, known_hosts: Path, plan: DrillPlan, d: str, repo: str,
               clock: Clock) -> CheckOutcome:
    steps: list[Step] = []
    chk = _step(steps, clock, "restic check --read-data", f"{d}:{repo}",
                partial(call, target(inv, d, known_hosts), "drill-check", plan.drill_id, "--repo",
                        repo, timeout=24 * 3600),
                ok=lambda c: bool(c.get("ok")),
                detail=lambda c: ("all packs read and authenticated" if c.get("ok") else
                                  f"{len(c.get('damaged_packs', []))} damaged pack(s)")
                + f" ({c.get('seconds')} s)")
    return CheckOutcome(d, repo, chk, steps, clock())


def execute(inv: Inventory, plan: DrillPlan, known_hosts: Path, state_dir: Path, *,
            hooks: DrillHooks | None = None, parallel: int = 4) -> DrillRecord:
    """Run the drill (acts at the DRC); always removes its scratch, also when it fails.

    The repository checks and the units run side by side (the check reads every pack while
    the units restore and load theirs); RTO ends when the last of them is done.
    """
    hooks = hooks or DrillHooks()
    clock = Clock()
    rec = DrillRecord(plan, datetime.now(UTC))
    with noc_lock(state_dir):
        begun: list[str] = []
        try:
            for d in plan.destinations:
                t = target(inv, d, known_hosts)
                scan = _step(rec.steps, clock, "look for an interrupted drill", d,
                             partial(call, t, "drill-scan", timeout=300),
                             detail=lambda s: f"{len(s.get('leftovers', []))} leftover(s)")
                left = [x["drill"] for x in scan.get("leftovers", [])]
                if left:
                    c = _step(rec.steps, clock, "remove the scratch of an interrupted drill", d,
                              partial(call, t, "drill-clean", *left, timeout=600),
                              ok=lambda c: all(x.get("removed") for x in c.get("cleaned", [])),
                              detail=lambda c: "; ".join(
                                  f"{x['drill']} ({x['bytes']} bytes"
                                  + (f"; {', '.join(x['stopped'])}" if x.get("stopped") else "")
                                  + ")" for x in c.get("cleaned", [])))
                    rec.leftovers_removed += [{"destination": d, **x} for x in c.get("cleaned", [])]
                _step(rec.steps, clock, "create scratch", d, partial(
                    call, t, "drill-begin", plan.drill_id, "--repo", ",".join(sorted(
                        {u.repository for u in plan.units if u.destination == d})),
                    "--noc", f"{_operator()}@{socket.gethostname()}", timeout=300))
                begun.append(d)
            if hooks.after_begin is not None:
                hooks.after_begin(plan)
            work: list[tuple[str, str] | Unit] = [
                *sorted({(u.destination, u.repository) for u in plan.units}), *plan.units]

            def label(w: tuple[str, str] | Unit) -> str:
                return w.name if isinstance(w, Unit) else f"{w[0]}:{w[1]}"

            def one(w: tuple[str, str] | Unit) -> Result:
                if isinstance(w, Unit):
                    o = _run_unit(inv, known_hosts, plan, w, clock, hooks)
                    return Result(w.name, Status.OK if not o.findings else Status.FAILED, value=o)
                c = _run_check(inv, known_hosts, plan, w[0], w[1], clock)
                return Result(label(w), Status.OK if c.doc.get("ok") else Status.FAILED, value=c)

            try:
                results = run_each(work, one, name=label, parallel=parallel)
            except Interrupted as e:
                rec.interrupted = True
                results = e.results
            ends: list[float] = []
            for r in results:
                if isinstance(r.value, CheckOutcome):
                    c = r.value
                    rec.steps += c.steps
                    rec.checks.append({"destination": c.destination, "repository": c.repository,
                                       "ok": c.doc.get("ok"), "seconds": c.doc.get("seconds"),
                                       "mode": c.doc.get("mode"),
                                       "damaged_packs": c.doc.get("damaged_packs", []),
                                       "errors": c.doc.get("errors", [])})
                    rec.findings += mf.check_findings(c.doc, c.repository)
                    ends.append(c.done_at)
                elif isinstance(r.value, UnitOutcome):
                    rec.outcomes.append(r.value)
                    rec.steps += r.value.steps
                    rec.findings += r.value.findings
                    if r.value.verified_at is not None:
                        ends.append(r.value.verified_at)
                else:  # the task raised: its message is the finding
                    rec.findings.append(mf.Finding("step", r.target, r.message, r.target))
            if len(ends) == len(work):
                rec.rto = timedelta(seconds=max(ends))
        except KeyboardInterrupt:
            rec.interrupted = True
        except SimpulError as e:
            rec.error = e.message
        finally:
            for d in begun:
                try:
                    c = _step(rec.steps, clock, "remove scratch", d, partial(
                        call, target(inv, d, known_hosts), "drill-end", plan.drill_id, timeout=600),
                        ok=lambda c: bool(c.get("removed")),
                        detail=lambda c: f"{c.get('bytes')} bytes removed"
                        + (f"; {', '.join(c['stopped'])}" if c.get("stopped") else ""))
                    rec.cleanup.append({"destination": d, **c})
                except SimpulError as e:
                    rec.cleanup.append({"destination": d, "removed": False, "error": e.message})
                    rec.findings.append(mf.Finding("cleanup", d, f"scratch not removed: {e.message} "
                                                   "(the next drill removes it)"))
            rec.finished = datetime.now(UTC)
    if rec.rto is not None and rec.rto > plan.rto:
        rec.findings.append(mf.Finding("target", "RTO", f"{fmt_age(rec.rto)} exceeds the target "
                                                         f"{fmt_age(plan.rto)}"))
    if rec.rpo > plan.rpo:
        rec.findings.append(mf.Finding("target", "RPO", f"the restored data was {fmt_age(rec.rpo)} "
                                                         f"old, the target is {fmt_age(plan.rpo)}"))
    return rec


# --- the record ----------------------------------------------------------------------------


def save(rec: DrillRecord, state_dir: Path) -> dict[str, Path]:
    """Write the JSON record and the Berita Acara (HTML) and append to the drill history."""
    import json

    from simpul.drc.report import render_html

    d = state_dir / "drills" / "restore" / rec.plan.drill_id
    d.mkdir(parents=True, exist_ok=True)
    data = rec.to_dict()
    j = d / "drill.json"
    j.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    h = d / "berita-acara.html"
    h.write_text(render_html(data))
    hist = state_dir / "drills" / "restore" / "history.jsonl"
    line = {"drill": data["drill"], "service": data["service"], "result": data["result"],
            "started": data["started"], "rto_s": data["rto_s"], "rpo_s": data["rpo_s"],
            "findings": len(data["findings"]), "report": str(h)}
    with hist.open("a") as f:
        f.write(json.dumps(line, ensure_ascii=False) + "\n")
    return {"json": j, "html": h, "history": hist}


def history(state_dir: Path, service: str | None = None) -> list[dict[str, Any]]:
    import json

    hist = state_dir / "drills" / "restore" / "history.jsonl"
    if not hist.exists():
        return []
    out = []
    for line in hist.read_text().splitlines():
        try:
            x = json.loads(line)
        except ValueError:
            continue
        if service is None or x.get("service") == service:
            out.append(x)
    return out
