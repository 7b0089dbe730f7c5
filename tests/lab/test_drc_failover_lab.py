"""The DRC standby of ``simpeg`` in the real lab (issue 14): deploy, audit, and the four drills.

Fresh servers first (pd-db, drc-db, noc-witness, noc-client are reset): pd-db's Debian cluster
``15/main`` gets data of its own *before* the deploy, as the backup jobs' database would have, so
the tests prove the deploy adopts it (same data, same port) instead of making a new one. The
database servers are hardened before the deploy, so the firewall openings must come from the
hardening controls and the audit must still pass afterwards.

Every drill runs the real CLI (``simpul drill failover ... --execute --failback --json``): load
from the NOC client through the service address, the injection, the takeover by Patroni, the
heal, the failback. The figures asserted are the issue's: switchover RTO ≤ 5 s, crash and
site-loss RTO ≤ 30 s without a person, RPO 0 (synchronous), no divergence, never two writers.
At the end pd-db leads again and the cluster is healthy (later tests may use the database).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from labkit import LabEnv

from simpul.lab import orchestrate, servers

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
SIMPUL = [sys.executable, "-m", "simpul.cli"]
CLUSTER = ("pd-db", "drc-db", "noc-witness", "noc-client")
MARKER_ROWS = 200_000


def sh(lab: LabEnv, host: str, cmd: str, timeout: float = 60) -> str:
    cp = lab.ssh(host, cmd, timeout=timeout)
    assert cp.returncode == 0, f"{host}: {cmd}: {cp.stderr.strip()[-500:]}"
    return cp.stdout


def simpul(state: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SIMPUL_STATE_DIR": str(state), "SIMPUL_INVENTORY": str(REPO / "inventory/lab"),
           "SIMPUL_KNOWN_HOSTS": str(orchestrate.state().known_hosts)}
    return subprocess.run([*SIMPUL, *args], capture_output=True, text=True, timeout=timeout, env=env,
                          check=False)


def status(state: Path) -> tuple[int, list[dict[str, Any]]]:
    cp = simpul(state, "drc", "status", "--json", timeout=120)
    return cp.returncode, json.loads(cp.stdout or "[]")


def wait_healthy(state: Path, leader: str | None = None, timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        rc, st = status(state)
        if rc == 0 and st and (leader is None or st[0]["leader"] == leader):
            return st[0]
        assert time.monotonic() < deadline, f"cluster not healthy: {st}"
        time.sleep(3)


def marker_digest(lab: LabEnv, host: str) -> str:
    return sh(lab, host, "sudo -u postgres psql -XAtq -d drc_adopt_marker -c "
                         "\"SELECT count(*) || ':' || md5(string_agg(x::text || p, ',' ORDER BY x)) FROM m\"").strip()


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("drc-state")


@pytest.fixture(scope="module")
def lab(lab_env: LabEnv, state: Path) -> Iterator[LabEnv]:
    """Fresh cluster servers, data in pd-db's own Debian cluster, the database servers hardened."""
    if not lab_env.servers:
        pytest.skip("the lab has no servers")
    for name in CLUSTER:
        servers.reset_server(name, lab_env.st.root)
    orchestrate.up(lab_env.inv, st=lab_env.st)
    sh(lab_env, "pd-db", "sudo pg_ctlcluster 15 main start && sudo -u postgres createdb drc_adopt_marker && "
                         "sudo -u postgres psql -Xq -d drc_adopt_marker -c \"CREATE TABLE m AS SELECT x, "
                         f"md5(x::text) AS p FROM generate_series(1, {MARKER_ROWS}) x\"")
    cp = simpul(state, "harden", "apply", "--limit", "pd-db,drc-db,noc-witness", "--apply")
    assert cp.returncode == 0, cp.stdout[-2000:] + cp.stderr[-2000:]
    (state / "audit-before.json").write_text(json.dumps(audit(state)))
    yield lab_env
    # leave the cluster healthy with pd-db leading (later tests may use the database)
    _, st = status(state)
    if st and st[0]["leader"] not in (None, "pd-db"):
        simpul(state, "drill", "failover", "-s", "simpeg", "--failback", "--execute", "-q")
    wait_healthy(state, "pd-db")


def audit(state: Path) -> dict[str, list[str]]:
    """Failing hardening controls per cluster server (``simpul harden audit``)."""
    cp = simpul(state, "harden", "audit", "--limit", "pd-db,drc-db,noc-witness", "--json")
    data = json.loads(cp.stdout)
    assert all(h["reachable"] and not h["message"] for h in data["hosts"]), cp.stdout[-2000:]
    return {h["host"]: sorted(c["id"] for c in h["controls"] if c["status"] == "fail")
            for h in data["hosts"]}


