"""``simpul net`` end to end on the lab's real FRR routers (issue 12, "Done when").

The module leaves the routers as it found them: it saves every router's frr.conf first and, at
the end, restores running config (FRR's frr-reload), frr.conf and the management ACL table, and
brings cut links up again. Tests run in file order and build on each other only where noted.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from labkit import LabEnv

from simpul.inventory.loader import load_inventory
from simpul.lab import routers as lab_routers
from simpul.lab import wan
from simpul.network.backup import GitRepo, backup, drift
from simpul.network.connection import open_session
from simpul.network.drivers import FrrDriver
from simpul.network.push import PushOptions, plan, push
from simpul.results import Status

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
SIMPUL = str(REPO / ".venv" / "bin" / "simpul")
ACL = "acl-set 169.254.100.0/24"


@pytest.fixture(scope="module")
def net(lab_env: LabEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabEnv]:
    saved = {n: (lab_env.st.router_dir(n) / "frr" / "frr.conf").read_text() for n in lab_env.topo.routers}
    tmp = tmp_path_factory.mktemp("netsaved")
    try:
        yield lab_env
    finally:
        for name in ("core-kemloko", "disdik-kledung"):
            wan.set_up(lab_env.st, lab_env.topo, name, True)
        for n, text in saved.items():
            ns = lab_env.topo.routers[n].netns
            src = tmp / f"{n}.conf"
            src.write_text(text)
            subprocess.run(["python3", "/usr/lib/frr/frr-reload.py", "--reload", "--stdout", "--log-level",
                            "error", "-N", ns, "--rundir", str(tmp), str(src)], capture_output=True,
                           timeout=120, check=False)
            (lab_env.st.router_dir(n) / "frr" / "frr.conf").write_text(text)
            subprocess.run(["ip", "netns", "exec", ns, "nft", "delete", "table", "inet", "simpul_mgmt"],
                           capture_output=True, check=False)


def _cli(env: LabEnv, *args: str, state: Path) -> subprocess.CompletedProcess[str]:
    e = {**os.environ, "SIMPUL_STATE_DIR": str(state), "SIMPUL_KNOWN_HOSTS": str(env.st.known_hosts)}
    return subprocess.run([SIMPUL, "-i", str(REPO / "inventory" / "lab"), *args], capture_output=True,
                          text=True, timeout=600, env=e, check=False)


def _ssh_ok(env: LabEnv, name: str) -> bool:
    cp = subprocess.run(["ssh", "-F", str(env.st.ssh_config), "-o", "ControlMaster=no", "-o",
                         "ControlPath=none", "-o", "BatchMode=yes", name, "show version"],
                        capture_output=True, text=True, timeout=30, check=False)
    return cp.returncode == 0 and f"({name})" in cp.stdout


def _snmp_ok(env: LabEnv, name: str) -> bool:
    from simpul.lab.orchestrate import snmp_ok

    return snmp_ok(env.st, str(env.topo.routers[name].mgmt_ip))


def _running(env: LabEnv, name: str) -> str:
    return lab_routers.vtysh(env.topo.routers[name], "show running-config no-header")


def test_diff_on_a_fresh_lab_shows_exactly_what_the_lab_lacks(net: LabEnv, tmp_path: Path) -> None:
    results = plan(net.inv, list(net.topo.routers), net.st.known_hosts)
    for r in results:
        # the lab's own FRR config is the intended one; what it lacks is the management ACL
        assert r.status is Status.CHANGED, r
        assert r.data["commands"] == [] and r.data["host"] == [ACL], (r.target, r.diff)
    cp = _cli(net, "net", "diff", "--limit", "desa-kemloko", state=tmp_path)
    assert cp.returncode == 6, cp.stderr
    assert "host: acl-set 169.254.100.0/24" in cp.stdout


def test_push_of_all_with_two_routers_cut_off(net: LabEnv, tmp_path: Path) -> None:
    for link in ("core-kemloko", "disdik-kledung"):
        wan.set_up(net.st, net.topo, link, False)
    try:
        cp = _cli(net, "--json", "net", "push", "--apply", "--revert-in", "20", state=tmp_path)
        assert cp.returncode == 5, cp.stdout + cp.stderr
        out = {r["target"]: r for r in json.loads(cp.stdout)["routers"]}
        for n in ("desa-kemloko", "desa-kledung"):
            assert out[n]["status"] == "failed"
            assert "Pusat Data" in out[n]["message"] and "not reachable" in out[n]["message"]
        ok = [n for n, r in out.items() if r["status"] == "changed"]
        assert sorted(ok) == sorted(set(net.topo.routers) - {"desa-kemloko", "desa-kledung"})
        records = [json.loads(ln) for ln in (tmp_path / "oplog.jsonl").read_text().splitlines()]
        pushes = [r for r in records if r["action"] == "net.push"]
        assert len(pushes) == 9 and all("Pergub Jambi 12/2022 Pasal 21(1)(b), 21(2)" in p["refs"] for p in pushes)
    finally:
        for link in ("core-kemloko", "disdik-kledung"):
            wan.set_up(net.st, net.topo, link, True)


def test_push_all_then_the_diff_is_empty_and_a_second_push_changes_nothing(net: LabEnv) -> None:
    kh = net.st.known_hosts
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # OSPF back on the two links brought up again
        if all("Full" in lab_routers.ospf_neighbors(net.topo.routers[n]).get("10.199.255.1", "")
               for n in ("desa-kemloko",)) and lab_routers.ospf_neighbors(net.topo.routers["desa-kledung"]):
            break
        time.sleep(0.5)
    first = push(net.inv, list(net.topo.routers), kh, PushOptions(apply=True, revert_in=20))
    assert all(r.ok for r in first), [(r.target, r.message) for r in first if not r.ok]
    assert all(r.status is Status.OK for r in plan(net.inv, list(net.topo.routers), kh))
    second = push(net.inv, list(net.topo.routers), kh, PushOptions(apply=True, revert_in=20))
    assert all(r.status is Status.OK and "in sync" in r.message for r in second)


def _inv_copy(tmp_path: Path, old: str, new: str, file: str) -> object:
    dst = tmp_path / "inv"
    shutil.copytree(REPO / "inventory" / "lab", dst)
    p = dst / file
    assert old in p.read_text()
    p.write_text(p.read_text().replace(old, new))
    return load_inventory(dst)


def test_push_that_drops_the_noc_from_the_acl_is_rolled_back(net: LabEnv, tmp_path: Path) -> None:
    # a NOC range that holds the servers' management addresses (so 'inventory check' accepts it)
    # but not the NOC host itself (169.254.100.1): the router's ACL would shut the NOC out
    inv = _inv_copy(tmp_path, "noc_ranges: [169.254.100.0/24]", "noc_ranges: [169.254.100.48/28]",
                    "organisation.yaml")
    before = _running(net, "desa-kemloko")
    [r] = push(inv, ["desa-kemloko"], net.st.known_hosts, PushOptions(apply=True, revert_in=20))  # type: ignore[arg-type]
    assert r.status is Status.FAILED
    assert r.message.startswith("rolled back") and "management from the NOC is lost" in r.message
    assert _ssh_ok(net, "desa-kemloko") and _snmp_ok(net, "desa-kemloko")
    assert _running(net, "desa-kemloko") == before
    [p] = plan(net.inv, ["desa-kemloko"], net.st.known_hosts)
    assert p.status is Status.OK, p.diff


def test_push_that_breaks_ospf_to_the_core_is_rolled_back(net: LabEnv, tmp_path: Path) -> None:
    inv = _inv_copy(tmp_path, "desa-kemloko: {site: desa-kemloko, groups: [frr-routers, desa-edge],",
                    "desa-kemloko: {site: desa-kemloko, groups: [frr-routers, desa-edge], tags: {ospf_area: '1'},",
                    "devices.yaml")
    [r] = push(inv, ["desa-kemloko"], net.st.known_hosts, PushOptions(apply=True, revert_in=30))  # type: ignore[arg-type]
    assert r.status is Status.FAILED and r.message.startswith("rolled back")
    assert "OSPF neighbour(s) core-1 (10.199.255.1) on eth0" in r.message
    deadline = time.monotonic() + 15
    while "Full" not in lab_routers.ospf_neighbors(net.topo.routers["desa-kemloko"]).get("10.199.255.1", ""):
        assert time.monotonic() < deadline, "OSPF to the core did not come back after the rollback"
        time.sleep(0.3)
    [p] = plan(net.inv, ["desa-kemloko"], net.st.known_hosts)
    assert p.status is Status.OK, p.diff


def test_cutting_the_pushing_session_ends_with_the_router_restored(net: LabEnv) -> None:
    name, ns = "desa-jampiroso", net.topo.routers["desa-jampiroso"].netns
    # 30 hand-made static routes, saved: the push will remove them in chunks of 10
    subprocess.run(["vtysh", "-N", ns, "-c", "configure",
                    *[x for i in range(30) for x in ("-c", f"ip route 10.199.250.{i}/32 Null0")]],
                   check=True, capture_output=True)
    lab_routers.vtysh(ns, "write memory")
    before = _running(net, name)
    assert before.count("ip route 10.199.250.") == 30
    listener = int((net.st.router_dir(name) / "sshd.pid").read_text())
    cut = threading.Event()

    def step(router: str, msg: str) -> None:
        if msg.startswith("applied 10/") and not cut.is_set():
            cut.set()  # kill the pushing SSH session (its sshd processes), not the listener
            for pid in subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True,
                                      check=True).stdout.split():
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes() if Path(f"/proc/{pid}").exists() else b""
                if int(pid) != listener and cmd.startswith(b"sshd"):
                    os.kill(int(pid), 9)

    [r] = push(net.inv, [name], net.st.known_hosts, PushOptions(apply=True, revert_in=8, chunk=10, step=step))
    assert cut.is_set()
    assert r.status is Status.FAILED and r.message.startswith("rolled back (by the router's own timer")
    assert "session was lost" in r.message
    assert _running(net, name) == before
    subprocess.run(["vtysh", "-N", ns, "-c", "configure",
                    *[x for i in range(30) for x in ("-c", f"no ip route 10.199.250.{i}/32 Null0")]],
                   check=True, capture_output=True)
    lab_routers.vtysh(ns, "write memory")


def test_hand_change_shows_in_drift_and_backup_commits_exactly_that_line(net: LabEnv, tmp_path: Path) -> None:
    name, ns = "opd-bappeda", net.topo.routers["opd-bappeda"].netns
    kh, repo = net.st.known_hosts, tmp_path / "backup"
    results, first, _ = backup(net.inv, list(net.topo.routers), kh, repo)
    assert all(r.ok for r in results) and first is not None
    [d] = drift(net.inv, [name], kh)
    assert d.status is Status.OK, d.message
    subprocess.run(["vtysh", "-N", ns, "-c", "configure", "-c", "ip route 10.199.251.0/24 Null0"],
                   check=True, capture_output=True)
    try:
        [d] = drift(net.inv, [name], kh)
        assert d.status is Status.CHANGED
        assert "running != intended" in d.message and "running != startup: unsaved" in d.message
        assert d.data["intended"]["commands"] == ["no ip route 10.199.251.0/24 Null0"]
        assert d.data["unsaved"]["commands"] == ["ip route 10.199.251.0/24 Null0"]
        cp = _cli(net, "net", "drift", "--limit", name, "--notify", f"mbox:{tmp_path / 'noc.mbox'}",
                  state=tmp_path)
        assert cp.returncode == 6 and "unsaved" in cp.stdout
        assert "ip route 10.199.251.0/24 Null0" in (tmp_path / "noc.mbox").read_text()
        results, second, changed = backup(net.inv, list(net.topo.routers), kh, repo)
        assert second is not None and changed == [name]
        g = GitRepo(repo)
        assert g.git("rev-list", "--count", "HEAD").strip() == "2"
        patch = g.git("show", "--format=", "--unified=0", second)
        added = [ln for ln in patch.splitlines() if ln.startswith("+") and not ln.startswith("+++")]
        removed = [ln for ln in patch.splitlines() if ln.startswith("-") and not ln.startswith("---")]
        assert added == ["+ip route 10.199.251.0/24 Null0"] and removed == []
    finally:
        subprocess.run(["vtysh", "-N", ns, "-c", "configure", "-c", "no ip route 10.199.251.0/24 Null0"],
                       check=True, capture_output=True)
    with open_session(net.inv, name, kh) as s:
        assert FrrDriver(s, net.inv).unsaved().empty
