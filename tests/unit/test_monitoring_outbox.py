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
