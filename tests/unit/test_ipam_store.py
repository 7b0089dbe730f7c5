"""ipam.yaml: the fast one-line reader agrees with YAML, and the store survives a crash at each
step of a write (deterministic crash points; tests/ipam kills real processes at random)."""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simpul.cli import main
from simpul.context import AppContext
from simpul.inventory import ipamfile, load_inventory
from simpul.network import ipam_store
from simpul.oplog import OpLog

KEYS = st.sampled_from(["prefix", "address", "purpose", "for", "site", "by", "at", "why", "kind",
                        "weird_key"])
VALUES = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["10.199.32.64/28", "2026-05-01T00:00:00Z", "2026-05-01", "yes", "no", "on", "null",
                     "~", "123", "1.5", ".inf", "0x1F", "a: b", "a #b", "-x", "[x]", "{x}", "x, y",
                     "'q'", '"q"', "Desa Baru (Kec. X)", "ani@noc-1", "é", "\u2028", "\x85", " lead",
                     "trail ", "\\", "a\\nb", "0?", "a?b", "?x", "\ud7ff", "\U0001f600", "\u200b", "\U000e0001"]),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=st.lists(st.dictionaries(KEYS, VALUES, min_size=1, max_size=6), max_size=5))
def test_the_fast_reader_and_yaml_read_the_same_data(tmp_path_factory: Any,
                                                     entries: list[dict[str, str]]) -> None:
    text = ipamfile.render(ipamfile.DEFAULT_HEADER,
                           {"allocations": [ipamfile.format_entry(e) for e in entries]})
    d = tmp_path_factory.mktemp("f") / "ipam.yaml"
    d.write_text(text, encoding="utf-8")
    doc = ipamfile.read(d, "ipam.yaml")
    assert not doc.problems, doc.problems
    assert [e.data for e in doc.sections["allocations"]] == entries
    assert (yaml.safe_load(text)["allocations"] or []) == entries  # what PyYAML reads
    # what Simpul writes stays on the fast path (a fallback would only be slower, not wrong)
    printable = all(v.isprintable() for e in entries for v in e.values())
    assert doc.fast or not printable


def test_a_hand_edited_block_style_file_is_read_through_yaml_with_lines(tmp_path: Path) -> None:
    f = tmp_path / "ipam.yaml"
    f.write_text("allocations:\n  # hand written\n  - prefix: 10.0.0.0/30\n    for: x\n"
                 "  - {prefix: 10.0.0.4/30, for: y}\nreservations: []\n")
    doc = ipamfile.read(f, "ipam.yaml")
    assert not doc.fast
    assert [e.data for e in doc.sections["allocations"]] == [{"prefix": "10.0.0.0/30", "for": "x"},
                                                             {"prefix": "10.0.0.4/30", "for": "y"}]
    assert [e.line for e in doc.sections["allocations"]] == [3, 5]


# --- crash points -----------------------------------------------------------------------------


def _alloc(inv: Path, name: str) -> int:
    with contextlib.redirect_stdout(io.StringIO()):
        return main(["-i", str(inv), "ipam", "allocate", "--purpose", "link", "--for", name, "--why",
                     "crash test", "--apply"])


def _records(action: str = "ipam.allocate") -> list[dict[str, Any]]:
    log = OpLog(Path(os.environ["SIMPUL_STATE_DIR"]) / "oplog.jsonl")
    return [r for r in log.records() if r["action"] == action]


