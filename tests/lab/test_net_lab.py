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
    dst.parent.mkdir(parents=True, exist_ok=True)
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


def test_a_router_restarted_during_an_unconfirmed_push_is_reported_and_takes_the_next_push(
        net: LabEnv) -> None:
    """The router restarts (every process of its namespace stopped — the revert timer too — and
    started again, as after a power cut) between the change and the confirm: the push reports
    it rolled back with that reason, and the router is not left "armed" — the next push arms,
    confirms and leaves it in sync."""
    from simpul.lab.orchestrate import wait_ospf

    name = "desa-jampiroso"
    r = net.topo.routers[name]
    subprocess.run(["vtysh", "-N", r.netns, "-c", "configure",
                    *[x for i in range(3) for x in ("-c", f"ip route 10.199.251.{i}/32 Null0")]],
                   check=True, capture_output=True)
    lab_routers.vtysh(r.netns, "write memory")
    restarted = threading.Event()

    def step(router: str, msg: str) -> None:
        if msg.startswith("applied ") and "/" in msg and not restarted.is_set():
            restarted.set()
            lab_routers.stop_namespace_processes(r.netns)
            lab_routers.start_router(net.st, r, noc_range=str(net.inv.organisation.noc_ranges[0]))
            lab_routers.wait_ready(net.st, r)

    [res] = push(net.inv, [name], net.st.known_hosts, PushOptions(apply=True, revert_in=30, step=step))
    assert restarted.is_set()
    assert res.status is Status.FAILED, res.message
    assert "restarted before the change was confirmed" in res.message, res.message
    wait_ospf(net.topo, timeout=60)
    [again] = push(net.inv, [name], net.st.known_hosts, PushOptions(apply=True, revert_in=30))
    assert again.ok, again.message
    [after] = plan(net.inv, [name], net.st.known_hosts)
    assert after.status is Status.OK, after.message


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


# --- the pre-push twin (net push --preflight, net verify) -----------------------------------------


def _twin_traces() -> dict[str, list[str]]:
    """Everything a twin could leave: namespaces, FRR paths, processes, mounts, its files."""
    from simpul.lab.twin import leftovers, twin_dir

    t = leftovers()
    t["mounts"] = [ln.split()[4] for ln in Path("/proc/self/mountinfo").read_text().splitlines()
                   if "stwin" in ln.split()[4]]
    procs = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if "stwin" in cmd and "pytest" not in cmd:
                procs.append(f"{p.name} {cmd}")
    t["processes"] = sorted(set(t["processes"]) | set(procs))
    t["files"] = sorted(str(p) for p in twin_dir().iterdir()) if twin_dir().is_dir() else []
    return t


NO_TRACES = {"namespaces": [], "frr_paths": [], "processes": [], "mounts": [], "files": []}


def _inv_dir(tmp_path: Path, old: str, new: str, file: str) -> Path:
    dst = tmp_path / "inv"
    shutil.copytree(REPO / "inventory" / "lab", dst)
    p = dst / file
    assert old in p.read_text()
    p.write_text(p.read_text().replace(old, new))
    return dst


def _cli_inv(env: LabEnv, inv: Path, *args: str, state: Path) -> subprocess.CompletedProcess[str]:
    e = {**os.environ, "SIMPUL_STATE_DIR": str(state), "SIMPUL_KNOWN_HOSTS": str(env.st.known_hosts)}
    return subprocess.run([SIMPUL, "-i", str(inv), *args], capture_output=True, text=True, timeout=600,
                          env=e, check=False)


def _logins(env: LabEnv, name: str) -> int:
    return (env.st.router_dir(name) / "sshd.log").read_text().count("Accepted ")


def _neighbor_ids(env: LabEnv, name: str) -> set[str]:
    return set(lab_routers.ospf_neighbors(env.topo.routers[name]))


