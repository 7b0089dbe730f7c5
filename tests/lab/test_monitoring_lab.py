"""Monitoring against the real lab: issue 5's "Done when", proved on the lab's own agents.

Every test talks to what ``simpul lab up`` built: the 9 FRR routers' and 5 Debian servers'
snmpd (v2c + v3 authPriv) on 169.254.100.x, the lab's InfluxDB 1.6 (127.0.0.1:18086) and
VictoriaMetrics (127.0.0.1:18428). Link cuts are real (``simpul.lab.wan``: the radio link's
interfaces go down, OSPF drops the route); the desa probe runs in the core router's namespace,
the lab's NOC probe point, because the root namespace has no route into 10.199.0.0/16.

Time compression: where minutes matter (downtime, maintenance, an InfluxDB outage of several
cycles) the poller's clock is a test clock that advances 60 s per cycle, while each cycle really
polls the lab. Counter rates and reboot detection use the agents' real clocks either way.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from labkit import LabEnv
from pydantic import SecretStr

from simpul import labinfo
from simpul.lab import netns as nx
from simpul.lab import noc, orchestrate, routers, wan
from simpul.lab.topology import router_ns
from simpul.monitoring.devicepoll import DevicePoll, poll_device
from simpul.monitoring.engine import SnmpTarget, make_engine
from simpul.monitoring.poller import CycleReport, Poller
from simpul.monitoring.sinks import sink_from_url
from simpul.monitoring.targets import HostRef, build_hosts

pytestmark = pytest.mark.lab

INFLUX = "http://127.0.0.1:18086"
VM = "http://127.0.0.1:18428"
CORE_NS = router_ns("core-1")
SYS_UPTIME, SYS_NAME = "1.3.6.1.2.1.1.3.0", "1.3.6.1.2.1.1.5.0"
SNMP_ENGINE_BOOTS = "1.3.6.1.6.3.10.2.1.2.0"
IF_NAME, IF_HC_IN = "1.3.6.1.2.1.31.1.1.1.1", "1.3.6.1.2.1.31.1.1.1.6"
WIB = ZoneInfo("Asia/Jakarta")
# the lab servers' init scripts cannot stop snmpd (start-stop-daemon's --exec check fails on
# the overlay root), so the test stops it by the PID in its pidfile
SERVER_SNMPD_STOP = ("sudo sh -c 'pid=$(cat /run/snmpd.pid) && kill $pid && "
                     "while kill -0 $pid 2>/dev/null; do sleep 0.05; done'")
SERVER_SNMPD_START = "sudo /etc/init.d/snmpd start"


# --- helpers ----------------------------------------------------------------------------------


class FakeClock:
    """The poller's clock in time-compressed tests: set by the test, 60 s per cycle."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class CaptureSink:
    """Keeps every delivered batch in memory (to look at the lines of one cycle)."""

    name = "capture"

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def write(self, lines: Sequence[str]) -> None:
        self.batches.append(list(lines))


def parse_line(ln: str) -> tuple[str, dict[str, str], dict[str, str], int]:
    """Line protocol → (measurement, tags, raw fields, timestamp); enough for our own lines."""
    head, fields, ts = re.match(r"^((?:[^ \\]|\\.)+) ((?:[^ \\\"]|\\.|\"(?:[^\"\\]|\\.)*\")+) (\d+)$",
                                ln).groups()  # type: ignore[union-attr]
    meas, *tags = re.split(r"(?<!\\),", head)
    return (meas, dict(t.split("=", 1) for t in tags),
            dict(f.split("=", 1) for f in re.split(r",(?=[A-Za-z_]+=)", fields)), int(ts))


def cycle(poller: Poller) -> CycleReport:
    return asyncio.run(poller.cycle())


def cli_env(state: Path) -> dict[str, str]:
    return {**os.environ, "SIMPUL_STATE_DIR": str(state),
            "SIMPUL_INVENTORY": str(orchestrate.default_inventory())}


