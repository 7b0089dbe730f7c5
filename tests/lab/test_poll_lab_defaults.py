"""``simpul poll --once`` on the running lab needs no flags: the lab publishes its own stores
(``simpul.labinfo``, ``<lab dir>/published.json``) and the poller delivers there (issue 9 #7)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from labkit import LabEnv

from simpul import labinfo
from simpul.lab import orchestrate

pytestmark = pytest.mark.lab


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read().decode()


def test_poll_once_on_the_running_lab_needs_no_flags(lab_env: LabEnv, tmp_path: Path) -> None:
    info = labinfo.published()
    assert info and len(info["sinks"]) == 2, info  # influxd and VictoriaMetrics
    env = {k: v for k, v in os.environ.items() if k != "SIMPUL_SINKS"}
    env.update(SIMPUL_STATE_DIR=str(tmp_path / "state"), SIMPUL_CONFIG=os.devnull,
               SIMPUL_INVENTORY=str(orchestrate.default_inventory()))
    r = subprocess.run([sys.executable, "-m", "simpul.cli", "--json", "poll", "--once"], env=env,
                       cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stderr
    assert "no sink given" not in r.stderr
    rep = json.loads(r.stdout)
    hosts = set(lab_env.topo.routers) | set(lab_env.topo.servers)
    assert rep["snmp"]["polled"] == rep["snmp"]["ok"] == len(hosts)
    assert rep["waiting_for_sink"] == 0
    assert len(rep["sinks"]) == 2
    for s in rep["sinks"]:
        assert (s["error"], s["pending_lines"], s["delivered_lines"]) == (None, 0, rep["lines"]), s
    ts = rep["timestamp"]

    # the points are in the lab's own stores
    v1 = next(u for u in info["sinks"] if u.startswith("influx-v1+"))
    parts = urllib.parse.urlsplit(v1.split("+", 1)[1])
    db = urllib.parse.parse_qs(parts.query)["db"][0]
    q = urllib.parse.urlencode({"db": db, "epoch": "s",
                                "q": f"SELECT last(sysUpTime) FROM snmp WHERE time = {ts}s GROUP BY device"})
    res = json.loads(_get(f"http://{parts.netloc}/query?{q}"))["results"][0]
    assert {s["tags"]["device"] for s in res.get("series", [])} == hosts, res
    v2 = next(u for u in info["sinks"] if u.startswith("influx-v2+"))
    vm = urllib.parse.urlsplit(v2.split("+", 1)[1]).netloc
    got: set[str] = set()
    deadline = time.monotonic() + 15
    while got != hosts and time.monotonic() < deadline:  # VictoriaMetrics flushes every second
        qs = urllib.parse.urlencode({"match[]": '{__name__="snmp_sysUpTime"}', "start": ts, "end": ts})
        got = {json.loads(ln)["metric"]["device"] for ln in _get(f"http://{vm}/api/v1/export?{qs}").splitlines()
               if ln.strip()}
        time.sleep(0.3)
    assert got == hosts
