"""``simpul lab down`` leaves the machine as it was before ``up`` — also after a crash.

Runs last (see conftest): it takes the lab down.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from labkit import LabEnv, snapshot

from simpul.lab import netns as nx
from simpul.lab import noc, orchestrate

pytestmark = pytest.mark.lab

# Set SIMPUL_LAB_SHARED_HOST=1 where other people create namespaces at the same time; CI
# compares the full snapshots.
LAB_MARKERS = ("slab", "slm-", "10.199.", "169.254.100.", "/var/lib/simpul")

LAB_BINARIES = ("watchfrr", "zebra", "ospfd", "staticd", "sshd", "snmpd", "influxd",
                "victoria-metrics", "unshare", "init")


def _ours(entry: str) -> bool:
    # "/run/netns " is the shared bind mount 'ip netns add' makes of the directory itself
    return entry.startswith("/run/netns ") or any(m in entry for m in LAB_MARKERS)


def _simulate_a_crash(lab_env: LabEnv) -> None:
    """Leave the kind of mess a crash leaves: dead daemons, stale and lost pidfiles."""
    st = lab_env.st
    influx = noc.service_pid(st, noc.INFLUXDB)
    if influx:
        os.kill(influx, signal.SIGKILL)  # stale pidfile
    noc.pidfile(st, noc.VICTORIA).unlink(missing_ok=True)  # lost pidfile, process still runs
    wf = nx.read_pidfile(Path("/run/frr") / lab_env.topo.routers["core-1"].netns / "watchfrr.pid")
    if wf:
        os.kill(wf, signal.SIGKILL)
    (st.router_dir("opd-dinkes") / "sshd.pid").unlink(missing_ok=True)


def test_down_restores_namespaces_links_routes_mounts_and_processes(
        lab_env: LabEnv, tmp_path_factory: pytest.TempPathFactory) -> None:
    _simulate_a_crash(lab_env)
    orchestrate.down(st=lab_env.st)
    time.sleep(0.5)
    after = snapshot()
    before = lab_env.before
    shared = os.environ.get("SIMPUL_LAB_SHARED_HOST") == "1"
    for key in ("netns", "links", "routes", "mounts"):
        added, removed = after[key] - before[key], before[key] - after[key]
        if shared:
            # other people's namespaces come and go on a shared machine: judge only ours
            added, removed = {x for x in added if _ours(x)}, {x for x in removed if _ours(x)}
        assert not added and not removed, (
            f"{key}: added {sorted(added)}, removed {sorted(removed)}")
    # processes: nothing the lab started may survive (other users' processes come and go)
    state = str(lab_env.st.root)
    new = after["processes"] - before["processes"]
    # daemons that other tests' fixtures run under pytest's temp dir (tests/monitoring's
    # loopback snmpd/influxd live until the session ends) are not the lab's
    others = str(tmp_path_factory.getbasetemp())
    left = [p for p in new if others not in p and (
        state in p or "slab-" in p
        or (not shared and p.split()[1].rsplit("/", 1)[-1] in LAB_BINARIES))]
    assert not left
    # a second down is harmless
    orchestrate.down(st=lab_env.st)
