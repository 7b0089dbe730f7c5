"""The poller against real net-snmp snmpd agents on loopback (v2c and v3 authPriv SHA/AES128),
cross-checked with net-snmp's own snmpget/snmpwalk, writing into real influxd 1.x and
VictoriaMetrics (/api/v2/write)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pydantic import SecretStr

from simpul.monitoring.devicepoll import poll_cycle, poll_device
from simpul.monitoring.engine import GufoEngine, PysnmpEngine, SnmpTarget
from simpul.monitoring.profiles import plan_for_platform

pytestmark = pytest.mark.slow

PORT = 19161


def _v2(agent, addr: str = "127.0.0.22", name: str = "v2") -> SnmpTarget:  # type: ignore[no-untyped-def]
    return SnmpTarget(name, addr, PORT, community=SecretStr(agent.community))


def _v3(agent, addr: str = "127.0.0.21", name: str = "v3", **kw) -> SnmpTarget:  # type: ignore[no-untyped-def]
    return SnmpTarget(name, addr, PORT, version="3", user=agent.v3_user,
                      auth_key=SecretStr(kw.get("auth", agent.auth_key)),
                      priv_key=SecretStr(agent.priv_key), timeout=kw.get("timeout", 2.0))


def netsnmp(agent, *args: str) -> str:  # type: ignore[no-untyped-def]
    env = {**os.environ, "SNMP_PERSISTENT_DIR": str(agent.persist)}
    return subprocess.run(args, capture_output=True, text=True, check=True, env=env).stdout


def walk_values(agent, addr: str, oid: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    out = netsnmp(agent, "snmpwalk", "-v3", "-l", "authPriv", "-u", agent.v3_user, "-a", "SHA",
                  "-A", agent.auth_key, "-x", "AES", "-X", agent.priv_key, "-m", "",
                  "-Oq", "-On", f"{addr}:{PORT}", oid)
    res = {}
    for ln in out.splitlines():
        k, _, v = ln.partition(" ")
        res[k.lstrip(".")[len(oid) + 1:]] = v.strip().strip('"')
    return res


@pytest.mark.parametrize("engine_cls", [GufoEngine, PysnmpEngine])
@pytest.mark.parametrize("version", ["2c", "3"])
def test_values_agree_with_net_snmp(snmpd, engine_cls, version) -> None:  # type: ignore[no-untyped-def]
    target = _v2(snmpd) if version == "2c" else _v3(snmpd)

    async def go():  # type: ignore[no-untyped-def]
        eng = engine_cls()
        try:
            return await poll_device(eng, target, plan_for_platform("server"))
        finally:
            await eng.close()

    p = asyncio.run(go())
    assert p.ok, p.error
    names = walk_values(snmpd, target.address, "1.3.6.1.2.1.31.1.1.1.1")
    assert {i: r["ifName"] for i, r in p.tables["interface"].items()} == names
    speeds = walk_values(snmpd, target.address, "1.3.6.1.2.1.31.1.1.1.15")
    assert {i: str(r["ifHighSpeed"]) for i, r in p.tables["interface"].items()} == speeds
    assert p.scalars["snmp"]["sysName"] == snmpd.sys_name
    storage = walk_values(snmpd, target.address, "1.3.6.1.2.1.25.2.3.1.3")
    assert {i: r["hrStorageDescr"] for i, r in p.tables["hrStorage"].items()} == storage
    # counters only grow between our poll and net-snmp's read of the same agent
    octets = walk_values(snmpd, target.address, "1.3.6.1.2.1.31.1.1.1.6")
    for i, r in p.tables["interface"].items():
        assert 0 <= int(octets[i]) - r["ifHCInOctets"] < 10**9
    boots = netsnmp(snmpd, "snmpget", "-v2c", "-c", snmpd.community, "-Oqv", "-m", "",
                    f"{target.address}:{PORT}", "1.3.6.1.6.3.10.2.1.2.0").strip()
    assert p.scalars["snmp"]["snmpEngineBoots"] == int(boots)


def test_failing_devices_never_stop_the_cycle(snmpd) -> None:  # type: ignore[no-untyped-def]
    plan = plan_for_platform("minimal")
    targets = [
        _v2(snmpd, name="good-v2"),
        _v3(snmpd, name="good-v3"),
        _v3(snmpd, name="wrong-key", auth="not-the-key", timeout=0.5),
        SnmpTarget("no-agent", "127.0.0.99", PORT, community=SecretStr("x"), timeout=0.3, retries=1),
        SnmpTarget("wrong-community", "127.0.0.22", PORT, community=SecretStr("nope"), timeout=0.3,
                   retries=0),
    ]
    t0 = time.monotonic()
    results = asyncio.run(poll_cycle(GufoEngine(), targets, {t.name: plan for t in targets},
                                     concurrency=2))
    polls = [r.value for r in results]
    by = {p.target: p for p in polls}
    # each device's result says what a user sees: ok, refused credentials, or unreachable
    assert {r.target: str(r.status) for r in results} == {
        "good-v2": "ok", "good-v3": "ok", "wrong-key": "failed", "no-agent": "unreachable",
        "wrong-community": "unreachable"}
    assert by["good-v2"].ok and by["good-v3"].ok
    assert not by["wrong-key"].ok and "authentication" in (by["wrong-key"].error or "")
    assert not by["no-agent"].ok and "2 attempt" in (by["no-agent"].error or "")
    # v2c: a wrong community is silence, so it looks like no agent at all
    assert not by["wrong-community"].ok and by["wrong-community"].error_kind == "timeout"
    assert time.monotonic() - t0 < 10
    # no secret ever shows in a result or a repr
    assert "not-the-key" not in repr(targets[2]) and snmpd.priv_key not in str(polls)


def run_cli(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simpul.cli", *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture
def env(tmp_path: Path, snmpd, make_inventory) -> dict[str, str]:  # type: ignore[no-untyped-def]
    inv = make_inventory(tmp_path, snmpd)
    return {**os.environ, "SIMPUL_STATE_DIR": str(tmp_path / "state"), "SIMPUL_INVENTORY": str(inv)}


def test_poll_once_writes_telegraf_schema_to_influx_v1_and_v2(env, influxd, victoria) -> None:  # type: ignore[no-untyped-def]
    db = "t_once"
    v1 = f"influx-v1+{influxd.url}?db={db}"
    v2 = f"influx-v2+{victoria.url}?bucket={db}&org=simpul"
    stamps = []
    for _ in range(2):
        r = run_cli(env, "--json", "poll", "--once", "--sink", v1, "--sink", v2)
        assert r.returncode == 0, r.stderr
        import json

        rep = json.loads(r.stdout)
        assert rep["snmp"] == {"polled": 5, "ok": 5, "failed": {}}
        assert all(s["pending_lines"] == 0 and s["error"] is None for s in rep["sinks"])
        stamps.append(rep["timestamp"])
        time.sleep(1.1)
    res = influxd.query(db, "SELECT count(sysUpTime) FROM snmp GROUP BY device")
    counts = {s["tags"]["device"]: s["values"][0][1] for s in res["results"][0]["series"]}
    assert counts == {"core-1": 2, "opd-dinkes": 2, "desa-kemloko": 2, "pd-app": 2, "pd-db": 2}
    res = influxd.query(db, "SHOW TAG KEYS FROM interface")
    keys = {v[0] for v in res["results"][0]["series"][0]["values"]}
    assert {"agent_host", "ifName", "ifIndex", "site", "site_type", "role", "device"} <= keys
    res = influxd.query(db, "SELECT last(in_bps) FROM interface_rate WHERE ifName='lo' GROUP BY device")
    assert len(res["results"][0]["series"]) == 5  # second cycle produced rates
    res = influxd.query(db, "SELECT percent_packet_loss FROM ping")
    assert res["results"][0]["series"][0]["values"][0][1] == 0  # desa-kemloko answered pings
    series = victoria.export('{__name__="snmp_sysUpTime"}')
    assert sorted(s["metric"]["device"] for s in series) == ["core-1", "desa-kemloko", "opd-dinkes",
                                                             "pd-app", "pd-db"]
    assert all(sorted(t // 1000 for t in s["timestamps"]) == sorted(stamps) for s in series)