def test_preflight_refuses_a_push_that_breaks_ospf_before_any_router_is_contacted(
        net: LabEnv, tmp_path: Path) -> None:
    name = "desa-kemloko"
    inv = _inv_dir(tmp_path, f"{name}: {{site: {name}, groups: [frr-routers, desa-edge],",
                   f"{name}: {{site: {name}, groups: [frr-routers, desa-edge], tags: {{ospf_area: '1'}},",
                   "devices.yaml")
    running, startup = _running(net, name), (net.st.router_dir(name) / "frr" / "frr.conf").read_text()
    logins, core_nbrs = _logins(net, name), _neighbor_ids(net, "core-1")
    rb = net.st.router_dir(name) / "rollback"
    checkpoints = sorted(p.name for p in rb.iterdir()) if rb.is_dir() else []
    cp = _cli_inv(net, inv, "--json", "net", "push", "--limit", name, "--preflight", "--apply", state=tmp_path)
    assert cp.returncode == 1, cp.stdout + cp.stderr
    [r] = json.loads(cp.stdout)["routers"]
    assert r["status"] == "failed"
    assert r["message"].startswith("refused by the pre-push twin, nothing sent: no OSPF adjacency with "
                                   "core-1 on eth0"), r["message"]
    assert "the Pusat Data (10.199.255.1, core-1) is not reachable from desa-kemloko" in r["message"]
    # nothing was sent: no login at all, running and startup config and checkpoints as before
    assert _logins(net, name) == logins
    assert _running(net, name) == running
    assert (net.st.router_dir(name) / "frr" / "frr.conf").read_text() == startup
    assert (sorted(p.name for p in rb.iterdir()) if rb.is_dir() else []) == checkpoints
    # the twin's routers (same addresses as the lab's) never met the real ones
    assert _neighbor_ids(net, "core-1") == core_nbrs
    [rec] = [json.loads(ln) for ln in (tmp_path / "oplog.jsonl").read_text().splitlines()]
    assert rec["action"] == "net.push" and rec["target"] == name and rec["result"] == "failed"
    assert _twin_traces() == NO_TRACES


def test_preflight_passes_a_good_change_and_the_push_goes_through(net: LabEnv, tmp_path: Path) -> None:
    name = "desa-kemloko"
    inv = _inv_dir(tmp_path, "interfaces: {lan0: {address: 10.199.32.1/28, kind: lan}}",
                   "interfaces: {lan0: {address: 10.199.32.1/28, kind: lan, description: LAN Balai Desa}}",
                   "devices.yaml")
    cp = _cli_inv(net, inv, "--json", "net", "push", "--limit", name, "--preflight", "--apply", state=tmp_path)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    [r] = json.loads(cp.stdout)["routers"]
    assert r["status"] == "changed", r["message"]
    assert r["data"]["twin"].startswith("twin passed: 1 OSPF adjacency Full, Pusat Data reachable (10.199.255.1)")
    assert r["data"]["commands"] == ["interface lan0", "description LAN Balai Desa", "exit"]
    assert " description LAN Balai Desa\n" in _running(net, name)
    assert _twin_traces() == NO_TRACES


def _veth_peers_outside(ns: str, mine: str) -> list[str]:
    """Interfaces of twin namespace ``ns`` whose veth peer is not in a namespace named ``mine*``."""
    ids = {x["nsid"]: x.get("name", "") for x in json.loads(
        subprocess.run(["ip", "-n", ns, "-j", "netns", "list-id"], capture_output=True, text=True,
                       check=True).stdout or "[]")}
    links = json.loads(subprocess.run(["ip", "-n", ns, "-j", "-d", "link", "show"], capture_output=True,
                                      text=True, check=True).stdout)
    bad = []
    for link in links:
        if (link.get("linkinfo", {}).get("info_kind") == "veth" and "link_netnsid" in link
                and not ids.get(link["link_netnsid"], "").startswith(mine)):
            bad.append(f"{ns}:{link['ifname']} -> nsid {link['link_netnsid']} "
                       f"({ids.get(link['link_netnsid']) or 'unnamed: the root namespace?'})")
    return bad


