"""Backup freshness and integrity verdicts per policy and server (pure).

``simpul backup status`` asks each DRC repository for its snapshots, size and last integrity
check (``simpul-backup drc-status``) and judges every job — one policy on one source server —
against its target (what users of restic/borg keep asking for: *an alert when the newest
backup is older than the RPO*):

- the target age is the RPO of the policy's service (``service:``), else the policy's
  ``every``;
- a job is **ok** when its newest snapshot at the DRC is younger than the target and the
  repository's last integrity check passed and is not overdue (``verify_every`` plus one
  hour of grace); otherwise the verdict names what is wrong: ``missing`` (no snapshot at
  all), ``stale``, ``never-checked``, ``check-failed``, ``check-overdue``.

The same numbers go to the NOC's time-series store: :func:`gauge_document` is the file the
poller reads (``<state_dir>/gauges/backup.json``, see docs/drc.md), with the snapshot and
check times as timestamps, so the poller turns them into ages at each poll.

Regulation: Perbup Temanggung 83/2021 Pasal 15 (Dinkominfo supervises periodic backups);
Pergub Jambi 12/2022 Pasal 26(1)(e) (backup period per data set).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from simpul.drc.retention import parse_time
from simpul.inventory.models import Inventory

CHECK_GRACE = timedelta(hours=1)
BAD = ("missing", "stale", "never-checked", "check-failed", "check-overdue", "unreachable")


@dataclass
class JobStatus:
    """The verdict for one policy on one source server."""

    policy: str
    host: str
    service: str | None
    destination: str
    repository: str
    target: timedelta  # the RPO it is judged by
    target_from: str  # "service simpeg rpo" | "policy every"
    snapshots: int = 0
    newest_id: str | None = None
    newest_time: datetime | None = None
    newest_bytes: int | None = None
    stored_bytes: int | None = None  # the whole repository on disk at the DRC
    logical_bytes: int | None = None  # sum of all snapshots' sizes in the repository
    check_time: datetime | None = None
    check_ok: bool | None = None
    check_mode: str | None = None
    verdict: str = "ok"
    reasons: list[str] = field(default_factory=list)
    now: datetime = field(default=datetime.min, repr=False)

    @property
    def age(self) -> timedelta | None:
        return None if self.newest_time is None else self.now - self.newest_time

    @property
    def dedup_ratio(self) -> float | None:
        if not self.stored_bytes or self.logical_bytes is None:
            return None
        return self.logical_bytes / self.stored_bytes

    @property
    def ok(self) -> bool:
        return self.verdict == "ok"

    def to_dict(self) -> dict[str, Any]:
        age = self.age
        return {
            "policy": self.policy, "host": self.host, "service": self.service,
            "destination": self.destination, "repository": self.repository,
            "verdict": self.verdict, "reasons": self.reasons,
            "target_s": int(self.target.total_seconds()), "target_from": self.target_from,
            "snapshots": self.snapshots, "newest": self.newest_id,
            "newest_time": self.newest_time.isoformat() if self.newest_time else None,
            "age_s": round(age.total_seconds()) if age is not None else None,
            "newest_bytes": self.newest_bytes, "stored_bytes": self.stored_bytes,
            "logical_bytes": self.logical_bytes,
            "dedup_ratio": round(self.dedup_ratio, 2) if self.dedup_ratio else None,
            "last_check": self.check_time.isoformat() if self.check_time else None,
            "last_check_ok": self.check_ok, "last_check_mode": self.check_mode,
        }


def tag_value(tags: list[str] | tuple[str, ...], key: str) -> str | None:
    for t in tags:
        if t.startswith(key + "="):
            return t[len(key) + 1:]
    return None


def target_of(inv: Inventory, policy: str) -> tuple[timedelta, str]:
    pol = inv.backup_policies[policy]
    if pol.service and pol.service in inv.services:
        svc = inv.services[pol.service]
        if svc.rpo.total_seconds() == 0 and svc.standby is not None:
            # RPO 0 is the synchronous standby's promise; no backup period can keep it
            return pol.every, f"policy every (service {pol.service}'s RPO 0 is kept by its standby)"
        return svc.rpo, f"service {pol.service} rpo"
    return pol.every, "policy every"


def fmt_age(td: timedelta | None) -> str:
    """``1d3h``, ``2h15m``, ``4m10s``, ``9s`` (two units at most)."""
    if td is None:
        return "-"
    secs = max(0, int(td.total_seconds()))
    parts: list[str] = []
    for unit, n in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if secs >= n or (unit == "s" and not parts):
            parts.append(f"{secs // n}{unit}")
            secs %= n
    return "".join(parts[:2])


def judge(inv: Inventory, policy: str, host: str | tuple[str, ...], repo: dict[str, Any] | None,
          now: datetime, *, error: str | None = None) -> JobStatus:
    """The verdict of one job from its repository's ``drc-status`` document (``None`` with
    ``error`` when the DRC could not be asked). ``host`` may be several servers (a primary-only
    policy: the newest snapshot from any of them counts)."""
    pol = inv.backup_policies[policy]
    hosts = (host,) if isinstance(host, str) else tuple(host)
    target, why = target_of(inv, policy)
    js = JobStatus(policy, ",".join(hosts), pol.service, pol.destination,
                   pol.repository.rstrip("/").rsplit("/", 1)[1], target, why, now=now)
    if repo is None:
        js.verdict = "unreachable"
        js.reasons = [f"the DRC ({pol.destination}) could not be asked: {error or 'unknown error'}"]
        return js
    snaps = [s for s in repo.get("snapshots") or []
             if tag_value(s.get("tags") or [], "policy") == policy and s.get("hostname") in hosts]
    js.snapshots = len(snaps)
    js.stored_bytes = repo.get("stored_bytes")
    js.logical_bytes = sum(int(tag_value(s.get("tags") or [], "bytes") or 0)
                           for s in repo.get("snapshots") or [])
    if snaps:
        newest = max(snaps, key=lambda s: parse_time(s["time"]))
        js.newest_id = str(newest.get("short_id") or newest["id"][:8])
        js.newest_time = parse_time(newest["time"])
        b = tag_value(newest.get("tags") or [], "bytes")
        js.newest_bytes = int(b) if b else None
    chk = repo.get("check")
    if chk:
        js.check_time = parse_time(chk["time"])
        js.check_ok = bool(chk.get("ok"))
        js.check_mode = chk.get("mode")
    problems: list[tuple[str, str]] = []
    if not snaps:
        problems.append(("missing", f"no snapshot of {policy} from {js.host} at {pol.destination}"))
    elif js.age is not None and js.age > target:
        problems.append(("stale", f"newest snapshot {js.newest_id} is {fmt_age(js.age)} old, "
                                  f"older than the target {fmt_age(target)} ({why})"))
    if not chk:
        problems.append(("never-checked", f"repository {js.repository} was never checked "
                                          "(simpul backup check)"))
    elif not js.check_ok:
        n = len(chk.get("damaged_packs") or [])
        problems.append(("check-failed", f"last integrity check {chk['time']} FAILED"
                                         + (f" ({n} damaged pack(s))" if n else "")))
    elif js.check_time is not None and now - js.check_time > pol.verify_every + CHECK_GRACE:
        problems.append(("check-overdue", f"last integrity check {fmt_age(now - js.check_time)} "
                                          f"ago; due every {fmt_age(pol.verify_every)}"))
    if problems:
        js.verdict = problems[0][0]
        js.reasons = [p[1] for p in problems]
    return js


def gauge_document(statuses: list[JobStatus], now: datetime) -> dict[str, Any]:
    """The file contract read by the poller (measurement ``backup``; docs/drc.md)."""
    points = []
    for s in statuses:
        ages: dict[str, float] = {}
        if s.newest_time is not None:
            ages["age_s"] = s.newest_time.timestamp()
        if s.check_time is not None:
            ages["check_age_s"] = s.check_time.timestamp()
        fields: dict[str, Any] = {"target_s": int(s.target.total_seconds()),
                                  "snapshots": s.snapshots, "ok": int(s.ok),
                                  "check_ok": int(bool(s.check_ok))}
        for k, v in (("bytes", s.newest_bytes), ("stored_bytes", s.stored_bytes),
                     ("dedup_ratio", round(s.dedup_ratio, 3) if s.dedup_ratio else None)):
            if v is not None:
                fields[k] = v
        points.append({"tags": {"policy": s.policy, "host": s.host, "service": s.service or "",
                                "destination": s.destination, "repository": s.repository},
                       "fields": fields, "ages": ages})
    return {"format": "simpul-gauges/1", "measurement": "backup", "generated": now.timestamp(),
            "expires": (now + timedelta(days=1)).timestamp(), "points": points}
