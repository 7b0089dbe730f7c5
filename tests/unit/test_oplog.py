"""The operations log detects any edited, removed or reordered record."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from pydantic import SecretStr

from simpul.cli import main
from simpul.oplog import OpLog


@pytest.fixture
def log(tmp_path: Path) -> OpLog:
    lg = OpLog(tmp_path / "oplog.jsonl")
    for i in range(5):
        lg.append(action="test.step", target=f"host-{i}", result="ok", params={"n": i})
    return lg


def lines(lg: OpLog) -> list[str]:
    return lg.path.read_text().splitlines()


def test_intact_log_verifies(log: OpLog) -> None:
    rep = log.verify()
    assert rep.ok and rep.records == 5 and rep.problems == []


def test_edited_record_detected(log: OpLog) -> None:
    ls = lines(log)
    rec = json.loads(ls[2])
    rec["result"] = "failed"
    ls[2] = json.dumps(rec, sort_keys=True, separators=(",", ":"))
    log.path.write_text("\n".join(ls) + "\n")
    rep = log.verify()
    assert not rep.ok and any("seq 3" in p and "edited" in p for p in rep.problems)


def test_edited_and_rehashed_record_breaks_chain(log: OpLog) -> None:
    from simpul.oplog import record_hash

    ls = lines(log)
    rec = json.loads(ls[1])
    rec["target"] = "someone-else"
    rec["hash"] = record_hash(rec)  # a careful forger recomputes the hash...
    ls[1] = json.dumps(rec)
    log.path.write_text("\n".join(ls) + "\n")
    rep = log.verify()
    assert not rep.ok and any("does not chain" in p for p in rep.problems)  # ...the next link breaks


@pytest.mark.parametrize("mutate", ["remove_middle", "remove_last", "remove_first", "swap"])
def test_removed_or_reordered_detected(log: OpLog, mutate: str) -> None:
    ls = lines(log)
    if mutate == "remove_middle":
        del ls[2]
    elif mutate == "remove_last":
        del ls[-1]
    elif mutate == "remove_first":
        del ls[0]
    else:
        ls[1], ls[2] = ls[2], ls[1]
    log.path.write_text("\n".join(ls) + "\n")
    assert not log.verify().ok


def test_appending_after_verify_keeps_chain(log: OpLog) -> None:
    log.append(action="x", target="y", result="ok")
    assert log.verify().ok and log.verify().records == 6


def test_secrets_never_written(tmp_path: Path) -> None:
    lg = OpLog(tmp_path / "o.jsonl")
    lg.append(
        action="net.push",
        target="core-1",
        result="ok",
        params={
            "password": "hunter2",
            "secret": SecretStr("s3cr3t"),
            "community": "public",
            "lines": 3,
            "nested": {"token": "abc"},
        },
    )
    text = lg.path.read_text()
    for s in ("hunter2", "s3cr3t", "public", "abc"):
        assert s not in text
    assert '"lines":3' in text


def test_cli_verify_exit_codes(
    log: OpLog, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SIMPUL_STATE_DIR", str(log.path.parent))
    assert main(["oplog", "verify"]) == 0
    assert "5 record(s), chain intact" in capsys.readouterr().out
    assert main(["--json", "oplog", "show", "-n", "2"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out)[-1]["target"] == "host-4"
    ls = lines(log)
    del ls[1]
    log.path.write_text("\n".join(ls) + "\n")
    assert main(["oplog", "verify"]) == 1


def test_appending_after_records_larger_than_the_tail_block_keeps_the_chain(tmp_path: Path) -> None:
    from simpul import oplog as mod

    log = OpLog(tmp_path / "oplog.jsonl")
    log.append(action="a", target="t", result="ok")
    big = "x" * (mod._TAIL_BLOCK + 5000)  # one record longer than the block read from the end
    log.append(action="b", target="t", result="ok", params={"note": big})
    log.append(action="c", target="t", result="ok")
    for i in range(300):  # many small ones: the block holds only the end of the file
        log.append(action="d", target=str(i), result="ok")
    recs = list(log.records())
    assert [r["seq"] for r in recs] == list(range(1, 304))
    assert all(r["prev"] == p["hash"] for p, r in itertools.pairwise(recs))
    report = log.verify()
    assert report.ok and report.records == 303, report.problems
