"""fping output parsing (loss and latency for desa radio links)."""

from __future__ import annotations

from simpul.monitoring.icmp import parse_fping

OUT = """127.0.0.1 : 0.36 0.04 0.05
10.250.0.61 : - - -
10.250.0.62 : 21.5 - 80.1
"""


def test_parse_fping() -> None:
    r = parse_fping(OUT, 3)
    assert r["127.0.0.1"].up and r["127.0.0.1"].loss_pct == 0
    assert not r["10.250.0.61"].up and r["10.250.0.61"].loss_pct == 100
    f = r["10.250.0.62"].fields()
    assert f["packets_received"] == 2
    assert round(float(f["percent_packet_loss"]), 1) == 33.3
    assert f["maximum_response_ms"] == 80.1
    assert "average_response_ms" not in r["10.250.0.61"].fields()
