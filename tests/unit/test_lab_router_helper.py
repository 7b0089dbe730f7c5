"""The router device helper's own logic (lab/router_helper.py), without a router: several verbs
in one call, and ``confirm-if`` confirming only a post-check that passed. The helper on real lab
routers is exercised by tests/lab/test_net_lab.py."""

from __future__ import annotations

import json

import pytest

from simpul.lab import router_helper as rh


@pytest.fixture
def fake_router(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[object]]:
    calls: dict[str, list[object]] = {"confirm": []}
    monkeypatch.setattr(rh, "own_namespace", lambda: "slab-r-desa-x")
    monkeypatch.setattr(rh, "acl_show", lambda: {"table": "simpul_mgmt", "present": True,
                                                 "admit": ["169.254.100.0/24"]})
    monkeypatch.setattr(rh, "confirm", lambda ns, cid, session: calls["confirm"].append((ns, cid, session)))
    return calls


def test_several_verbs_in_one_call_answer_a_json_list(fake_router: object, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(rh, "_reachable", lambda addr, src: addr == "10.199.255.1")
    assert rh.main(["--session", "169.254.100.1 5000 169.254.100.31 22", "acl-show", "+",
                    "ping", "10.199.255.1", "10.199.255.21", "+", "ping", "10.199.255.9"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == [{"table": "simpul_mgmt", "present": True, "admit": ["169.254.100.0/24"]},
                   {"address": "10.199.255.1", "reachable": True},
                   {"address": "10.199.255.9", "reachable": False}]


def test_an_unknown_verb_in_a_batch_is_a_usage_error(fake_router: object,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert rh.main(["--session", "s", "acl-show", "+", "format-disk"]) == 2
    assert "unknown verb or wrong arguments: format-disk" in capsys.readouterr().err


def test_confirm_if_confirms_only_a_passed_post_check(fake_router: dict[str, list[object]],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rh, "_full_neighbors", lambda ns: {"10.199.255.1"})
    monkeypatch.setattr(rh, "_reachable", lambda addr, src: True)
    ok = rh.confirm_if("slab-r-desa-x", "s2", "cid", 0, ["10.199.255.1"], ["10.199.255.1/10.199.255.21"])
    assert ok == {"confirmed": True, "missing": [], "unreachable": []}
    assert fake_router["confirm"] == [("slab-r-desa-x", "cid", "s2")]
    # a neighbour that did not come back: nothing pinged, nothing confirmed
    monkeypatch.setattr(rh, "_full_neighbors", lambda ns: set())
    bad = rh.confirm_if("slab-r-desa-x", "s2", "cid", 0, ["10.199.255.1"], ["10.199.255.1/10.199.255.21"])
    assert bad == {"confirmed": False, "missing": ["10.199.255.1"], "unreachable": []}
    # the Pusat Data silent: not confirmed
    monkeypatch.setattr(rh, "_full_neighbors", lambda ns: {"10.199.255.1"})
    monkeypatch.setattr(rh, "_reachable", lambda addr, src: False)
    bad = rh.confirm_if("slab-r-desa-x", "s2", "cid", 0, [], ["10.199.255.1/10.199.255.21"])
    assert bad == {"confirmed": False, "missing": [], "unreachable": ["10.199.255.1"]}
    assert len(fake_router["confirm"]) == 1


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_the_revert_timer_is_a_detached_fork_that_restores_unless_stopped(
        tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """The timer is this process forked twice (no new interpreter): it outlives the call, its
    stdio is not the caller's (the SSH channel ends at once), it restores the checkpoint when
    the deadline passes while still armed, and ``_stop_timer`` ends it (only that process)."""
    import os
    import subprocess
    import time
    from pathlib import Path

    base = Path(str(tmp_path))
    monkeypatch.setattr(rh, "STATE", base)
    ns, cid = "slab-r-desa-x", "20261207T120000-abcdef"
    (base / "routers" / "desa-x" / "rollback" / cid).mkdir(parents=True)
    marker = base / "restored"
    # what the timer does at the deadline (the real restore needs FRR; tests/lab covers it)
    monkeypatch.setattr(rh, "restore", lambda ns_, cid_, reason: marker.write_text(f"{cid_}: {reason}"))

    info = rh.arm(ns, cid, 5, "169.254.100.1 5000 169.254.100.31 22")
    assert info["pid"] != os.getpid() and _alive(int(info["pid"]))
    assert info["start"] == rh._start_time(int(info["pid"]))
    assert json.loads((base / "routers" / "desa-x" / "rollback" / "armed.json").read_text())["id"] == cid
    rh._stop_timer(info)
    deadline = time.monotonic() + 5
    while _alive(int(info["pid"])) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(int(info["pid"])) and not marker.exists()

    # a pid that is now another process (same pid, other start time) is left alone
    other = subprocess.Popen(["sleep", "30"])
    try:
        rh._stop_timer({"pid": other.pid, "start": (rh._start_time(other.pid) or 0) + 1})
        time.sleep(0.2)
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()

    # left armed past its deadline, the timer restores the checkpoint by itself
    pid = rh._spawn_timer(ns, cid, time.time() + 0.3)
    deadline = time.monotonic() + 10
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.read_text() == f"{cid}: not confirmed before the rollback timer expired"
    assert not (base / "routers" / "desa-x" / "rollback" / "armed.json").exists()
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)
