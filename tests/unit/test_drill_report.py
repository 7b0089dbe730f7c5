"""The drill record and its Berita Acara (drc/drill.py, drc/report.py), without a lab."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from simpul.drc import manifest as mf
from simpul.drc.drill import DrillPlan, DrillRecord, Step, Unit, UnitOutcome, history, save
from simpul.drc.report import human_bytes, human_seconds, local, render_html

START = datetime(2026, 10, 5, 2, 0, tzinfo=UTC)  # 09.00 WIB, a Monday


def record(*, findings: list[mf.Finding] | None = None, rto_s: float = 42.0) -> DrillRecord:
    u = Unit(1, "simpeg-db", "pd-db", "drc-backup", "simpeg", "3b90caad",
             START - timedelta(minutes=4), 150_000_000,
             [{"type": "postgres", "database": "simpeg", "smoke_query": None}], [])
    plan = DrillPlan("simpeg-20261005T020000Z-ab12", "simpeg", "SIMPEG <Kepegawaian>",
                     timedelta(hours=1), timedelta(minutes=15), [u], ["drc-backup"],
                     organisation="Diskominfo Kabupaten Lab")
    o = UnitOutcome(u, verified_at=rto_s, restored_bytes=150_000_000, files_checked=0,
                    tables=[{"database": "postgres simpeg", "table": "public.pegawai", "rows": 20000,
                             "ok": not findings}],
                    smoke=[{"database": "postgres simpeg", "query": "SELECT count(*) FROM pegawai",
                            "ok": True, "rows": [["20000"]]}],
                    manifest={"policy": "simpeg-db", "sources": []}, manifest_sha256="f" * 64)
    o.findings = list(findings or [])
    rec = DrillRecord(plan, START, START + timedelta(seconds=rto_s + 5), outcomes=[o],
                      steps=[Step("restore", u.name, 1.0, 9.0, True, "150000000 bytes"),
                             Step("verify postgres simpeg", u.name, 9.0, rto_s, not findings, "")],
                      checks=[{"destination": "drc-backup", "repository": "simpeg", "ok": True,
                               "damaged_packs": []}],
                      findings=list(findings or []),
                      cleanup=[{"destination": "drc-backup", "removed": True, "bytes": 9}],
                      rto=timedelta(seconds=rto_s))
    return rec


def test_a_passing_drill() -> None:
    rec = record()
    assert rec.passed
    d = rec.to_dict()
    assert d["result"] == "passed" and d["rto_s"] == 42.0 and d["rpo_s"] == 240.0
    assert d["rto_ok"] and d["rpo_ok"] and d["scratch_left"] is False
    html = render_html(d)
    assert "BERITA ACARA UJI PEMULIHAN DATA" in html and "Restore Drill Record" in html
    assert "LULUS" in html and "PASSED" in html and "GAGAL" not in html
    assert "Senin" in html and "5 Oktober 2026" in html and "09.00 WIB" in html
    assert "SIMPEG &lt;Kepegawaian&gt;" in html  # escaped
    assert "Pergub Jambi 12/2022 Pasal 23(2)(e)" in html


def test_a_failing_drill_names_what_failed() -> None:
    f = mf.Finding("table", "public.pegawai", "0 rows restored, 20000 recorded at backup time",
                   "simpeg-db@pd-db", "3b90caad")
    rec = record(findings=[f])
    assert not rec.passed
    d = rec.to_dict()
    assert d["result"] == "failed" and d["findings"][0]["subject"] == "public.pegawai"
    html = render_html(d)
    assert "GAGAL" in html and "FAILED" in html
    assert "public.pegawai" in html and "0 rows restored, 20000 recorded at backup time" in html
    assert "3b90caad" in html


def test_missed_targets_fail_the_drill() -> None:
    rec = record(rto_s=4000.0)
    assert not rec.passed and rec.to_dict()["rto_ok"] is False
    late = record()
    late.plan.units[0].snapshot_time = START - timedelta(hours=2)
    assert not late.passed and late.to_dict()["rpo_ok"] is False


def test_report_is_self_contained() -> None:
    html = render_html(record(findings=[mf.Finding("pack", "a" * 64, "damaged")]).to_dict())
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html, re.I)
    assert "@import" not in html and "url(" not in html and "<script" not in html
    assert "<svg" in html  # the timeline is drawn inline


def test_save_writes_record_report_and_history(tmp_path: Path) -> None:
    paths = save(record(), tmp_path)
    assert paths["json"].exists() and paths["html"].exists()
    save(record(findings=[mf.Finding("file", "/srv/x", "missing")]), tmp_path)
    h = history(tmp_path, "simpeg")
    assert [x["result"] for x in h] == ["passed", "failed"]
    assert history(tmp_path, "portal") == []


def test_formatting_helpers() -> None:
    assert human_bytes(1536) == "1.5 KiB" and human_bytes(None) == "-"
    assert human_seconds(42.04) == "42.0 s" and human_seconds(3720) == "1 j/h 2 mnt/min"
    t = local("2026-10-04T17:30:00+00:00", "WITA")
    assert (t["hari"], t["jam"]) == ("Senin", "01.30")
