"""The durable outbox: in order, nothing lost while the sink is down, nothing dropped silently."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from simpul.monitoring.outbox import Outbox, SinkError


class FakeSink:
    def __init__(self, name: str = "fake") -> None:
        self.name = name
        self.up = True
        self.got: list[str] = []
        self.reject = False

    def write(self, lines: Sequence[str]) -> None:
        if not self.up:
            raise SinkError(self.name, "connection refused")
        if self.reject:
            raise SinkError(self.name, "HTTP 400: field type conflict", permanent=True)
        self.got += lines


def test_points_wait_on_disk_and_arrive_in_order(tmp_path: Path) -> None:
    sink = FakeSink()
    sink.up = False
    box = Outbox(tmp_path / "o.sqlite")
    for cycle in range(3):
        box.put([sink.name], [f"m v={cycle}i {cycle}"])
        r = box.flush(sink)
        assert r.error and r.pending_batches == cycle + 1
    box.close()
    # a restart of the poller: a new Outbox on the same file still has everything
    box = Outbox(tmp_path / "o.sqlite")
    sink.up = True
    r = box.flush(sink)
    assert r.ok and r.delivered_batches == 3 and r.pending_batches == 0
    assert sink.got == ["m v=0i 0", "m v=1i 1", "m v=2i 2"]
    assert box.flush(sink).delivered_batches == 0  # delivered once


def test_each_sink_has_its_own_queue(tmp_path: Path) -> None:
    a, b = FakeSink("a"), FakeSink("b")
    b.up = False
    box = Outbox(tmp_path / "o.sqlite")
    box.put(["a", "b"], ["m v=1i 1"])
    assert box.flush(a).delivered_lines == 1
    assert box.flush(b).pending_lines == 1
    assert box.pending("a") == (0, 0)


def test_rejected_batch_goes_to_dead_letters_and_does_not_block(tmp_path: Path) -> None:
    class Picky(FakeSink):
        def write(self, lines: Sequence[str]) -> None:
            if "bad" in lines:
                raise SinkError(self.name, "HTTP 400: field type conflict", permanent=True)
            super().write(lines)

    sink = Picky()
    box = Outbox(tmp_path / "o.sqlite")
    box.put([sink.name], ["bad"])
    box.put([sink.name], ["m v=1i 1"])
    r = box.flush(sink)
    assert r.dead_batches == 1 and not r.ok
    assert sink.got == ["m v=1i 1"]
    assert box.dead() == 1 and box.pending() == (0, 0)


def test_large_cycles_are_split_into_batches(tmp_path: Path) -> None:
    sink = FakeSink()
    box = Outbox(tmp_path / "o.sqlite")
    lines = [f"m v={i}i {i}" for i in range(12_001)]
    assert box.put([sink.name], lines) == 3
    box.flush(sink)
    assert sink.got == lines


def test_points_polled_without_a_sink_wait_for_the_first_sink_configured(tmp_path: Path) -> None:
    from simpul.monitoring.outbox import NO_SINK

    box = Outbox(tmp_path / "o.sqlite")
    assert box.put([], ["m v=1i 1"]) == 1 and box.put([], ["m v=2i 2"]) == 1
    assert box.pending(NO_SINK) == (2, 2)
    box.close()
    box = Outbox(tmp_path / "o.sqlite")  # a later run, with two sinks
    a, b = FakeSink("a"), FakeSink("b")
    assert box.adopt([a.name, b.name]) == (2, 2)
    box.put([a.name, b.name], ["m v=3i 3"])  # that run's own points come after
    assert box.pending(NO_SINK) == (0, 0)
    assert box.flush(a).ok and box.flush(b).ok
    assert a.got == b.got == ["m v=1i 1", "m v=2i 2", "m v=3i 3"]
    assert box.adopt([a.name]) == (0, 0)  # handed over once


def test_the_poller_without_a_sink_keeps_the_points_and_a_later_one_delivers_them(tmp_path: Path) -> None:
    import asyncio

    from simpul.monitoring.engine import SnmpTarget
    from simpul.monitoring.poller import Poller
    from simpul.monitoring.profiles import plan_for_platform
    from simpul.monitoring.targets import HostRef
    from simpul.monitoring.walkfile import WalkEngine

    walks = Path(__import__("simpul.monitoring", fromlist=["x"]).__file__).parent / "fixtures" / "walks"
    eng = WalkEngine.from_files({"dev": [walks / "linux.walk"] * 2})
    plan = plan_for_platform("linux")
    host = HostRef("dev", "server", "192.0.2.1", {"device": "dev"}, SnmpTarget("dev", "192.0.2.1"),
                   plan, False)
    p = Poller([host], eng, tmp_path / "state", [], clock=lambda: 1_700_000_000.0)
    rep = asyncio.run(p.cycle())
    p.close()
    assert rep.lines > 0 and rep.waiting_for_sink == rep.lines and rep.flush == []
    sink = FakeSink("influx")
    p = Poller([host], eng, tmp_path / "state", [sink], clock=lambda: 1_700_000_060.0)
    rep2 = asyncio.run(p.cycle())
    p.close()
    assert rep2.flush[0].ok and len(sink.got) == rep.lines + rep2.lines
    stamps = [int(ln.rsplit(" ", 1)[1]) for ln in sink.got]  # the older points first
    assert stamps == [1_700_000_000] * rep.lines + [1_700_000_060] * rep2.lines
