"""Store-and-forward, crash safety, the lock, SIGTERM, reboots and downtime — all against real
daemons on loopback (snmpd, influxd 1.x, VictoriaMetrics)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.localdaemons import InfluxdProcess, SnmpdProcess

from simpul.inventory import load_inventory
from simpul.monitoring.engine import GufoEngine
from simpul.monitoring.ledger import Ledger
from simpul.monitoring.poller import Poller, poll_lock
from simpul.monitoring.sinks import InfluxV1Sink
from simpul.monitoring.targets import build_hosts

pytestmark = pytest.mark.slow


def run_cli(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simpul.cli", *args], env=env,
                          capture_output=True, text=True, timeout=timeout)


class FakeClock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def counts_by_time(ix: InfluxdProcess, db: str) -> dict[int, int]:
    res = ix.query(db, "SELECT sysUpTime, device FROM snmp")
    out: dict[int, int] = {}
    for t, *_ in res["results"][0].get("series", [{"values": []}])[0]["values"]:
        out[t] = out.get(t, 0) + 1
    return out


def test_influx_down_for_several_cycles_loses_nothing(tmp_path: Path, snmpd, make_inventory) -> None:  # type: ignore[no-untyped-def]
    inv = load_inventory(make_inventory(tmp_path, snmpd))
    hosts = build_hosts(inv, icmp="none")
    ix = InfluxdProcess(tmp_path / "ix", port=19186, rpc_port=19188).start()
    try:
        clock = FakeClock(1_790_000_000.0)
        poller = Poller(hosts, GufoEngine(), tmp_path / "state", [InfluxV1Sink(ix.url, "outage")],
                        clock=clock)
        stamps = []

        def cycle() -> dict:  # type: ignore[type-arg]
            rep = asyncio.run(poller.cycle())
            stamps.append(rep.timestamp)
            clock.t += 60
            return rep.flush[0].__dict__

        assert cycle()["pending_lines"] == 0
        ix.stop()
        for _ in range(3):
            f = cycle()
            assert f["error"] and "unreachable" in f["error"]
        assert f["pending_batches"] == 3
        poller.close()
        # the poller restarts too (new process state, same state dir), then influxd returns
        ix.start()
        poller = Poller(hosts, GufoEngine(), tmp_path / "state", [InfluxV1Sink(ix.url, "outage")],
                        clock=clock)
        f = cycle()
        assert f["error"] is None and f["pending_lines"] == 0 and f["delivered_batches"] == 4
        poller.close()
        # every cycle exactly once per device, in the right order of time
        assert counts_by_time(ix, "outage") == {t: 5 for t in stamps}
    finally:
        ix.stop()


CRASH_AFTER_ACK = r"""
import os, sys
from pathlib import Path
from simpul.monitoring.outbox import Outbox
from simpul.monitoring.sinks import sink_from_url
box = Outbox(Path(sys.argv[1]))
real = sink_from_url(sys.argv[2])
class CrashAfterAck:
    name = real.name
    def write(self, lines):
        real.write(lines)      # the sink acknowledged ...
        os._exit(9)            # ... and the poller dies before it could delete the batch
