"""The operations log detects any edited, removed or reordered record."""

from __future__ import annotations

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


@pytest.mark.parametrize(("mutate", "expected"), [
    ("remove_middle", ["line 3: record seq 4 where 3 was expected",
                       "log ends at record 4 but was last written at record 5"]),
    ("remove_last", ["log ends at record 4 but was last written at record 5 (1 record(s) removed"]),
    ("remove_first", ["line 1: record seq 2 where 1 was expected",
                      "line 1 (seq 2): does not chain to the previous record"]),
    ("swap", ["line 2: record seq 3 where 2 was expected",
              "line 2 (seq 3): does not chain to the previous record"]),
])
def test_removed_or_reordered_detected(log: OpLog, mutate: str, expected: list[str]) -> None:
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
    rep = log.verify()
    assert not rep.ok
    for e in expected:  # the reason, and the record it concerns
        assert any(p.startswith(e) for p in rep.problems), (e, rep.problems)


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
    # Parse the record and look at the fields: the line also holds hex hashes, in which a short
    # string such as "abc" turns up by chance (~3 % of runs).
    [rec] = [json.loads(x) for x in lines(lg)]
    assert rec["params"] == {"password": "***", "secret": "***", "community": "***", "lines": 3,
                             "nested": {"token": "***"}}


@pytest.mark.parametrize(("params", "stored"), [
    ({"passwords": ["hunter2"]}, {"passwords": "***"}),
    ({"community": ["public"]}, {"community": "***"}),
    ({"snmp": {"auth_key": 12345}}, {"snmp": {"auth_key": "***"}}),
    ({"snmp": {"priv_key": 12.5, "user": "noc"}}, {"snmp": {"priv_key": "***", "user": "noc"}}),
    ({"password": b"hunter2"}, {"password": "***"}),
    ({"token": {"value": "abc", "kind": "bearer"}}, {"token": "***"}),
    ({"secret": ("a", "b")}, {"secret": "***"}),
    ({"api_key": True}, {"api_key": "***"}),
    ({"users": [{"name": "budi", "password": "x"}]}, {"users": [{"name": "budi", "password": "***"}]}),
    ({"deep": [[{"psk": "wpa-key"}]]}, {"deep": [[{"psk": "***"}]]}),
    ({"headers": {"Authorization": "Basic aGk6dGhlcmU=", "Cookie": "sid=1"}},
     {"headers": {"Authorization": "***", "Cookie": "***"}}),
    ({"password": None, "secret": ""}, {"password": None, "secret": ""}),  # nothing to hide
    ({"blob": b"plain"}, {"blob": "plain"}),
])
def test_redaction_by_key_covers_every_type(tmp_path: Path, params: dict[str, object],
                                            stored: dict[str, object]) -> None:
    lg = OpLog(tmp_path / "o.jsonl")
    lg.append(action="t", target="x", result="ok", params=params)
    [rec] = [json.loads(x) for x in lines(lg)]
    assert rec["params"] == stored
    assert lg.verify().ok


def test_models_and_dataclasses_are_redacted_by_field_name(tmp_path: Path) -> None:
    from dataclasses import dataclass

    from pydantic import BaseModel

    @dataclass
    class Login:
        user: str
        password: str

    class Snmp(BaseModel):
        community: str
        port: int

    lg = OpLog(tmp_path / "o.jsonl")
    lg.append(action="t", target="x", result="ok",
              params={"login": Login("noc", "hunter2"), "snmp": Snmp(community="public", port=161)})
    [rec] = [json.loads(x) for x in lines(lg)]
    assert rec["params"] == {"login": {"user": "noc", "password": "***"},
                             "snmp": {"community": "***", "port": 161}}


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
    captured = capsys.readouterr()
    assert f"{log.path}: line 2: record seq 3 where 2 was expected" in captured.out
    assert "verification FAILED" in captured.err


# --- malformed input, deletion, anchors (issue 9 #11) ---------------------------------------