def drill(state: Path, scenario: str, tmp: Path) -> dict[str, Any]:
    html = tmp / f"{scenario}.html"
    cp = simpul(state, "drill", "failover", "-s", "simpeg", "--scenario", scenario, "--execute",
                "--failback", "--json", "-o", str(html))
    out = json.loads(cp.stdout) if cp.stdout.strip().startswith("{") else {}
    assert out, cp.stderr[-3000:]
    report = json.loads(Path(out["json"]).read_text())
    assert html.read_text().startswith("<!DOCTYPE html>")
    assert cp.returncode == 0 and report["passed"], json.dumps(
        {k: report[k] for k in ("checks", "problems", "findings", "timeline")}, indent=1)[-4000:]
    m = report["metrics"]
    assert m["rpo_rows"] == 0 and m["lost"] == [] and m["divergent"] == []
    assert report["writable_both_s"] == 0
    assert m["acks"] > 100 and set(m["acks_by_node"]) >= {"pd-db"}
    return report


def test_deploy_adopts_the_existing_database_and_builds_the_cluster(lab: LabEnv, state: Path) -> None:
    before = marker_digest(lab, "pd-db")
    assert before.startswith(f"{MARKER_ROWS}:")
    cp = simpul(state, "drc", "plan", "--json")
    assert cp.returncode == 6, cp.stderr  # changes pending
    cp = simpul(state, "drc", "deploy", "--apply", "--json")
    assert cp.returncode == 0, cp.stdout[-3000:] + cp.stderr[-2000:]
    st = wait_healthy(state, "pd-db", timeout=60)
    assert st["leader_site"] == "pusat-data" and st["vip_on"] == ["pd-db"]
    (rep,) = st["replicas"]
    assert rep["name"] == "drc-db" and rep["sync"] and rep["lag_bytes"] == 0
    assert st["etcd"] == {"pd-db": True, "drc-db": True, "noc-witness": True}
    # adopted, not bootstrapped: the same rows on the primary and, cloned, at the DRC
    assert marker_digest(lab, "pd-db") == before
    assert marker_digest(lab, "drc-db") == before
    # Debian's own script no longer starts 15/main; Patroni's postmaster is the only one
    assert sh(lab, "pd-db", "grep -v '^#' /etc/postgresql/15/main/start.conf").strip() == "manual"
    assert sh(lab, "pd-db", "sudo -u postgres psql -XAtc 'SHOW port'").strip() == "5432"
    # the firewall openings come from the hardening controls: etcd only from the members
    rules = sh(lab, "noc-witness", "sudo nft list table inet simpul")
    assert "ip saddr { 10.199.64.13, 10.199.65.11, 10.199.66.11 } tcp dport 2379 accept" in rules
    # the operations log has one record per host
    log = [json.loads(x) for x in (state / "oplog.jsonl").read_text().splitlines()]
    assert {r["target"] for r in log if r["action"] == "drc.deploy"} >= {"pd-db", "drc-db", "noc-witness"}


def test_second_deploy_changes_nothing(lab: LabEnv, state: Path) -> None:
    cp = simpul(state, "drc", "deploy", "--apply", "--json")
    assert cp.returncode == 0, cp.stderr
    res = json.loads(cp.stdout)["simpeg"]
    assert {r["target"]: r["status"] for r in res} == {
        "pd-db": "ok", "drc-db": "ok", "noc-witness": "ok", "simpeg (cluster)": "ok"}
    assert simpul(state, "drc", "plan").returncode == 0


def test_harden_audit_still_passes_on_the_cluster_servers(lab: LabEnv, state: Path) -> None:
    # the deploy must not break a single control that passed before it (every control is
    # audited again, inside and from the management LAN: firewall, open ports, file modes, ...)
    before = json.loads((state / "audit-before.json").read_text())
    after = audit(state)
    assert after == before, f"before the deploy: {before}; after: {after}"
    # what fails already fails on every lab server without the cluster (reported to the lead):
    # FILE-04, the SUID helper of mariadb-server in the lab image
    assert all(set(f) <= {"FILE-04"} for f in after.values()), after