def test_twin_is_isolated_and_leaves_nothing_even_when_killed(net: LabEnv, tmp_path: Path) -> None:
    from simpul.lab.twin import Twin
    from simpul.network.preflight import twin_plan

    plan = twin_plan(net.inv, ["desa-bansari"])
    core_nbrs = _neighbor_ids(net, "core-1")
    with Twin(plan.routers, plan.links) as tw:
        adj = tw.wait_adjacency(10)
        assert all(a.startswith("Full") and b.startswith("Full") for a, b in adj.values()), adj
        mine = f"stwin{tw.slot}-"
        assert sorted(tw.ns.values()) == sorted(n for n in _twin_traces()["namespaces"] if n.startswith(mine))
        for ns in tw.ns.values():
            assert _veth_peers_outside(ns, mine) == []
        # the twin's core-1 (10.199.255.1, like the real one) sees only twin routers
        assert set(tw.ospf_neighbors("core-1")) == {"10.199.255.11"}
        assert _neighbor_ids(net, "core-1") == core_nbrs
    assert _twin_traces() == NO_TRACES

    # a twin killed mid-run leaves its routers; 'lab twin-cleanup' removes every trace
    e = {**os.environ, "SIMPUL_STATE_DIR": str(tmp_path)}
    proc = subprocess.Popen([SIMPUL, "-i", str(REPO / "inventory" / "lab"), "net", "verify", "--limit", "core-1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=e)
    deadline = time.monotonic() + 60
    while not any(" -N stwin" in p for p in _twin_traces()["processes"]):
        assert time.monotonic() < deadline and proc.poll() is None, "the twin did not start FRR"
        time.sleep(0.1)
    proc.kill()
    proc.wait()
    left = _twin_traces()
    assert left["namespaces"] and left["processes"]
    cp = subprocess.run([SIMPUL, "lab", "twin-cleanup"], capture_output=True, text=True, env=e, timeout=120,
                        check=False)
    assert cp.returncode == 0, cp.stderr
    assert all(f"namespace {ns}" in cp.stdout for ns in left["namespaces"])
    assert _twin_traces() == NO_TRACES
    assert _neighbor_ids(net, "core-1") == core_nbrs


def test_snmp_lost_after_the_push_is_rolled_back(net: LabEnv, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """SNMP from the NOC is part of the post-check. A real change on a real router; the SNMP
    loss itself is injected (no intent can drop SNMP but keep SSH: one ACL admits both)."""
    from simpul.network import push as push_mod
    from simpul.network.snmpcheck import snmp_answers

    name = "desa-jampiroso"
    assert snmp_answers(net.inv, name) is True  # the real agent, v3 authPriv, from the NOC
    wrong = tmp_path / "wrong-auth"
    wrong.write_text("not-the-key-123\n")
    wrong.chmod(0o600)
    bad = _inv_dir(tmp_path, "lab-snmp-auth: {file: /var/lib/simpul/lab/secrets/snmp-auth}",
                   f"lab-snmp-auth: {{file: {wrong}}}", "organisation.yaml")
    assert snmp_answers(load_inventory(bad), name, timeouts=(0.5,)) is False
    inv = _inv_copy(tmp_path / "b", "interfaces: {lan0: {address: 10.199.32.17/28, kind: lan}}",
                    "interfaces: {lan0: {address: 10.199.32.17/28, kind: lan, description: LAN Jampiroso}}",
                    "devices.yaml")
    answers = iter([True, False])  # before the change: answers; after: silent
    monkeypatch.setattr(push_mod, "snmp_answers", lambda *a, **k: next(answers))
    before = _running(net, name)
    [r] = push(inv, [name], net.st.known_hosts, PushOptions(apply=True, revert_in=20))  # type: ignore[arg-type]
    assert r.status is Status.FAILED
    assert r.message.startswith("rolled back (at once, through the pushing session): post-check failed: "
                                "management from the NOC is lost: SNMP from the NOC no longer answers")
    assert _running(net, name) == before