def test_a_crash_before_the_rename_leaves_the_old_file_and_nothing_logged(
        lab_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _alloc(lab_copy, "first") == 0
    before = (lab_copy / "ipam.yaml").read_bytes()

    def crash(src: Any, dst: Any) -> None:
        raise KeyboardInterrupt  # the process dies here: the temp file is written, not renamed

    with monkeypatch.context() as m:
        m.setattr(ipam_store.os, "replace", crash)
        assert _alloc(lab_copy, "second") == 130
    assert (lab_copy / "ipam.yaml").read_bytes() == before
    assert list(lab_copy.glob(".ipam.yaml.*.tmp")) and (lab_copy / ".ipam.pending").exists()
    assert [r["params"]["for"] for r in _records()] == ["first"]
    # the next run removes the temp file, drops the pending record (its change never happened)
    assert _alloc(lab_copy, "third") == 0
    assert not list(lab_copy.glob(".ipam.yaml.*.tmp")) and not (lab_copy / ".ipam.pending").exists()
    assert [r["params"]["for"] for r in _records()] == ["first", "third"]
    assert [a.for_ for a in load_inventory(lab_copy).allocations] == ["first", "third"]


def test_a_crash_between_the_file_and_its_log_record_is_logged_by_the_next_run(
        lab_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = AppContext.record

    def crash(self: AppContext, action: str, *a: Any, **k: Any) -> None:
        if action == "ipam.allocate":
            raise KeyboardInterrupt
        real(self, action, *a, **k)

    with monkeypatch.context() as m:
        m.setattr(AppContext, "record", crash)
        assert _alloc(lab_copy, "lost") == 130
    assert [a.for_ for a in load_inventory(lab_copy).allocations] == ["lost"]
    assert _records() == [] and (lab_copy / ".ipam.pending").exists()
    assert _alloc(lab_copy, "next") == 0
    recs = _records()
    assert [r["params"]["for"] for r in recs] == ["lost", "next"]
    assert "interrupted" in recs[0]["params"]["recovered"] and "recovered" not in recs[1]["params"]
    assert not (lab_copy / ".ipam.pending").exists()
    # and once only: a later run does not log it again
    assert _alloc(lab_copy, "later") == 0
    assert [r["params"]["for"] for r in _records()] == ["lost", "next", "later"]


def test_a_crash_after_the_log_record_is_not_logged_twice(
        lab_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(self: Any) -> None:
        raise KeyboardInterrupt  # logged, but killed before the pending record was removed

    with monkeypatch.context() as m:
        m.setattr(ipam_store.Transaction, "logged", crash)
        assert _alloc(lab_copy, "once") == 130
    assert (lab_copy / ".ipam.pending").exists()
    assert _alloc(lab_copy, "two") == 0
    assert [r["params"]["for"] for r in _records()] == ["once", "two"]


def test_a_held_lock_makes_the_next_writer_wait_then_give_up_with_a_clear_error(lab_copy: Path) -> None:
    import fcntl
    import threading
    import time

    from simpul.errors import LockedError

    store = ipam_store.IpamStore(lab_copy, lock_timeout=0.3)
    with open(store.lock_path, "w") as held:  # another writer holds it (its own open file)
        fcntl.flock(held, fcntl.LOCK_EX)
        t0 = time.monotonic()
        with pytest.raises(LockedError, match="held the lock for over 0 s"), store.transaction():
            pass
        assert 0.25 < time.monotonic() - t0 < 5
        errors: list[BaseException] = []

        def in_a_thread() -> None:  # no signals outside the main thread: the polling wait
            try:
                with store.transaction():
                    pass
            except BaseException as e:
                errors.append(e)

        th = threading.Thread(target=in_a_thread)
        th.start()
        th.join(10)
        assert len(errors) == 1 and isinstance(errors[0], LockedError)
    with store.transaction() as tx:  # released: taken at once
        assert tx.snap.allocations == []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(
    st.binary(max_size=300),
    st.dictionaries(st.sampled_from(["allocations", "reservations", "released", "sites", "x"]),
                    st.recursive(st.one_of(st.none(), st.text(max_size=12), st.integers()),
                                 lambda c: st.lists(c, max_size=3) | st.dictionaries(KEYS, c, max_size=4),
                                 max_leaves=12), max_size=3)))
def test_whatever_ipam_yaml_holds_the_answer_is_problems_or_an_inventory(tmp_path_factory: Any,
                                                                         data: Any) -> None:
    import shutil

    from simpul.inventory import InventoryInvalid

    d = tmp_path_factory.mktemp("fz") / "inv"
    shutil.copytree(Path(__file__).resolve().parents[2] / "inventory" / "lab", d)
    if isinstance(data, bytes):
        (d / "ipam.yaml").write_bytes(data)
    else:
        (d / "ipam.yaml").write_text(yaml.safe_dump(data))
    for read in (lambda: load_inventory(d), lambda: ipam_store.IpamStore(d).read()):
        try:
            read()
        except InventoryInvalid as e:
            assert e.problems and all(p.file and p.message for p in e.problems)
