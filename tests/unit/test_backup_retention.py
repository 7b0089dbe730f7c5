"""Retention decisions (drc/retention.py) by hand, and against restic itself.

The hand cases pin the rules; ``test_oracle_matches_restic`` (marked slow: it makes ~40
snapshots) builds a local restic repository with fake-clock snapshots (``--time``) on two hosts
and compares ``restic forget --dry-run --json`` with the oracle for several policies.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from simpul.drc.retention import RetentionRule, Snap, decide, decide_group, parse_time
from simpul.inventory.models import Retention

T0 = datetime(2026, 3, 31, 23, 30, tzinfo=UTC)


def snaps(*hours_ago: float, host: str = "pd-db") -> list[Snap]:
    return [Snap(f"{host}-{i}", T0 - timedelta(hours=h), host) for i, h in enumerate(hours_ago)]


def ids(xs: list[Snap]) -> list[str]:
    return sorted(s.id for s in xs)


def test_parse_time_handles_nanoseconds_and_zones() -> None:
    assert parse_time("2026-12-07T09:12:19.906883132Z") == datetime(2026, 12, 7, 9, 12, 19, 906883, tzinfo=UTC)
    t = parse_time("2026-12-07T16:12:19.5+07:00")
    assert t.utcoffset() == timedelta(hours=7) and t.hour == 16


def test_daily_keeps_the_newest_of_each_day_with_snapshots() -> None:
    # three a day for five days; keep 3 daily → the newest of the 3 most recent days
    s = snaps(*(d * 24 + h for d in range(5) for h in (0, 2, 4)))
    d = decide_group(s, RetentionRule(daily=3))
    assert ids(d.kept) == ["pd-db-0", "pd-db-3", "pd-db-6"]
    assert all(d.reasons[x] == ["daily"] for x in ids(d.kept))
    assert len(d.removed) == 12


def test_days_without_snapshots_do_not_count() -> None:
    s = snaps(0, 24 * 10, 24 * 20)  # three days far apart
    assert len(decide_group(s, RetentionRule(daily=3)).kept) == 3


def test_last_and_weekly_and_reasons_combine() -> None:
    s = snaps(0, 1, 2, 24 * 7, 24 * 14)
    d = decide_group(s, RetentionRule(last=2, weekly=2))
    assert ids(d.kept) == ["pd-db-0", "pd-db-1", "pd-db-3"]
    assert d.reasons["pd-db-0"] == ["last", "weekly"]


def test_within_is_relative_to_the_newest_snapshot() -> None:
    s = snaps(100, 110, 130)  # the newest is 100 h ago; within 24h keeps 100 and 110
    assert ids(decide_group(s, RetentionRule(within=timedelta(hours=24))).kept) == ["pd-db-0", "pd-db-1"]


def test_groups_by_host() -> None:
    s = snaps(0, 1, host="pd-db") + snaps(5, 6, host="pd-app")
    d = decide(s, RetentionRule(last=1))
    assert ids(d.kept) == ["pd-app-0", "pd-db-0"]


def test_rule_from_policy_rounds_within_to_hours() -> None:
    r = RetentionRule.from_policy(Retention(daily=1, within=timedelta(minutes=150)))
    assert r.within == timedelta(hours=2) and r.daily == 1


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("restic") is None, reason="restic not installed")
def test_oracle_matches_restic(tmp_path: Path) -> None:
    env = {**os.environ, "RESTIC_PASSWORD": "uji-retensi", "RESTIC_REPOSITORY": str(tmp_path / "repo"),
           "RESTIC_CACHE_DIR": str(tmp_path / "cache")}

    def restic(*args: str) -> str:
        return subprocess.run(["restic", *args], env=env, check=True, capture_output=True,
                              text=True).stdout

    restic("init")
    data = tmp_path / "data"
    data.mkdir()
    (data / "f").write_text("x")
    rnd = random.Random(13)
    t = datetime(2025, 1, 1, 3, 0, tzinfo=UTC)
    for i in range(40):
        t += timedelta(hours=rnd.choice([1, 3, 9, 20, 30, 50, 200]))
        host = "pd-db" if i % 3 else "pd-app"
        restic("backup", "-q", "--host", host, "--tag", "policy=p", "--time",
               t.strftime("%Y-%m-%d %H:%M:%S"), str(data))
    listed = json.loads(restic("snapshots", "--json"))
    all_snaps = [Snap.from_restic(j) for j in listed]
    for rule in (RetentionRule(daily=3), RetentionRule(last=2, weekly=3),
                 RetentionRule(hourly=5, daily=4, monthly=2),
                 RetentionRule(within=timedelta(hours=100), yearly=1),
                 RetentionRule(last=1, hourly=2, daily=2, weekly=2, monthly=2, yearly=2)):
        args = ["forget", "--dry-run", "--json", "--group-by", "host", "--tag", "policy=p"]
        for k in ("last", "hourly", "daily", "weekly", "monthly", "yearly"):
            if getattr(rule, k):
                args += [f"--keep-{k}", str(getattr(rule, k))]
        if rule.within:
            args += ["--keep-within", f"{int(rule.within.total_seconds() // 3600)}h"]
        groups = json.loads(restic(*args))
        kept_by_restic = sorted(s["id"] for g in groups for s in g["keep"] or [])
        assert ids(decide(all_snaps, rule).kept) == kept_by_restic, rule