def test_switchover_under_load(lab: LabEnv, state: Path, tmp_path: Path) -> None:
    r = drill(state, "switchover", tmp_path)
    tk = {t["label"]: t for t in r["metrics"]["takeovers"]}
    assert tk["takeover"]["new"] == "drc-db" and tk["takeover"]["rto_s"] <= 5
    assert tk["failback"]["new"] == "pd-db" and tk["failback"]["rto_s"] <= 5
    assert r["vip_both_s"] <= 1.0


def test_crash_is_taken_over_without_a_person(lab: LabEnv, state: Path, tmp_path: Path) -> None:
    r = drill(state, "crash", tmp_path)
    tk = {t["label"]: t for t in r["metrics"]["takeovers"]}
    assert tk["takeover"]["new"] == "drc-db" and tk["takeover"]["rto_s"] <= 30
    assert tk["failback"]["rto_s"] <= 5
    assert any(e["kind"] == "rejoin" for e in r["timeline"])  # the old primary rejoined (pg_rewind)


def test_site_loss_is_taken_over_and_the_isolated_primary_stops_writing(lab: LabEnv, state: Path,
                                                                       tmp_path: Path) -> None:
    r = drill(state, "site-loss", tmp_path)
    tk = {t["label"]: t for t in r["metrics"]["takeovers"]}
    assert tk["takeover"]["new"] == "drc-db" and tk["takeover"]["rto_s"] <= 30
    # cut off from the etcd majority, pd-db demoted itself (its lease lost); drill() already
    # asserted that the two were never writable at the same time
    assert r["isolated_stopped_writing_s"] is not None
    assert r["vip_both_s"] <= 1.0


def test_partition_loses_and_splits_nothing(lab: LabEnv, state: Path, tmp_path: Path) -> None:
    r = drill(state, "partition", tmp_path)
    # the witness still sees both sites: pd-db keeps the leader key, the DRC must not promote
    assert r["metrics"]["acks_by_node"].keys() == {"pd-db"}
    assert r["metrics"]["takeovers"][0]["new"] is None
    assert r["vip_both_s"] == 0
    drc = r["samples"]["drc-db"]
    assert drc and not any(s["writable"] or s["vip"] for s in drc)


def test_cluster_survives_a_restart_of_its_servers(lab: LabEnv, state: Path) -> None:
    for name in CLUSTER[:3]:
        servers.stop_server(name, lab.st.root)
    orchestrate.up(lab.inv, st=lab.st)
    st = wait_healthy(state, timeout=180)  # whoever outlived the other leads (HA at shutdown)
    if st["leader"] != "pd-db":
        cp = simpul(state, "drill", "failover", "-s", "simpeg", "--failback", "--execute", "--json")
        assert cp.returncode == 0, cp.stdout[-2000:] + cp.stderr[-2000:]
    wait_healthy(state, "pd-db")
    assert marker_digest(lab, "drc-db").startswith(f"{MARKER_ROWS}:")


BLOCK = ("table inet simpul_test_block {\n chain i { type filter hook input priority -5; "
         "ip saddr 10.199.64.13 tcp sport 5432 drop\n }\n chain o { type filter hook output priority -5; "
         "ip daddr 10.199.64.13 tcp dport 5432 drop\n }\n}\n")


def test_drill_is_refused_when_the_replica_does_not_stream(lab: LabEnv, state: Path) -> None:
    hist = state / "drills" / "failover" / "history.jsonl"
    runs_before = hist.read_text().count("\n") if hist.exists() else 0
    cp = lab.ssh("drc-db", f"printf '{BLOCK}' | sudo nft -f -")
    assert cp.returncode == 0, cp.stderr
    try:
        deadline = time.monotonic() + 90
        while status(state)[0] != 6:
            assert time.monotonic() < deadline, "replication never looked broken"
            time.sleep(3)
        cp = simpul(state, "drill", "failover", "-s", "simpeg", "--scenario", "crash", "--execute")
        assert cp.returncode == 1
        assert "drill refused, nothing was changed" in cp.stderr
        assert "drc-db is not streaming from the leader" in cp.stderr
        # nothing changed: no drill ran, pd-db still leads, the links are up
        assert (hist.read_text().count("\n") if hist.exists() else 0) == runs_before
        _, st = status(state)
        assert st[0]["leader"] == "pd-db"
        assert all(x["state"] == "up" for x in orchestrate.status(lab.inv)["links"]
                   if x["name"] in ("wan", "noc-pd", "noc-drc"))
    finally:
        lab.ssh("drc-db", "sudo nft delete table inet simpul_test_block")
    wait_healthy(state, "pd-db")
