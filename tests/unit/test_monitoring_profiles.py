"""OID profiles as data, and the poller against recorded walks of every supported platform.

linux.walk was recorded from net-snmp snmpd on this machine. mikrotik_routeros.walk,
cisco_ios.walk and huawei.walk are SYNTHETIC (hand-written from the vendor MIBs): the project has
no such hardware to record from; they prove the profiles' OIDs, types and table handling, not
the devices' behaviour.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from simpul.monitoring.devicepoll import derive, poll_device, to_lines
from simpul.monitoring.engine import SnmpTarget
from simpul.monitoring.profiles import PROFILE_DIR, load_profile, plan_for_platform, platform_map
from simpul.monitoring.walkfile import WalkEngine, parse_walk

WALKS = Path(__import__("simpul.monitoring", fromlist=["x"]).__file__).parent / "fixtures" / "walks"


def _poll(platform: str, walks: list[str], name: str = "dev") -> list:  # type: ignore[type-arg]
    eng = WalkEngine.from_files({name: [WALKS / w for w in walks]})
    plan = plan_for_platform(platform)
    t = SnmpTarget(name, "192.0.2.1")
    return [asyncio.run(poll_device(eng, t, plan, now=lambda i=i: 1_000.0 + 60 * i))
            for i in range(len(walks))]


def test_every_platform_has_a_valid_plan_with_numeric_oids() -> None:
    for key in platform_map():
        plan = plan_for_platform(key)
        assert plan.oids(), key
        assert all(o.replace(".", "").isdigit() for o in plan.oids())
    for f in PROFILE_DIR.glob("*.yaml"):
        if f.stem != "platforms":
            assert load_profile(f.stem).name == f.stem


def test_interfaces_prefer_hc_counters_with_iftable_fallback() -> None:
    t = next(t for t in plan_for_platform("frr").tables if t.name == "interface")
    cols = {c.name: c for c in t.fields}
    assert cols["ifHCInOctets"].oid == "1.3.6.1.2.1.31.1.1.1.6"
    assert cols["ifHCInOctets"].fallback and cols["ifHCInOctets"].fallback.oid == "1.3.6.1.2.1.2.2.1.10"
    assert cols["ifHighSpeed"].fallback and cols["ifHighSpeed"].fallback.name == "ifSpeed"


@pytest.mark.parametrize(
    ("platform", "walk", "measurements"),
    [
        ("linux", "linux.walk", {"snmp", "interface", "hrStorageTable", "hrProcessorTable"}),
        ("mikrotik_routeros", "mikrotik_routeros.walk",
         {"snmp", "mikrotik", "interface", "hrStorageTable", "mikrotik_wireless"}),
        ("cisco_ios", "cisco_ios.walk", {"snmp", "interface", "cisco_cpu", "cisco_memory"}),
        ("huawei", "huawei.walk", {"snmp", "interface", "huawei_entity"}),
    ],
)
def test_recorded_walks_poll_into_telegraf_schema(platform: str, walk: str, measurements: set[str]) -> None:
    [p] = _poll(platform, [walk])
    assert p.ok, p.error
    lines = to_lines(p, plan_for_platform(platform), {"agent_host": "192.0.2.1", "device": "dev"}, 1)
    got = {ln.split(",", 1)[0].split(" ", 1)[0] for ln in lines}
    assert measurements <= got
    iface = [ln for ln in lines if ln.startswith("interface,")]
    assert iface and all("ifIndex=" in ln and "ifName=" in ln and "agent_host=" in ln for ln in iface)


def test_mikrotik_wireless_signal_is_read() -> None:
    [p] = _poll("mikrotik_routeros", ["mikrotik_routeros.walk"])
    (row,) = p.tables["wireless"].values()
    assert row["mtxrWlRtabStrength"] == -67
    assert p.scalars["mikrotik"]["mtxrHlTemperature"] == 385


def test_linux_walk_matches_what_net_snmp_recorded() -> None:
    data = parse_walk((WALKS / "linux.walk").read_text())
    [p] = _poll("linux", ["linux.walk"])
    assert p.scalars["snmp"]["sysName"] == data["1.3.6.1.2.1.1.5.0"].decode()  # type: ignore[union-attr]
    names = {r["ifName"] for r in p.tables["interface"].values()}
    assert names == {"lo", "ifb0", "ifb1", "eth0"}


def test_iftable_only_agent_falls_back_and_a_wrapped_counter32_gives_the_right_rate() -> None:
    p1, p2 = _poll("minimal", ["iftable_only.walk", "iftable_only.2.walk"])
    assert p1.columns["interface"]["ifHCInOctets"].name == "ifInOctets"
    assert p1.columns["interface"]["ifHCInOctets"].type == "counter32"
    assert p1.tables["interface"]["1"]["ifName"] if "ifName" in p1.tables["interface"]["1"] else \
        p1.tables["interface"]["1"]["ifDescr"] == "eth0"
    d1 = derive(None, p1)
    d2 = derive(d1.state, p2)
    rates = d2.rates["interface"]["1"]
    # 7,500,000 octets in 60 s across the 2^32 wrap = 1,000,000 bit/s
    assert rates["in_bps"] == pytest.approx(1_000_000.0)
    assert rates["out_bps"] == pytest.approx(80_000.0)
    assert not [e for e in d2.events if e.kind == "reboot"]
