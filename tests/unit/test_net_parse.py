"""Router facts parsers on recorded outputs (FRR: captured from the lab's real routers)."""

from __future__ import annotations

from ipaddress import IPv4Interface, IPv4Network
from pathlib import Path

import pytest

from simpul.inventory.models import Device
from simpul.network.parse import (
    FACT_COMMANDS,
    FACT_PARSERS,
    ParseError,
    facts_to_json,
    parse_facts,
    uptime_routeros,
    uptime_words,
)
from simpul.network.platforms import PLATFORMS

FIX = Path(__file__).parent / "net_fixtures"


def _outputs(platform: str, device: str) -> dict[str, str]:
    d = FIX / platform / device
    return {c: (d / (c.replace(" ", "_").replace("/", "_") + ".txt")).read_text()
            for c in FACT_COMMANDS[platform]}


def test_every_inventory_platform_has_a_row() -> None:
    platforms = set(Device.model_fields["platform"].annotation.__args__)  # type: ignore[union-attr]
    assert platforms == set(PLATFORMS)
    for name, p in PLATFORMS.items():
        if p.supported:
            assert name in FACT_COMMANDS and name in FACT_PARSERS, name


def test_frr_facts_of_a_desa_router() -> None:
    f = parse_facts("frr", _outputs("frr", "desa-kemloko"))
    assert f["hostname"] == "desa-kemloko"
    assert f["version"] == "FRRouting 8.4.4"
    eth0 = f["interfaces"]["eth0"]
    assert eth0["addresses"] == [IPv4Interface("10.199.0.18/30")]  # the fe80:: address is dropped
    assert eth0["up"] is True
    assert eth0["description"] == "core-kemloko to core-1"
    assert f["interfaces"]["lo"]["addresses"] == [IPv4Interface("10.199.255.21/32")]
    assert f["ospf_neighbors"] == {"10.199.255.1": {"state": "Full", "address": "10.199.0.17",
                                                    "interface": "eth0"}}
    pd = [r for r in f["routes"] if r["prefix"] == IPv4Network("10.199.64.0/24")]
    assert pd and pd[0]["protocol"] == "ospf" and pd[0]["nexthops"] == ["10.199.0.17"]
    assert pd[0]["interfaces"] == ["eth0"]


def test_frr_facts_of_the_core_with_a_secondary_address() -> None:
    f = parse_facts("frr", _outputs("frr", "core-1"))
    assert f["interfaces"]["lan0"]["addresses"] == [IPv4Interface("10.199.64.1/24"),
                                                    IPv4Interface("10.199.65.1/24")]
    assert len([n for n in f["ospf_neighbors"].values() if n["state"] == "Full"]) == 6
    js = facts_to_json(f)
    assert js["interfaces"]["lan0"]["addresses"] == ["10.199.64.1/24", "10.199.65.1/24"]
    assert all(isinstance(r["prefix"], str) for r in js["routes"])


def test_frr_garbage_is_a_parse_error() -> None:
    out = _outputs("frr", "desa-kemloko")
    out["show interface json"] = "% Unknown command: show interface json"
    with pytest.raises(ParseError, match="not JSON"):
        parse_facts("frr", out)
    with pytest.raises(ParseError, match="outputs missing"):
        parse_facts("frr", {"show version": "FRRouting 8.4.4 (x) on Linux"})


def test_uptime_texts() -> None:
    assert uptime_words("2 weeks, 3 days, 4 hours, 5 minutes") == 2 * 604800 + 3 * 86400 + 4 * 3600 + 300
    assert uptime_words("0 week, 1 day, 0 hour, 1 minute") == 86460
    assert uptime_words("unknown") is None
    assert uptime_routeros("1w2d03:04:05") == 604800 + 2 * 86400 + 3 * 3600 + 4 * 60 + 5
    assert uptime_routeros("3d4h5m6s") == 3 * 86400 + 4 * 3600 + 5 * 60 + 6
    assert uptime_routeros("") is None
