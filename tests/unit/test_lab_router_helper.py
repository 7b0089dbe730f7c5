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


def _ask(name: str, words: str, session: str = "169.254.100.1 5000 169.254.100.31 22") -> str:
    """What the router login shell's ``socat`` does: the request, half-close, read the answer."""
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(name)
        s.sendall(f"{session}\n{words}\n".encode())
        s.shutdown(socket.SHUT_WR)
        out = bytearray()
        while chunk := s.recv(65536):
            out += chunk
    return out.decode()


def test_the_resident_helper_answers_each_request_in_a_process_of_its_own(
        tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--serve``: the helper as the router's resident service. Each request is answered with
    its exit code on the first line; a bad verb is a usage error (2) and the service goes on;
    two connections open at once are both answered; a caller whose uid is neither root nor the
    router account is refused (SO_PEERCRED). The lab tests drive it through real SSH logins."""
    import os
    import signal
    import socket
    import time
    from pathlib import Path

    base = Path(str(tmp_path))
    name = f"\0simpul-test-router-helper-{os.getpid()}"
    monkeypatch.setattr(rh, "SOCKET", name)
    monkeypatch.setattr(rh, "STATE", base)
    monkeypatch.setattr(rh, "own_namespace", lambda: "slab-r-desa-x")
    (base / "routers" / "desa-x" / "frr").mkdir(parents=True)
    (base / "routers" / "desa-x" / "frr" / "frr.conf").write_text("hostname desa-x\n!\nend\n")
    pid = os.fork()
    if pid == 0:  # the service (root and 'root': the allowed callers are uid 0 only)
        try:
            rh.serve("root")
        finally:
            os._exit(1)
    try:
        deadline = time.monotonic() + 10
        while not (base / "routers" / "desa-x" / "helper.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert (base / "routers" / "desa-x" / "helper.pid").read_text().strip() == str(pid)
        assert _ask(name, "startup") == "0\nhostname desa-x\n!\nend\n"
        rc, _, body = _ask(name, "status").partition("\n")
        assert rc == "0" and json.loads(body) == {"armed": None, "last_rollback": None}
        assert _ask(name, "format-disk /") == "2\nrouter-helper: unknown verb or wrong arguments: format-disk\n"
        assert _ask(name, "confirm 20261207T120000-abcdef").startswith("1\nrouter-helper: no armed rollback")
        # two callers at once (the first has not sent its request yet when the second asks)
        first = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        first.settimeout(10)
        first.connect(name)
        assert _ask(name, "startup").startswith("0\nhostname desa-x")
        first.sendall(b"s\nstatus\n")
        first.shutdown(socket.SHUT_WR)
        assert first.recv(65536).startswith(b"0\n{")
        first.close()
        # another uid is refused
        if os.geteuid() == 0:
            r, w = os.pipe()
            child = os.fork()
            if child == 0:
                try:
                    os.close(r)
                    os.setgid(65534)
                    os.setuid(65534)
                    os.write(w, _ask(name, "status").encode())
                finally:
                    os._exit(0)
            os.close(w)
            answer = os.read(r, 4096).decode()
            os.close(r)
            os.waitpid(child, 0)
            assert answer == "1\nrouter-helper: not allowed\n"
        assert os.waitpid(pid, os.WNOHANG) == (0, 0)  # the service is still there
    finally:
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)


def test_a_checkpoint_copies_frr_conf_only_when_it_is_the_running_config_the_caller_saw(
        tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """The checkpoint's running config comes from vtysh unless the caller passes the digest of
    the running config it read (and found saved) and frr.conf still has that digest."""
    import subprocess
    from pathlib import Path

    base = Path(str(tmp_path))
    monkeypatch.setattr(rh, "STATE", base)
    ns = "slab-r-desa-x"
    frr = base / "routers" / "desa-x" / "frr"
    frr.mkdir(parents=True)
    saved = "frr version 8.4\nhostname desa-x\n!\ninterface lo\n ip address 10.199.255.31/32\nexit\n!\nend\n"
    (frr / "frr.conf").write_text(saved)
    asked: list[tuple[str, ...]] = []

    def vtysh(ns_: str, *commands: str, timeout: float = 30) -> str:
        asked.append(commands)
        return "hostname desa-x\n! from vtysh\n"

    monkeypatch.setattr(rh, "vtysh", vtysh)
    monkeypatch.setattr(rh, "_run", lambda cmd, **kw: subprocess.CompletedProcess(cmd, 1, "", ""))
    # what the CLI shows of it: a header, more '!', and 'end' (frr.conf written by FRR has none)
    saved = saved.removesuffix("end\n")
    (frr / "frr.conf").write_text(saved)
    shown = "Building configuration...\n\nCurrent configuration:\n" + saved.replace("!\n", "!\n!\n") + "end\n"

    def running_of(cid: str) -> str:
        return (base / "routers" / "desa-x" / "rollback" / cid / "running.conf").read_text()

    cid = rh.checkpoint(ns, rh.config_digest(shown))
    assert running_of(cid) == saved and asked == []
    (frr / "frr.conf").write_text(saved.replace("10.199.255.31", "10.199.255.99"))  # saved meanwhile
    assert running_of(rh.checkpoint(ns, rh.config_digest(shown))) == "hostname desa-x\n! from vtysh\n"
    assert running_of(rh.checkpoint(ns)) == "hostname desa-x\n! from vtysh\n"
    assert len(asked) == 2


def test_confirm_if_without_neighbours_to_check_asks_vtysh_nothing(
        fake_router: dict[str, list[object]], monkeypatch: pytest.MonkeyPatch) -> None:
    """The push checks OSPF over its own open CLI and passes no neighbours: no vtysh start."""
    def no_vtysh(ns: str) -> set[str]:
        raise AssertionError("vtysh asked")

    monkeypatch.setattr(rh, "_full_neighbors", no_vtysh)
    monkeypatch.setattr(rh, "_reachable", lambda addr, src: True)
    assert rh.confirm_if("slab-r-desa-x", "s2", "cid", 11, [], ["10.199.255.1"])["confirmed"] is True


def test_a_ping_is_one_process_that_retries_a_lost_echo_quickly(monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    ran: list[list[str]] = []

    def run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
        ran.append(cmd)
        return subprocess.CompletedProcess(cmd, 1, "", "")

    monkeypatch.setattr(rh, "_run", run)
    assert rh._reachable("10.199.255.1", "10.199.255.21") is False
    assert ran == [["/usr/bin/ping", "-I", "10.199.255.21", "-n", "-q", "-c", "1", "-i", "0.2", "-w", "3",
                    "10.199.255.1"]]


def test_a_rollback_left_armed_by_a_restart_is_recorded_and_no_longer_blocks_pushes(
        tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """The router restarted while a change was unconfirmed (its timer died with it): the
    service's start records it as that checkpoint's rollback and clears the armed state, so the
    next push can arm again. A timer that still runs is left armed."""
    import os
    import subprocess
    from pathlib import Path

    base = Path(str(tmp_path))
    monkeypatch.setattr(rh, "STATE", base)
    ns, cid = "slab-r-desa-x", "20261207T120000-abcdef"
    rb = base / "routers" / "desa-x" / "rollback"
    (rb / cid).mkdir(parents=True)
    gone = subprocess.Popen(["true"])
    gone.wait()
    (rb / "armed.json").write_text(json.dumps({"id": cid, "pid": gone.pid, "start": 12345, "session": "s"}))
    with pytest.raises(rh.HelperError, match="already armed"):
        rh.arm(ns, cid, 30, "s2")
    rec = rh.settle_stale_arm(ns)
    assert rec is not None and rec["id"] == cid and "restarted before the change was confirmed" in str(rec["reason"])
    assert rh.status(ns) == {"armed": None, "last_rollback": rec}
    assert json.loads((rb / cid / "rolled-back").read_text()) == rec
    # a live timer (this test process stands in for it) stays armed
    (rb / "armed.json").write_text(json.dumps({"id": cid, "pid": os.getpid(),
                                               "start": rh._start_time(os.getpid()), "session": "s"}))
    assert rh.settle_stale_arm(ns) is None and rh.status(ns)["armed"] is not None
    assert rh.settle_stale_arm("slab-r-desa-x") is None  # idempotent while the timer lives
