"""Freshness verdicts (drc/status.py), the gauge file and how the poller reads it
(monitoring/gauges.py), and the comparisons a restore drill makes (drc/manifest.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from simpul.drc import manifest as mf
from simpul.drc.status import fmt_age, gauge_document, judge
from simpul.inventory import load_inventory
from simpul.inventory.models import Inventory
from simpul.monitoring.gauges import document_lines, gauge_lines

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 10, 5, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return load_inventory(REPO / "inventory" / "lab")


def snap(policy: str, host: str, minutes_ago: float, sid: str = "aaaa1111", nbytes: int = 1000) -> dict[str, Any]:
    t = NOW - timedelta(minutes=minutes_ago)
    return {"id": sid + "0" * 56, "short_id": sid, "hostname": host,
            "time": t.isoformat().replace("+00:00", "Z"),
            "tags": ["simpul", f"policy={policy}", f"bytes={nbytes}", "manifest=abc"]}


def doc(snaps: list[dict[str, Any]], check: dict[str, Any] | None) -> dict[str, Any]:
    return {"repository": "simpeg", "snapshots": snaps, "stored_bytes": 500, "check": check}


CHECK_OK = {"time": (NOW - timedelta(hours=3)).isoformat(), "ok": True, "mode": "read-data",
            "damaged_packs": []}


def test_fresh_and_checked_is_ok(inv: Inventory) -> None:
    d = doc([snap("simpeg-db", "pd-db", 20, "old00000"), snap("simpeg-db", "pd-db", 5, "new00000", 3000),
             snap("simpeg-app", "pd-app", 1)], CHECK_OK)
    s = judge(inv, "simpeg-db", "pd-db", d, NOW)
    assert s.ok and s.verdict == "ok" and s.reasons == []
    assert s.newest_id == "new00000" and s.snapshots == 2 and s.newest_bytes == 3000
    assert s.target == timedelta(minutes=15) and s.target_from == "service simpeg rpo"
    assert s.dedup_ratio == pytest.approx((1000 + 3000 + 1000) / 500)
    assert s.to_dict()["age_s"] == 300


def test_older_than_the_rpo_is_stale_and_names_the_policy(inv: Inventory) -> None:
    s = judge(inv, "simpeg-db", "pd-db", doc([snap("simpeg-db", "pd-db", 16)], CHECK_OK), NOW)
    assert s.verdict == "stale"
    assert "older than the target 15m (service simpeg rpo)" in s.reasons[0]


def test_other_hosts_and_policies_do_not_count(inv: Inventory) -> None:
    d = doc([snap("simpeg-db", "drc-db", 1), snap("simpeg-app", "pd-db", 1)], CHECK_OK)
    s = judge(inv, "simpeg-db", "pd-db", d, NOW)
    assert s.verdict == "missing" and s.snapshots == 0


@pytest.mark.parametrize(("check", "verdict"), [
    (None, "never-checked"),
    ({"time": NOW.isoformat(), "ok": False, "damaged_packs": [{"pack": "ab"}]}, "check-failed"),
    ({"time": (NOW - timedelta(days=1, hours=2)).isoformat(), "ok": True}, "check-overdue"),
])
def test_integrity_check_verdicts(inv: Inventory, check: dict[str, Any] | None, verdict: str) -> None:
    s = judge(inv, "simpeg-db", "pd-db", doc([snap("simpeg-db", "pd-db", 1)], check), NOW)
    assert s.verdict == verdict and not s.ok


def test_unreachable_drc(inv: Inventory) -> None:
    s = judge(inv, "simpeg-db", "pd-db", None, NOW, error="drc-backup: cannot connect")
    assert s.verdict == "unreachable" and "cannot connect" in s.reasons[0]


def test_fmt_age() -> None:
    assert fmt_age(timedelta(seconds=9)) == "9s"
    assert fmt_age(timedelta(minutes=4, seconds=10)) == "4m10s"
    assert fmt_age(timedelta(hours=2, minutes=15, seconds=3)) == "2h15m"
    assert fmt_age(timedelta(days=1, hours=3)) == "1d3h"
    assert fmt_age(None) == "-"


def test_gauge_file_becomes_ages_at_poll_time(inv: Inventory, tmp_path: Path) -> None:
    s = judge(inv, "simpeg-db", "pd-db", doc([snap("simpeg-db", "pd-db", 10)], CHECK_OK), NOW)
    g = gauge_document([s], NOW)
    (tmp_path / "backup.json").write_text(json.dumps(g))
    (tmp_path / "broken.json").write_text("{not json")
    later = NOW.timestamp() + 600  # ten minutes after status ran: the age kept growing
    (ln,) = gauge_lines(tmp_path, later)
    meas, fields, ts = ln.split(" ")
    assert meas.startswith("backup,") and "policy=simpeg-db" in meas and "host=pd-db" in meas
    vals = dict(kv.split("=") for kv in fields.split(","))
    assert float(vals["age_s"]) == pytest.approx(1200, abs=1)
    assert vals["target_s"] == "900i" and vals["ok"] == "1i" and int(ts) == int(later)


def test_expired_gauge_file_says_stale() -> None:
    g = {"format": "simpul-gauges/1", "measurement": "backup", "expires": 100.0,
         "points": [{"tags": {"policy": "p"}, "fields": {"ok": 1}, "ages": {"age_s": 50}}]}
    assert document_lines(g, 200.0) == ["backup,policy=p stale=1i 200"]
    with pytest.raises(ValueError):
        document_lines({"format": "other"}, 1.0)


# --- drill comparisons ------------------------------------------------------------------------


WANT = [{"name": "public.pegawai", "rows": 20000, "checksum": "111"},
        {"name": "public.presensi", "rows": 1000000, "checksum": "222"},
        {"name": "public.unit_kerja", "rows": 40, "checksum": "333"}]


def test_tables_match() -> None:
    assert mf.compare_tables(WANT, [dict(t) for t in WANT]) == []


def test_tables_emptied_changed_missing_and_extra_are_named() -> None:
    got = [{"name": "public.pegawai", "rows": 0, "checksum": "0"},
           {"name": "public.presensi", "rows": 1000000, "checksum": "999"},
           {"name": "public.baru", "rows": 1, "checksum": "1"}]
    fs = mf.compare_tables(WANT, got, unit="simpeg-db@pd-db", snapshot="3b90caad", database="simpeg")
    by = {f.subject: f for f in fs}
    assert by["public.pegawai"].detail == "0 rows restored, 20000 recorded at backup time"
    assert "checksum 999 differs" in by["public.presensi"].detail
    assert "missing" in by["public.unit_kerja"].detail
    assert "not in the backup-time record" in by["public.baru"].detail
    assert by["public.pegawai"].line() == ("table public.pegawai in snapshot 3b90caad: 0 rows restored, "
                                           "20000 recorded at backup time [simpeg-db@pd-db]")


def test_file_and_dump_findings() -> None:
    res = {"type": "paths", "missing": ["/srv/a"], "changed": [
        {"path": "/srv/b", "want_sha256": "a" * 64, "got_sha256": "b" * 64},
        {"path": "/srv/c", "want_bytes": 5, "got_bytes": 4}]}
    fs = mf.file_findings(res, unit="u", snapshot="s")
    assert [(f.kind, f.subject) for f in fs] == [("file", "/srv/a"), ("file", "/srv/b"), ("file", "/srv/c")]
    dump = {"type": "postgres", "database": "simpeg", "file": "/var/backups/x.dump",
            "want_sha256": "a", "want_bytes": 10, "got": {"sha256": "b", "bytes": 10}}
    (f,) = mf.file_findings(dump, unit="u", snapshot="s")
    assert f.kind == "dump" and f.subject == "/var/backups/x.dump"


def test_restore_findings_ignore_ownership() -> None:
    res = {"rc": 1, "errors": [{"path": "/srv/a.pdf", "error": "ciphertext verification failed"},
                               {"path": "/srv", "error": "lchown /x: operation not permitted"}]}
    (f,) = mf.restore_findings(res, unit="u", snapshot="s")
    assert f.subject == "/srv/a.pdf" and "ciphertext" in f.detail


def test_check_findings_name_pack_and_files() -> None:
    chk = {"ok": False, "damaged_packs": [{"pack": "733a" + "0" * 60, "error": "damaged",
                                           "files": [{"snapshot": "3b90caad", "path": "/srv/u/a.pdf"}]}]}
    (f,) = mf.check_findings(chk, "simpeg")
    assert f.kind == "pack" and f.subject.startswith("733a") and "/srv/u/a.pdf" in f.detail
    assert f.snapshot == "3b90caad"
