"""Line protocol encoding (tags escaped, integers typed, Counter64 clamped, fixed timestamps)."""

from __future__ import annotations

from simpul.monitoring.lineproto import INT64_MAX, line


def test_escapes_and_types() -> None:
    got = line(
        "interface",
        {"ifName": "Gi0/0, uplink=BTS", "agent_host": "10.0.0.1", "empty": ""},
        {"ifHCInOctets": 5, "ifAlias": 'say "hi"', "rate": 1.5, "flag": True},
        1_700_000_000,
    )
    assert got == (
        r"interface,agent_host=10.0.0.1,ifName=Gi0/0\,\ uplink\=BTS "
        r'flag=true,ifAlias="say \"hi\"",ifHCInOctets=5i,rate=1.5 1700000000'
    )


def test_counter64_above_int64_is_clamped() -> None:
    got = line("interface", {}, {"c": 2**64 - 1}, 1)
    assert got == f"interface c={INT64_MAX}i 1"


def test_no_fields_no_line() -> None:
    assert line("m", {"a": "b"}, {"x": None, "y": float("nan")}, 1) is None
