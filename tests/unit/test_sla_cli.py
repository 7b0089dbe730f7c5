"""``simpul sla report`` as a user meets it: honest verdicts, clear errors, reads that stay reads.

Issue 9 items 12, 13 (the ``sla report`` parts) and 19 (the ``--help`` text): each test here
failed on the main of the time and names what it guards.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from simpul.cli import main
from simpul.monitoring.ledger import DOWN, UP, Ledger

REPO = Path(__file__).resolve().parents[2]
LAB = str(REPO / "inventory" / "lab")
WIB = ZoneInfo("Asia/Jakarta")


def ts(*a: int) -> float:
    return datetime(*a, tzinfo=WIB).timestamp()


def sla(*args: str) -> list[str]:
    return ["-i", LAB, "sla", "report", *args]


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    sd = tmp_path / "state"
    monkeypatch.setenv("SIMPUL_STATE_DIR", str(sd))
    return sd


def _ledger_37_hours(sd: Path) -> None:
    """desa-kemloko observed for 37 hours of October 2026 (the poller ran two days), all up."""
    led = Ledger(sd / "ledger.sqlite")
    t0 = ts(2026, 10, 5, 8)
    led.add_interval("desa-kemloko", UP, t0, t0 + 37 * 3600)
    led.close()


# --- item 12: SLA honesty ----------------------------------------------------------------------


def test_37_hours_of_data_is_insufficient_not_target_met(state: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    _ledger_37_hours(state)
    assert main(["--json", *sla("--month", "2026-10", "--by", "device")]) == 0
    rows = {r["entity"]: r for r in json.loads(capsys.readouterr().out)["rows"]}
    row = rows["desa-kemloko"]
    assert row["availability_pct"] == 100.0  # what was measured was up ...
    assert row["coverage_pct"] == pytest.approx(100 * 37 / (31 * 24), abs=0.01)
    assert row["verdict"] == "insufficient" and row["met"] is None  # ... but that is no verdict
    assert rows["core-1"]["verdict"] == "nodata"


def test_coverage_threshold_is_an_option_with_a_documented_default(
        state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _ledger_37_hours(state)
    assert main(["sla", "report", "--help"]) == 0
    helptext = capsys.readouterr().out
    assert "--min-coverage" in helptext and "default: 90" in helptext
    assert main(["--json", *sla("--month", "2026-10", "--by", "device", "--min-coverage", "0")]) == 0
    rows = {r["entity"]: r for r in json.loads(capsys.readouterr().out)["rows"]}
    assert rows["desa-kemloko"]["verdict"] == "met"


def test_a_miss_that_no_missing_data_could_undo_is_still_a_miss(
        state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 10 hours of data, 5 of them down: even if every unmeasured hour was up, 99.5 % is missed
    led = Ledger(state / "ledger.sqlite")
    t0 = ts(2026, 10, 5, 8)
    led.add_interval("desa-kemloko", UP, t0, t0 + 5 * 3600)
    led.add_interval("desa-kemloko", DOWN, t0 + 5 * 3600, t0 + 10 * 3600)
    led.close()
    assert main(["--json", *sla("--month", "2026-10", "--by", "device")]) == 0
    row = next(r for r in json.loads(capsys.readouterr().out)["rows"] if r["entity"] == "desa-kemloko")
    assert row["verdict"] == "missed" and row["met"] is False


def test_html_shows_coverage_and_the_verdict(state: Path, tmp_path: Path) -> None:
    _ledger_37_hours(state)
    out = tmp_path / "sla.html"
    assert main([*sla("--month", "2026-10", "--by", "device", "--lang", "en", "--format", "html",
                      "-o", str(out))]) == 0
    page = out.read_text()
    assert "Coverage" in page and "insufficient data" in page
    assert main([*sla("--month", "2026-10", "--by", "device", "--lang", "id", "--format", "html",
                      "-o", str(out))]) == 0
    page = out.read_text()
    assert "Cakupan data" in page and "data tidak cukup" in page


@pytest.mark.parametrize(("name", "first"), [("r.html", "<!doctype html>"), ("r.csv", "Entitas,"),
                                             ("r.json", "{")])
def test_output_file_format_follows_its_extension(state: Path, tmp_path: Path, name: str,
                                                  first: str) -> None:
    out = tmp_path / name
    assert main(sla("--month", "2026-10", "-o", str(out))) == 0
    assert out.read_text().startswith(first)


def test_output_file_with_an_unknown_extension_is_refused(state: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.txt"
    assert main(sla("--month", "2026-10", "-o", str(out))) == 2
    err = capsys.readouterr().err
    assert "-o" in err and "--format" in err and not out.exists()


# --- item 13: clear errors, not "internal error" -------------------------------------------------


@pytest.mark.parametrize(("args", "blamed"), [
    (["--month", "2026-10", "--tz", "Foo/Bar"], "--tz"),
    (["--month", "9999-12"], "--month"),
    (["--month", "0000-01"], "--month"),
    (["--month", "2026-13"], "--month"),
    (["--month", "2026-10", "--target", "150"], "--target"),
    (["--month", "2026-10", "--target", "-1"], "--target"),
    (["--month", "2026-10", "--min-coverage", "101"], "--min-coverage"),
    (["--year", "99999"], "--year"),
    (["--month", "2026-10", "--year", "2026"], "--year"),
    ([], "--month"),
])
def test_bad_options_exit_2_and_blame_the_option(state: Path, capsys: pytest.CaptureFixture[str],
                                                 args: list[str], blamed: str) -> None:
    assert main(sla(*args)) == 2
    err = capsys.readouterr().err
    assert blamed in err and "internal error" not in err, err


def test_unwritable_output_is_a_clear_error_and_writes_nothing(state: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    for bad in (blocker / "r.html", tmp_path / "no-such-dir" / "r.html", tmp_path):
        assert main(sla("--month", "2026-10", "--format", "html", "-o", str(bad))) == 2
        err = capsys.readouterr().err
        assert str(bad) in err and "internal error" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_report_does_not_create_the_state_dir(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert not state.exists()
    assert main(["--json", *sla("--month", "2026-10")]) == 0
    assert json.loads(capsys.readouterr().out)["rows"]
    assert not state.exists(), "a read created the state directory"


def test_report_leaves_an_existing_ledger_unchanged(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _ledger_37_hours(state)
    before = {p.name: p.read_bytes() for p in state.iterdir()}
    assert main(["--json", *sla("--month", "2026-10")]) == 0
    assert {p.name: p.read_bytes() for p in state.iterdir()} == before


# --- item 19: the help text ----------------------------------------------------------------------


def test_help_says_target_percent_once(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sla", "report", "--help"]) == 0
    out = capsys.readouterr().out
    assert "%%" not in out and "Target %" in out


# --- CSV outage list -------------------------------------------------------------------------------


def test_outage_list_csv_has_one_row_per_outage(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    led = Ledger(state / "ledger.sqlite")
    s = ts(2026, 10, 1)
    led.add_interval("desa-kemloko", UP, s, ts(2026, 10, 7, 9, 58))
    led.add_interval("desa-kemloko", DOWN, ts(2026, 10, 7, 9, 58), ts(2026, 10, 7, 10, 1))
    led.add_interval("desa-kemloko", UP, ts(2026, 10, 7, 10, 1), ts(2026, 11, 1))
    led.close()
    assert main(sla("--month", "2026-10", "--by", "desa", "--outages", "--format", "csv",
                    "--lang", "en")) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 1
    r = rows[0]
    assert r["Entity"] == "desa-kemloko"
    assert (r["Start"], r["End"], r["Duration (min)"]) == ("2026-10-07 09:58:00", "2026-10-07 10:01:00", "3.0")
