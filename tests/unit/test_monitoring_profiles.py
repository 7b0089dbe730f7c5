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
    # the agent has no ifXTable, so no ifName: the name comes from ifDescr
    assert "ifName" not in p1.tables["interface"]["1"]
    assert p1.tables["interface"]["1"]["ifDescr"] == "eth0"
    d1 = derive(None, p1)
    d2 = derive(d1.state, p2)
    rates = d2.rates["interface"]["1"]
    # 7,500,000 octets in 60 s across the 2^32 wrap = 1,000,000 bit/s
    assert rates["in_bps"] == pytest.approx(1_000_000.0)
    assert rates["out_bps"] == pytest.approx(80_000.0)
    assert not [e for e in d2.events if e.kind == "reboot"]


def test_a_counter32_on_a_fast_interface_has_no_rate_and_says_so() -> None:
    # the same two polls, but the interface runs at 1 Gb/s: in 60 s its Counter32 of octets can
    # wrap more than once, so the 7.5 MB the reads show may be 4.3 GB more
    walks = [parse_walk((WALKS / w).read_text()) for w in ("iftable_only.walk", "iftable_only.2.walk")]
    for w in walks:
        w["1.3.6.1.2.1.2.2.1.5.1"] = 1_000_000_000  # ifSpeed
    eng = WalkEngine({"dev": walks})
    plan = plan_for_platform("minimal")
    t = SnmpTarget("dev", "192.0.2.1")
    p1, p2 = (asyncio.run(poll_device(eng, t, plan, now=lambda i=i: 1_000.0 + 60 * i)) for i in range(2))
    d2 = derive(derive(None, p1).state, p2)
    rates = d2.rates.get("interface", {}).get("1", {})
    assert "in_bps" not in rates and "out_bps" not in rates
    assert d2.unknown == ["interface/eth0/ifInOctets", "interface/eth0/ifOutOctets"]


CISCO_SYSDESCR = (
    "Cisco IOS Software, C2960 Software (C2960-LANBASEK9-M), Version 12.2(55)SE7, RELEASE SOFTWARE (fc1)\r\n"
    "Technical Support: http://www.cisco.com/techsupport\r\n"
    "Copyright (c) 1986-2013 by Cisco Systems, Inc.\r\n"
    "Compiled Mon 28-Jan-13 10:28 by prod_rel_team")
EXTEND_OID = "1.3.6.1.4.1.8072.1.3.2.3.1.2.8." + ".".join(str(ord(c)) for c in "sysdescr")


def test_a_recorded_multi_line_string_stays_text() -> None:
    # multiline_string.walk was recorded from a real snmpd serving a Cisco IOS sysDescr's text
    # (see its header); it used to be stored as hex ("43:69:73:...")
    from simpul.monitoring.profiles import Column, PollPlan

    data = parse_walk((WALKS / "multiline_string.walk").read_bytes().decode())
    assert data[EXTEND_OID] == CISCO_SYSDESCR.encode()  # the parser keeps CR LF and drops the quotes
    assert data["1.3.6.1.2.1.1.5.0"] == b"c2960-lab"
    plan = PollPlan("t", (("snmp", Column(name="sysDescr", oid=EXTEND_OID, type="string")),), ())
    eng = WalkEngine.from_files({"dev": [WALKS / "multiline_string.walk"]})
    p = asyncio.run(poll_device(eng, SnmpTarget("dev", "192.0.2.1"), plan))
    assert p.ok and p.scalars["snmp"]["sysDescr"] == CISCO_SYSDESCR
    [ln] = to_lines(p, plan, {"device": "dev"}, 1)[1:]
    assert "\n" not in ln and "\r" not in ln
    assert 'sysDescr="Cisco IOS Software, C2960 Software' in ln and "(fc1)\\r\\nTechnical Support" in ln


@pytest.mark.parametrize(("raw", "kept"), [
    (b"one line", "one line"),
    (b"two\r\nlines\n\ttabbed", "two\r\nlines\n\ttabbed"),
    (b"padded\x00\x00", "padded"),
    (b"\x00\x1a\x2b\x3c\x4d\x5e", "00:1a:2b:3c:4d:5e"),  # a MAC address is binary: hex
    (b"bell\x07", "62:65:6c:6c:07"),
    (b"\xff\xfe", "ff:fe"),
])
def test_strings_are_text_unless_binary(raw: bytes, kept: str) -> None:
    from simpul.monitoring.devicepoll import _norm

    assert _norm(raw, "string") == kept


def test_grafana_dashboard_queries_name_measurements_and_fields_the_poller_writes() -> None:
    """Every panel's query reads a measurement the profiles (or the poller itself) write, and
    only fields and tags that measurement has: a renamed OID field breaks this test, not a
    NOC dashboard in production."""
    import json
    import re


    have: dict[str, set[str]] = {
        # written by the poller itself (devicepoll.to_lines, poller, icmp)
        "simpul_poll": {"up", "duration_ms", "requests", "error"},
        "simpul_event": {"detail", "event"},
        "interface_rate": {"in_bps", "out_bps", "in_pps", "out_pps", "in_errors_ps", "out_errors_ps",
                           "in_discards_ps", "out_discards_ps"},
        "ping": {"percent_packet_loss", "average_response_ms", "url"},
    }
    for f in PROFILE_DIR.glob("*.yaml"):
        if f.name == "platforms.yaml":
            continue
        p = load_profile(f.stem)
        for meas, col in p.scalar_columns():
            have.setdefault(meas, set()).add(col.name)
        for t in p.tables:
            have.setdefault(t.measurement, set()).update([c.name for c in t.columns] + [t.index_tag])
    common_tags = {"device", "site", "site_type", "kind", "role", "platform", "agent_host", "ifName",
                   "ifIndex", "time"}
    dash = json.loads((Path(__file__).resolve().parents[2] / "monitoring" / "grafana-dashboard.json").read_text())
    queries = [t["query"] for p in dash["panels"] for t in p.get("targets", [])]
    assert len(queries) >= 16
    for q in queries:
        meas = re.search(r'FROM "([^"]+)"', q)
        assert meas and meas.group(1) in have, q
        names = set(re.findall(r'"([A-Za-z_][A-Za-z0-9_]*)"', q)) - {meas.group(1)}
        unknown = names - have[meas.group(1)] - common_tags
        assert not unknown, (q, unknown)
    assert any("hrStorageUsed" in q and "1.3.6.1.2.1.25.2.1.4" in q for q in queries)  # disks
    assert any("memAvailReal" in q for q in queries)  # routers' and servers' memory