@pytest.mark.parametrize("bad", ["[1, 2]", '"a string"', "42", "null", "[[[[[[[[[[]]]]]]]]]]", "{not json"])
def test_a_line_that_is_not_a_record_is_a_clear_failure_naming_the_line(
    log: OpLog, bad: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ls = lines(log)
    ls[2] = bad
    log.path.write_text("\n".join(ls) + "\n")
    rep = log.verify()
    assert not rep.ok
    assert any(p.startswith("line 3: not ") for p in rep.problems), rep.problems
    monkeypatch.setenv("SIMPUL_STATE_DIR", str(log.path.parent))
    monkeypatch.setenv("SIMPUL_CONFIG", "/dev/null")
    assert main(["oplog", "verify"]) == 1
    captured = capsys.readouterr()
    assert "internal error" not in captured.err and "line 3: not " in captured.out
    assert main(["oplog", "show"]) == 1  # reading it says which line, no traceback
    err = capsys.readouterr().err
    assert "internal error" not in err and "oplog.jsonl:3: not " in err


@pytest.mark.parametrize("head", ["[]", '"x"', "{}", '{"records": "5", "hash": "ab"}',
                                  '{"records": 5}', '{"records": -1, "hash": "ab"}', "{trunc", ""])
def test_a_malformed_head_file_is_a_clear_failure_naming_it(log: OpLog, head: str) -> None:
    log.head_path.write_text(head)
    rep = log.verify()
    assert not rep.ok
    assert any(p.startswith(f"{log.head_path}: ") for p in rep.problems), rep.problems


def test_a_head_that_is_a_directory_is_a_clear_failure(log: OpLog) -> None:
    log.head_path.unlink()
    log.head_path.mkdir()
    rep = log.verify()
    assert not rep.ok and any(p.startswith(f"{log.head_path}: cannot read") for p in rep.problems)


def test_deleting_log_and_head_is_detected_by_the_witness(log: OpLog) -> None:
    assert log.witness_path.exists() and log.path.parent not in log.witness_path.parents
    log.path.unlink()
    log.head_path.unlink()
    rep = log.verify()
    assert not rep.ok and rep.records == 0
    assert any("log is missing but the witness" in p and "5 record(s) were written" in p
               for p in rep.problems), rep.problems


def test_deleting_and_restarting_the_log_is_detected_and_the_witness_keeps_the_evidence(
    log: OpLog,
) -> None:
    log.path.unlink()
    log.head_path.unlink()
    log.append(action="x", target="y", result="ok")  # a fresh chain of 1 record
    rep = log.verify()
    assert not rep.ok
    assert any("says 5 record(s) were written; the log has 1" in p for p in rep.problems), rep.problems


def test_a_state_dir_wiped_completely_is_reported_as_empty_with_a_warning(tmp_path: Path) -> None:
    lg = OpLog(tmp_path / "state" / "oplog.jsonl", witness=tmp_path / "state" / "w")
    rep = lg.verify()
    assert rep.ok and rep.records == 0
    assert any("If changes were recorded on this machine before" in n for n in rep.notes)


def test_an_unwritable_witness_place_is_said_loudly_and_the_record_is_still_written(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    lg = OpLog(tmp_path / "o.jsonl", witness=blocker / "w")  # a path under a regular file
    lg.append(action="x", target="y", result="ok")
    assert lg.verify().records == 1
    assert any("deleting both the log and its head would go unnoticed" in r.getMessage()
               for r in caplog.records)


def test_anchor_catches_a_log_rewritten_consistently_from_the_start(log: OpLog) -> None:
    anchor = log.verify().head
    assert anchor == json.loads(lines(log)[-1])["hash"]
    assert log.verify(anchor).ok and log.verify(anchor[:16]).ok
    # A forger with write access rewrites every record, the head and the witness consistently:
    forged = OpLog(log.path.parent / "forged.jsonl", witness=log.path.parent / "forged.witness")
    for i in range(5):
        forged.append(action="test.step", target=f"host-{i}", result="ok", params={"n": i},
                      who="someone@else")
    log.path.write_bytes(forged.path.read_bytes())
    log.head_path.write_bytes(forged.head_path.read_bytes())
    log.witness_path.write_bytes(forged.witness_path.read_bytes())
    assert log.verify().ok  # the chain alone cannot tell...
    rep = log.verify(anchor)  # ...the anchor kept off the machine can
    assert not rep.ok and any(p.startswith(f"anchor {anchor[:16]}...: no record") for p in rep.problems)


def test_cli_prints_the_head_and_checks_an_anchor(
    log: OpLog, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SIMPUL_STATE_DIR", str(log.path.parent))
    monkeypatch.setenv("SIMPUL_CONFIG", "/dev/null")
    assert main(["oplog", "verify"]) == 0
    out = capsys.readouterr().out
    head = json.loads(lines(log)[-1])["hash"]
    assert f"head {head} (record 5)" in out and f"simpul oplog verify --head {head[:16]}" in out
    assert main(["oplog", "verify", "--head", head[:16]]) == 0
    capsys.readouterr()
    assert main(["oplog", "verify", "--head", "0" * 64]) == 1
    assert "no record in the log has this hash" in capsys.readouterr().out
    assert main(["oplog", "verify", "--head", "not-hex"]) == 1
    assert "not a record hash" in capsys.readouterr().out


def test_a_state_dir_that_is_a_file_verifies_as_empty_not_as_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "not-a-dir"
    f.write_text("")
    monkeypatch.setenv("SIMPUL_STATE_DIR", str(f))
    monkeypatch.setenv("SIMPUL_CONFIG", "/dev/null")
    assert main(["oplog", "verify"]) == 0
    out = capsys.readouterr()
    assert out.out.strip() == f"{f / 'oplog.jsonl'}: no records" and "internal error" not in out.err