def simpul(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simpul.cli", *args], env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


def influx(db: str, q: str) -> list[dict[str, Any]]:
    """InfluxQL against the lab's influxd; the series of the first statement."""
    url = f"{INFLUX}/query?" + urllib.parse.urlencode({"db": db, "q": q, "epoch": "s"})
    with urllib.request.urlopen(url, timeout=10) as r:
        res = json.loads(r.read())["results"][0]
    assert "error" not in res, res
    return list(res.get("series", []))


def influx_times(db: str) -> Counter[int]:
    """How many ``snmp`` points each timestamp has (one per device per cycle)."""
    out: Counter[int] = Counter()
    for s in influx(db, "SELECT sysUpTime, device FROM snmp"):
        out.update(v[0] for v in s["values"])
    return out


def vm_export(match: str, start: int, end: int) -> list[dict[str, Any]]:
    q = urllib.parse.urlencode({"match[]": match, "start": start, "end": end})
    with urllib.request.urlopen(f"{VM}/api/v1/export?{q}", timeout=10) as r:
        return [json.loads(x) for x in r.read().decode().splitlines() if x.strip()]


def vm_wait(match: str, start: int, end: int, want: int, timeout: float = 15) -> list[dict[str, Any]]:
    """Export until ``want`` samples are searchable (VictoriaMetrics flushes about every second)."""
    deadline = time.monotonic() + timeout
    while True:
        series = vm_export(match, start, end)
        if sum(len(s["values"]) for s in series) >= want or time.monotonic() > deadline:
            return series
        time.sleep(0.3)


def vm_free_start(n: int, step: int = 60) -> int:
    """A test-clock start ~10 days back where VictoriaMetrics holds no ``snmp`` sample yet
    (it has no buckets: earlier runs' points share the store)."""
    t0 = int(time.time()) - 10 * 86400
    while vm_export('{__name__="snmp_sysUpTime"}', t0 - 1, t0 + n * step + 1):
        t0 -= 3 * 3600 + 7
    return t0


def wait_until(pred: Any, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def snmp_cli(lab_env: LabEnv, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """``snmp_cli(tool, version, ip, *oids)`` → {numeric oid: value} from net-snmp."""
    persist = tmp_path_factory.mktemp("net-snmp")  # net-snmp clients write nothing to /var/lib/snmp
    v2 = ["-v2c", "-c", lab_env.secret("snmp-community")]
    v3 = ["-v3", "-l", "authPriv", "-u", "simpul", "-a", "SHA", "-A", lab_env.secret("snmp-auth"),
          "-x", "AES", "-X", lab_env.secret("snmp-priv")]

    def run(tool: str, version: str, ip: str, *oids: str, check: bool = True) -> dict[str, str]:
        cp = subprocess.run([tool, *(v2 if version == "2c" else v3), "-m", "", "-Onqet", "-t", "1",
                             "-r", "1", ip, *oids], capture_output=True, text=True, timeout=30,
                            env={**os.environ, "SNMP_PERSISTENT_DIR": str(persist)}, check=False)
        if check:
            assert cp.returncode == 0, f"{tool} {ip}: {cp.stderr}"
        out = {}
        for ln in cp.stdout.splitlines():
            oid, _, val = ln.partition(" ")
            out[oid.lstrip(".")] = val.strip().strip('"')
        return out

    return run


@pytest.fixture(scope="module")
def hosts(lab_env: LabEnv) -> list[HostRef]:
    """Every lab router and server, as ``simpul poll`` builds them from inventory/lab."""
    want = set(lab_env.topo.routers) | (set(lab_env.topo.servers) if lab_env.servers else set())
    hs = [h for h in build_hosts(lab_env.inv, icmp="none") if h.name in want]
    assert {h.name for h in hs} == want and all(h.snmp for h in hs)
    return hs


def _target(h: HostRef, version: str, lab_env: LabEnv) -> SnmpTarget:
    assert h.snmp is not None and h.snmp.version == "3"  # the lab inventory polls with v3
    if version == "3":
        return h.snmp
    return replace(h.snmp, version="2c", community=SecretStr(lab_env.secret("snmp-community")),
                   user=None, auth_key=None, priv_key=None)


# --- 1. every host, v2c and v3, both engines, values agree with net-snmp -----------------------


@pytest.mark.parametrize("engine", ["gufo", "pysnmp"])
@pytest.mark.parametrize("version", ["2c", "3"])
def test_every_host_polled_agrees_with_net_snmp(lab_env: LabEnv, hosts: list[HostRef], snmp_cli: Any,
                                                engine: str, version: str) -> None:
    names = {h.name: snmp_cli("snmpwalk", version, h.address, IF_NAME) for h in hosts}

    async def run() -> dict[str, tuple[dict[str, str], DevicePoll, dict[str, str], str]]:
        eng = make_engine(engine)
        out = {}
        try:
            for h in hosts:
                assert h.plan is not None
                # the interface that carries traffic: the busiest non-loopback one
                walk = snmp_cli("snmpwalk", version, h.address, IF_HC_IN)
                idx = max((o.rsplit(".", 1)[1] for o in walk
                           if names[h.name].get(f"{IF_NAME}.{o.rsplit('.', 1)[1]}") != "lo"),
                          key=lambda i: int(walk[f"{IF_HC_IN}.{i}"]))
                oids = (SYS_UPTIME, SYS_NAME, f"{IF_HC_IN}.{idx}")
                before = snmp_cli("snmpget", version, h.address, *oids)
                p = await poll_device(eng, _target(h, version, lab_env), h.plan)
                after = snmp_cli("snmpget", version, h.address, *oids)
                out[h.name] = (before, p, after, idx)
        finally:
            await eng.close()
        return out

    for name, (before, p, after, idx) in asyncio.run(run()).items():
        assert p.ok, f"{name} ({engine}, v{version}): {p.error}"
        snmp = p.scalars["snmp"]
        assert snmp["sysName"] == before[SYS_NAME] == name
        # counters and uptime move on between the three reads: ours must lie between net-snmp's
        assert int(before[SYS_UPTIME]) <= snmp["sysUpTime"] <= int(after[SYS_UPTIME]), name
        row = p.tables["interface"][idx]
        assert row["ifName"] == names[name][f"{IF_NAME}.{idx}"]
        assert int(before[f"{IF_HC_IN}.{idx}"]) <= row["ifHCInOctets"] <= int(after[f"{IF_HC_IN}.{idx}"])
        assert int(after[f"{IF_HC_IN}.{idx}"]) > 0, f"{name}: no traffic on {row['ifName']}"
        # every interface net-snmp walks, and no other
        assert {r["ifName"] for r in p.tables["interface"].values()} == set(names[name].values())


# --- 2. simpul poll --once delivers to influxd (InfluxQL) and VictoriaMetrics (v2 API) ----------


def test_poll_once_delivers_to_influxd_and_victoriametrics(lab_env: LabEnv, hosts: list[HostRef],
                                                           tmp_path: Path) -> None:
    db = f"simpul_labtest_{os.getpid()}_{int(time.time())}"
    r = simpul(cli_env(tmp_path / "state"), "--json", "poll", "--once",
               "--sink", f"influx-v1+{INFLUX}?db={db}", "--sink", f"influx-v2+{VM}?bucket={db}&org=simpul")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["snmp"] == {"polled": len(hosts), "ok": len(hosts), "failed": {}}
    assert rep["down"] == []
    desa = {str(d.loopback) for n, d in lab_env.inv.devices.items() if n.startswith("desa-")}
    assert set(rep["icmp"]) == desa  # the data-plane loopbacks, reached from the core namespace
    assert all(s["error"] is None and s["pending_lines"] == 0 for s in rep["sinks"]), rep["sinks"]
    ts = rep["timestamp"]

    names = {s["tags"]["device"]: s["values"][0] for s in influx(
        db, f"SELECT last(sysName), last(sysUpTime) FROM snmp WHERE time = {ts}s GROUP BY device")}
    assert {d: v[1] for d, v in names.items()} == {h.name: h.name for h in hosts}
    assert all(v[2] > 0 for v in names.values())
    ifaces = influx(db, f"SELECT count(ifHCInOctets) FROM interface WHERE time = {ts}s GROUP BY device")
    assert {s["tags"]["device"] for s in ifaces} == {h.name for h in hosts}
    pings = influx(db, "SELECT last(percent_packet_loss) FROM ping GROUP BY device, url")
    assert {s["tags"]["url"] for s in pings} == desa
    assert all(s["values"][0][1] < 100 for s in pings)

    series = vm_wait('{__name__="snmp_sysUpTime"}', ts, ts, len(hosts))
    got = {s["metric"]["device"]: s["timestamps"] for s in series}
    assert got == {h.name: [ts * 1000] for h in hosts}
    assert vm_wait('{__name__="interface_ifHCInOctets",device="core-1"}', ts, ts, 1)


# --- 3. an agent restart is a reboot, not a traffic spike --------------------------------------


def test_snmpd_restart_is_a_reboot_not_a_traffic_spike(lab_env: LabEnv, snmp_cli: Any,
                                                       tmp_path: Path) -> None:
    router = lab_env.topo.routers["opd-dpupr"]
    names = ["opd-dpupr"] + (["pd-db"] if lab_env.servers else [])
    sink = CaptureSink()
    poller = Poller(build_hosts(lab_env.inv, names, icmp="none"), make_engine("gufo"),
                    tmp_path / "state", [sink])
    r1 = cycle(poller)
    assert all(p.ok for p in r1.polls) and not r1.events
    boots = {p.target: p.scalars["snmp"]["snmpEngineBoots"] for p in r1.polls}
    time.sleep(1.1)
    # real traffic between the two polls: 60 × 1000-byte pings from the core into opd-dpupr's
    # eth0, sent before the restart (snmpd reads the interface table when it starts and caches
    # it for a few seconds)
    cp = lab_env.ns_run(CORE_NS, "ping", "-q", "-c", "60", "-i", "0.01", "-s", "1000",
                        str(router.loopback))
    assert cp.returncode == 0, cp.stdout + cp.stderr

    routers.restart_snmpd(lab_env.st, router)
    if lab_env.servers:
        cp = lab_env.ssh("pd-db", f"{SERVER_SNMPD_STOP} && {SERVER_SNMPD_START}")
        assert cp.returncode == 0, cp.stderr
    for n in names:
        ip = str(lab_env.inv.devices[n].mgmt_ip if n in lab_env.inv.devices else lab_env.inv.servers[n].mgmt_ip)
        wait_until(lambda ip=ip: snmp_cli("snmpget", "3", ip, SYS_UPTIME, check=False), f"{n}: snmpd back")
    r2 = cycle(poller)
    assert all(p.ok for p in r2.polls)
    reboots = {e.entity: e.detail for e in r2.events if e.kind == "reboot"}
    assert set(reboots) == set(names), r2.events
    assert all("snmpEngineBoots" in d for d in reboots.values()), reboots
    assert {p.target: p.scalars["snmp"]["snmpEngineBoots"] for p in r2.polls} == \
        {n: b + 1 for n, b in boots.items()}  # persistent state survives the restart

    rates = [parse_line(ln) for ln in sink.batches[-1] if ln.startswith("interface_rate,")]
    assert rates, "no rates after the restart: the kernel counters kept counting, so there must be"
    for _m, tags, fields, _ts in rates:
        for f in ("in_bps", "out_bps"):
            if f in fields:
                assert 0 <= float(fields[f]) < 1e8, f"{tags['device']} {tags['ifName']}: {f}={fields[f]}"
    eth0 = next(f for _m, t, f, _ts in rates if t["device"] == "opd-dpupr" and t["ifName"] == "eth0")
    # ~60 kB arrived in the ~2 s between the polls: hundreds of kbit/s, not a 2^64 spike
    assert 5e4 < float(eth0["in_bps"]) < 1e7, eth0

    r3 = cycle(poller)
    assert "reboot" not in {e.kind for e in r3.events}
    assert len([e for e in poller.ledger.events(0, 2e10) if e.kind == "reboot"]) == len(names)
    poller.close()


# --- 4. InfluxDB stopped for several cycles loses nothing --------------------------------------


def test_influxd_stopped_for_several_cycles_loses_nothing(lab_env: LabEnv, hosts: list[HostRef],
                                                          tmp_path: Path) -> None:
    db = f"simpul_outage_{os.getpid()}_{int(time.time())}"
    urls = [f"influx-v1+{INFLUX}?db={db}", f"influx-v2+{VM}?bucket={db}&org=simpul"]
    clock = FakeClock(vm_free_start(5))
    t0 = int(clock.t)

    def new_poller() -> Poller:
        return Poller(hosts, make_engine("gufo"), tmp_path / "state", [sink_from_url(u) for u in urls],
                      clock=clock)

    stamps: list[int] = []

    def run(p: Poller) -> dict[str, Any]:
        rep = cycle(p)
        assert len([x for x in rep.polls if x.ok]) == len(hosts)
        stamps.append(rep.timestamp)
        clock.t += 60
        return {f.sink.split(":", 1)[0]: f for f in rep.flush}

    poller = new_poller()
    try:
        assert run(poller)["influx-v1"].pending_lines == 0
        pid = noc.service_pid(lab_env.st, noc.INFLUXDB)
        assert pid, "the lab's influxd is not running"
        nx.kill_pids([pid], grace=10)  # the lab's own influxd, by its PID
        for k in range(3):
            f = run(poller)
            assert f["influx-v1"].error and "unreachable" in f["influx-v1"].error
            assert f["influx-v1"].pending_batches == k + 1
            assert f["influx-v2"].ok and f["influx-v2"].pending_lines == 0  # VictoriaMetrics is up
        poller.close()  # the poller restarts too: a new process state over the same state dir
        noc.start(lab_env.st, noc.INFLUXDB)
        noc.wait_healthy(noc.INFLUXDB)
        poller = new_poller()
        f = run(poller)
        assert f["influx-v1"].error is None and f["influx-v1"].delivered_batches == 4
        assert f["influx-v1"].pending_lines == 0
    finally:
        poller.close()
        if not noc.service_pid(lab_env.st, noc.INFLUXDB):
            noc.start(lab_env.st, noc.INFLUXDB)
            noc.wait_healthy(noc.INFLUXDB)

    # every cycle exactly once per device, in InfluxDB and in VictoriaMetrics
    assert influx_times(db) == {t: len(hosts) for t in stamps}
    series = vm_wait('{__name__="snmp_sysUpTime"}', t0, stamps[-1], len(hosts) * len(stamps))
    assert {s["metric"]["device"]: s["timestamps"] for s in series} == \
        {h.name: [t * 1000 for t in stamps] for h in hosts}


# --- 5. the poller killed mid-run and restarted duplicates nothing ------------------------------


def test_poller_killed_mid_run_and_restarted_duplicates_nothing(hosts: list[HostRef],
                                                                tmp_path: Path) -> None:
    db = f"simpul_kill_{os.getpid()}_{int(time.time())}"
    env = cli_env(tmp_path / "state")
    sink = f"influx-v1+{INFLUX}?db={db}"
    p = subprocess.Popen([sys.executable, "-m", "simpul.cli", "--json", "poll", "--interval", "1",
                          "--icmp", "none", "--sink", sink], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(2.5)
        time.sleep(1.1 - time.time() % 1)  # 0.1 s into a cycle (cycles start on whole seconds)
    finally:
        p.send_signal(signal.SIGKILL)  # no clean shutdown at all
        out, err = p.communicate(timeout=10)
    reported = []
    dec, pos = json.JSONDecoder(), 0
    while out[pos:].strip():
        obj, end = dec.raw_decode(out, pos + len(out[pos:]) - len(out[pos:].lstrip()))
        reported.append(obj["timestamp"])
        pos = end
    assert len(reported) >= 2, err
    r = simpul(env, "--json", "poll", "--once", "--icmp", "none", "--sink", sink)
    assert r.returncode == 0, r.stderr
    reported.append(json.loads(r.stdout)["timestamp"])
    counts = influx_times(db)
    # each reported cycle is there once per device; the cycle cut by the kill may or may not
    # have been committed (then it is delivered by the next run), but never twice
    assert all(counts[t] == len(hosts) for t in reported), (reported, counts)
    assert set(counts.values()) == {len(hosts)}


# --- 6. two poll --once at the same time --------------------------------------------------------


def test_two_poll_once_together_one_polls_the_other_exits_cleanly(lab_env: LabEnv, snmp_cli: Any,
                                                                   tmp_path: Path) -> None:
    # one router's agent is stopped (by its PID), so the run that polls waits for its timeouts
    # (~2 s) and holds the lock while the other starts
    router = lab_env.topo.routers["opd-bappeda"]
    pid = nx.read_pidfile(lab_env.st.router_dir(router.name) / "snmpd.pid")
    assert pid and nx.pid_alive(pid)
    nx.kill_pids([pid])
    try:
        env = cli_env(tmp_path / "state")
        argv = [sys.executable, "-m", "simpul.cli", "poll", "--once", "--timeout", "1", "--retries", "1"]
        a = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        b = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        outs = [(x.wait(60), *x.communicate()) for x in (a, b)]
    finally:
        routers.start_snmpd(lab_env.st, router)
        wait_until(lambda: snmp_cli("snmpget", "3", str(router.mgmt_ip), SYS_UPTIME, check=False),
                   "opd-bappeda: snmpd back")
    skipped = [o for o in outs if "poll skipped: another 'simpul poll' is running" in o[2]]
    polled = [o for o in outs if o[1].startswith("cycle ")]
    assert len(skipped) == 1 and len(polled) == 1, outs
    assert skipped[0][0] == 0 and skipped[0][1] == ""  # cron stays quiet: exit 0, nothing on stdout
    assert polled[0][0] == 5, polled  # partial: opd-bappeda did not answer
    assert "opd-bappeda" in polled[0][1]


# --- 7. a desa link cut is downtime; a declared maintenance window is not ----------------------


def _first_sunday_of_last_month() -> datetime:
    now = datetime.now(WIB)
    first = (now.replace(day=1) - timedelta(days=1)).replace(day=1, hour=0, minute=0, second=0,
                                                             microsecond=0)
    return first + timedelta(days=(6 - first.weekday()) % 7)


@pytest.fixture
def restore_lab(lab_env: LabEnv) -> Iterator[None]:
    yield
    wan.set_up(lab_env.st, lab_env.topo, "core-kemloko", True)
    if lab_env.servers and lab_env.ssh("pd-web", "test -s /run/snmpd.pid").returncode != 0:
        lab_env.ssh("pd-web", SERVER_SNMPD_START)


def test_desa_link_cut_is_downtime_and_maintenance_is_not(lab_env: LabEnv, tmp_path: Path,
                                                          restore_lab: None) -> None:
    desa = lab_env.inv.devices["desa-kemloko"]
    # what 'simpul poll' uses by default against the lab: the core router's namespace
    published = labinfo.for_inventory(orchestrate.default_inventory())
    assert published is not None and published["probe_netns"] == CORE_NS
    names = ["core-1", "desa-kemloko"] + (["pd-web"] if lab_env.servers else [])
    hs = build_hosts(lab_env.inv, names, icmp="desa", timeout=0.5, retries=0)
    assert [h.icmp_target for h in hs if h.icmp] == [str(desa.loopback)]
    # 00:50 WIB on a Sunday: the portal's weekly maintenance (Sun 01:00, 2 h) begins 10 min in
    start = _first_sunday_of_last_month() + timedelta(minutes=50)
    month = start.strftime("%Y-%m")
    clock = FakeClock(start.timestamp())
    poller = Poller(hs, make_engine("gufo"), tmp_path / "state", clock=clock, icmp_netns=CORE_NS)
    cut = range(3, 8)  # the radio link is down while cycles 3..7 run: 5 minutes
    web_down = range(8, 15)  # pd-web's agent is down 00:58..01:04, mostly inside maintenance

    def desa_replies() -> bool:
        return lab_env.ns_run(CORE_NS, "fping", "-q", "-r", "0", "-t", "300",
                              str(desa.loopback)).returncode == 0

    link_up = True
    for k in range(18):
        clock.t = start.timestamp() + 60 * k
        if (k in cut) == link_up:
            link_up = k not in cut
            wan.set_up(lab_env.st, lab_env.topo, "core-kemloko", link_up)
            if link_up:  # a minute passes in the NOC's world: OSPF has long converged
                wait_until(desa_replies, "desa-kemloko reachable again after the link came back")
        if lab_env.servers and k == web_down.start:
            assert lab_env.ssh("pd-web", SERVER_SNMPD_STOP).returncode == 0
        if lab_env.servers and k == web_down.stop:
            assert lab_env.ssh("pd-web", SERVER_SNMPD_START).returncode == 0
        rep = cycle(poller)
        assert rep.availability["desa-kemloko"] is (k not in cut), (k, rep.to_dict())
        # the desa's agent keeps answering over the management LAN: the data plane decides
        assert next(p for p in rep.polls if p.target == "desa-kemloko").ok
        assert rep.availability["core-1"]
        if lab_env.servers:
            assert rep.availability["pd-web"] is (k not in web_down), (k, rep.to_dict())
    poller.close()

    env = cli_env(tmp_path / "state")

    def report(by: str) -> dict[str, dict[str, Any]]:
        r = simpul(env, "--json", "sla", "report", "--month", month, "--by", by)
        assert r.returncode == 0, r.stderr
        return {row["entity"]: row for row in json.loads(r.stdout)["rows"]}

    site = report("desa")["desa-kemloko"]
    assert site["downtime_min"] == pytest.approx(5.0)
    assert site["incidents"] == 1
    assert report("device")["desa-kemloko"]["downtime_min"] == pytest.approx(5.0)
    assert report("desa")["desa-jampiroso"]["downtime_min"] == 0  # never observed: no data
    if lab_env.servers:
        # down 00:57:30..01:04:30 (midpoints), of which 01:00..01:04:30 is declared maintenance
        portal = report("service")["portal"]
        assert portal["downtime_min"] == pytest.approx(2.5)
        assert portal["incidents"] == 1
        assert report("device")["pd-web"]["downtime_min"] == pytest.approx(2.5)
    html = tmp_path / "sla.html"
    r = simpul(env, "sla", "report", "--month", month, "--by", "desa", "--format", "html", "-o", str(html))
    assert r.returncode == 0, r.stderr
    assert "desa-kemloko" in html.read_text() or "Desa Kemloko" in html.read_text()