box.flush(CrashAfterAck())
"""


def test_killed_after_delivery_and_restarted_duplicates_nothing(tmp_path: Path, influxd, victoria) -> None:  # type: ignore[no-untyped-def]
    from simpul.monitoring.outbox import Outbox

    db = "crash"
    urls = [f"influx-v1+{influxd.url}?db={db}", f"influx-v2+{victoria.url}?bucket={db}&org=x"]
    box_path = tmp_path / "outbox.sqlite"
    lines = [f"crash_snmp,device=d{i} sysUpTime={100 + i}i 1790000000" for i in range(3)]
    box = Outbox(box_path)
    from simpul.monitoring.sinks import sink_from_url

    sinks = [sink_from_url(u) for u in urls]
    box.put([s.name for s in sinks], lines)
    box.close()
    for u in urls:
        r = subprocess.run([sys.executable, "-c", CRASH_AFTER_ACK, str(box_path), u])
        assert r.returncode == 9
    box = Outbox(box_path)
    assert box.pending() == (2, 6)  # still queued: the crash came before the delete
    for s in sinks:
        assert box.flush(s).delivered_lines == 3  # delivered a second time
    res = influxd.query(db, "SELECT count(sysUpTime) FROM crash_snmp GROUP BY device")
    assert [s["values"][0][1] for s in res["results"][0]["series"]] == [1, 1, 1]
    series = victoria.export('{__name__="crash_snmp_sysUpTime"}')
    assert sorted(len(s["values"]) for s in series) == [1, 1, 1]


def test_poller_sigkilled_mid_run_and_restarted_keeps_every_cycle_once(tmp_path: Path, snmpd, influxd, make_inventory) -> None:  # type: ignore[no-untyped-def]
    inv = make_inventory(tmp_path, snmpd)
    env = {**os.environ, "SIMPUL_STATE_DIR": str(tmp_path / "state"), "SIMPUL_INVENTORY": str(inv)}
    sink = f"influx-v1+{influxd.url}?db=kill"
    p = subprocess.Popen([sys.executable, "-m", "simpul.cli", "--json", "poll", "--interval", "1",
                          "--icmp", "none", "--sink", sink], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(3.5)
    finally:
        p.send_signal(signal.SIGKILL)  # no clean shutdown at all
        out, _ = p.communicate(timeout=10)
    reported = [json.loads(c)["timestamp"] for c in out.replace("}\n{", "}\x00{").split("\x00") if c.strip()]
    r = run_cli(env, "--json", "poll", "--once", "--icmp", "none", "--sink", sink)
    assert r.returncode == 0, r.stderr
    reported.append(json.loads(r.stdout)["timestamp"])
    counts = counts_by_time(influxd, "kill")
    # every reported cycle is there exactly once per device; a cycle cut by the kill may or may
    # not have been committed, but never twice
    assert all(counts.get(t) == 5 for t in reported)
    assert set(counts.values()) == {5}


def test_two_poll_once_runs_one_polls_the_other_exits_with_a_message(tmp_path: Path, snmpd, make_inventory) -> None:  # type: ignore[no-untyped-def]
    import socket

    from conftest import AGENTS

    # a silent "agent": the port is open (no ICMP port-unreachable), nothing ever answers, so
    # every cycle waits for its timeouts (~2 s)
    hole = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    hole.bind(("127.0.0.98", 19161))
    hosts = {**AGENTS, "dead-1": ("127.0.0.98", "dinkes", "device", "2c")}
    inv = make_inventory(tmp_path, snmpd, hosts)
    env = {**os.environ, "SIMPUL_STATE_DIR": str(tmp_path / "state"), "SIMPUL_INVENTORY": str(inv)}
    argv = [sys.executable, "-m", "simpul.cli", "poll", "--once", "--icmp", "none", "--timeout", "1"]
    a = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.2)
    b = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    outs = [(x.wait(30), *x.communicate()) for x in (a, b)]
    skipped = [o for o in outs if "poll skipped: another 'simpul poll' is running" in o[2]]
    polled = [o for o in outs if o[1].startswith("cycle ")]
    assert len(skipped) == 1 and len(polled) == 1, outs
    assert skipped[0][0] == 0  # cron stays quiet
    assert polled[0][0] == 5  # partial: dead-1 did not answer
    assert "dead-1" in polled[0][1]
    # and while a long-running poller holds the lock, --once also steps aside
    with poll_lock(tmp_path / "state"):
        r = run_cli(env, "poll", "--once", "--icmp", "none")
    assert r.returncode == 0 and f"pid {os.getpid()}" in r.stderr
    hole.close()


def test_sigterm_stops_the_service_cleanly(tmp_path: Path, snmpd, make_inventory) -> None:  # type: ignore[no-untyped-def]
    inv = make_inventory(tmp_path, snmpd)
    env = {**os.environ, "SIMPUL_STATE_DIR": str(tmp_path / "state"), "SIMPUL_INVENTORY": str(inv)}
    p = subprocess.Popen([sys.executable, "-m", "simpul.cli", "-v", "poll", "--interval", "30",
                          "--icmp", "none"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not (tmp_path / "state" / "ledger.sqlite").exists():
        time.sleep(0.1)
    time.sleep(1.0)  # first cycle done, now sleeping until the next 30 s boundary
    t0 = time.monotonic()
    p.send_signal(signal.SIGTERM)
    rc = p.wait(15)
    _, err = p.communicate()
    assert rc == 0, err
    assert time.monotonic() - t0 < 5
    assert re.search(r"poll: stopped after \d+ cycle", err)
    assert Ledger(tmp_path / "state" / "ledger.sqlite").load_state()  # state was saved


def test_snmpd_restart_is_a_reboot_not_a_traffic_spike(tmp_path: Path, make_inventory) -> None:  # type: ignore[no-untyped-def]
    agent = SnmpdProcess(tmp_path / "agent", addresses=["127.0.0.31"], port=19162).start()
    try:
        inv = load_inventory(make_inventory(tmp_path, agent, {"opd-r": ("127.0.0.31", "dinkes", "device", "3")},
                                            port=19162))
        poller = Poller(build_hosts(inv, icmp="none"), GufoEngine(), tmp_path / "state")
        r1 = asyncio.run(poller.cycle())
        assert r1.polls[0].ok
        time.sleep(1.2)
        agent.stop()
        agent.start()  # uptime resets, snmpEngineBoots goes up (persistent dir kept)
        time.sleep(1.2)
        r2 = asyncio.run(poller.cycle())
        kinds = [e.kind for e in r2.events]
        assert "reboot" in kinds, (r1.polls[0].clock, r2.polls[0].clock, r2.events)
        st = poller.ledger.load_state()["opd-r"]
        assert st["clock"]["engine_boots"] == r1.polls[0].scalars["snmp"]["snmpEngineBoots"] + 1
        time.sleep(1.2)
        r3 = asyncio.run(poller.cycle())
        assert "reboot" not in [e.kind for e in r3.events]
        reboots = [e for e in poller.ledger.events(0, 2e10) if e.kind == "reboot"]
        assert len(reboots) == 1 and "snmpEngineBoots" in reboots[0].detail
        poller.close()
    finally:
        agent.stop()


def test_desa_cut_counts_as_downtime_and_maintenance_does_not(tmp_path: Path, make_inventory) -> None:  # type: ignore[no-untyped-def]
    agent = SnmpdProcess(tmp_path / "agent", addresses=["127.0.0.32", "127.0.0.33"], port=19163).start()
    try:
        hosts = {"desa-kemloko": ("127.0.0.32", "desa-kemloko", "device", "2c"),
                 "pd-sid": ("127.0.0.33", "pusat-data", "server", "3")}
        services = {"sid": {"name": "Sistem Informasi Desa", "owner": "dinkes", "servers": ["pd-sid"],
                            "availability_target": 99.9, "rto": "4h", "rpo": "1h",
                            "maintenance": [{"at": "2026-10-07T10:12:00+07:00", "duration": "3m"}]}}
        inv_dir = make_inventory(tmp_path, agent, hosts, port=19163, services=services)
        inv = load_inventory(inv_dir)
        from datetime import datetime
        from zoneinfo import ZoneInfo

        t0 = datetime(2026, 10, 7, 10, 0, tzinfo=ZoneInfo("Asia/Jakarta")).timestamp()
        clock = FakeClock(t0)
        # ICMP to a loopback address cannot be cut, so this "link cut" stops the agent and polls
        # without ICMP; the ping path is covered by the fping parser tests.
        poller = Poller(build_hosts(inv, icmp="none", timeout=0.3, retries=0), GufoEngine(),
                        tmp_path / "state", clock=clock)
        cut = set(range(5, 10)) | set(range(12, 17))  # 5 min, then 5 min with 3 min maintenance
        for k in range(20):
            clock.t = t0 + 60 * k
            if k in cut and agent.proc and agent.proc.poll() is None:
                agent.stop()
            elif k not in cut and (agent.proc is None or agent.proc.poll() is not None):
                agent.start()
            rep = asyncio.run(poller.cycle())
            assert rep.availability["desa-kemloko"] is (k not in cut)
        poller.close()
    finally:
        agent.stop()
    env = {**os.environ, "SIMPUL_STATE_DIR": str(tmp_path / "state"), "SIMPUL_INVENTORY": str(inv_dir)}

    def report(by: str) -> dict[str, dict]:  # type: ignore[type-arg]
        r = run_cli(env, "--json", "sla", "report", "--month", "2026-10", "--by", by)
        assert r.returncode == 0, r.stderr
        return {row["entity"]: row for row in json.loads(r.stdout)["rows"]}

    desa = report("desa")["desa-kemloko"]
    assert desa["downtime_min"] == pytest.approx(10.0)
    assert desa["incidents"] == 2
    assert report("service")["sid"]["downtime_min"] == pytest.approx(7.0)
    assert report("service")["sid"]["maintenance_min"] == pytest.approx(3.0)
    dev = report("device")
    assert dev["desa-kemloko"]["downtime_min"] == pytest.approx(10.0)
    assert dev["pd-sid"]["downtime_min"] == pytest.approx(7.0)
    html_path = tmp_path / "sla.html"
    r = run_cli(env, "sla", "report", "--month", "2026-10", "--by", "desa", "--format", "html",
                "--lang", "en", "-o", str(html_path))
    assert r.returncode == 0 and "desa-kemloko" in html_path.read_text()
