"""A durable local outbox: points wait on disk until their sink takes them, in order.

Store-and-forward for village links and InfluxDB outages (Zabbix proxies do the same): every
cycle's lines are committed to SQLite *before* any delivery is tried; :meth:`Outbox.flush`
delivers the oldest batch first and deletes it only after the sink acknowledged it, stopping at
the first failure so order is kept. A crash between "sink acknowledged" and "row deleted" means
the batch is sent again — harmless, because every line carries the fixed timestamp assigned at
poll time and InfluxDB/VictoriaMetrics overwrite a point with the same series and timestamp.

A batch the sink *rejects* (HTTP 400: the data itself is bad) would block the queue forever; it
is moved to the ``dead`` table with the reason, kept for inspection, and counted.

Points polled while **no sink is configured** are not thrown away: they wait in a queue of their
own (:data:`NO_SINK`). The first run that has sinks hands them over (:meth:`Outbox.adopt`, one
transaction, oldest first, before that run's own points), so a sink configured later receives
everything that was polled before it existed.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .store import OutboxConnection

log = logging.getLogger(__name__)

BATCH_LINES = 5000
NO_SINK = "(no sink yet)"
STOPPED = "stopped (SIGTERM) while delivering; the batch stays in the outbox for the next run"
"""The queue of points polled while no sink was configured."""


class SinkError(Exception):
    """Delivery failed; ``permanent`` when retrying the same data cannot succeed."""

    def __init__(self, sink: str, reason: str, *, permanent: bool = False) -> None:
        super().__init__(f"{sink}: {reason}")
        self.sink = sink
        self.reason = reason
        self.permanent = permanent


class Sink(Protocol):
    name: str

    def write(self, lines: Sequence[str]) -> None:
        """Deliver line protocol (precision seconds); raise :class:`SinkError` on failure."""
        ...


@dataclass
class FlushResult:
    sink: str
    delivered_batches: int = 0
    delivered_lines: int = 0
    dead_batches: int = 0
    pending_batches: int = 0
    pending_lines: int = 0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.dead_batches == 0


class Outbox:
    """SQLite outbox at ``path`` (WAL, synchronous=FULL: a committed batch survives power loss)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # Used from the event loop and from the flush thread: every use holds _lock, which is
        # never held while a sink is being written to.
        self._lock = threading.RLock()
        self._cancel = threading.Event()
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False,
                                  factory=OutboxConnection)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(
            """
            CREATE TABLE IF NOT EXISTS outbox(
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                sink TEXT NOT NULL,
                created REAL NOT NULL,
                n INTEGER NOT NULL,
                lines TEXT NOT NULL);
            CREATE INDEX IF NOT EXISTS outbox_sink ON outbox(sink, id);
            CREATE TABLE IF NOT EXISTS dead(
                id INTEGER PRIMARY KEY, sink TEXT, created REAL, failed REAL, reason TEXT,
                n INTEGER, lines TEXT);
            """
        )

    def close(self) -> None:
        with self._lock:  # never while a flush thread is between two statements
            self.db.close()

    def cancel(self) -> None:
        """Stop a flush in progress (SIGTERM): it touches the file no more, not even to delete a
        batch the sink took meanwhile (that batch is sent again: harmless, same timestamps)."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def put(self, sinks: Sequence[str], lines: Sequence[str]) -> int:
        """Queue ``lines`` for every sink in one transaction; returns the number of batches.

        With no sink the lines wait in the :data:`NO_SINK` queue for a sink configured later.
        """
        if not lines:
            return 0
        if not sinks:
            sinks = [NO_SINK]
        now = time.time()
        rows = []
        for s in sinks:
            for i in range(0, len(lines), BATCH_LINES):
                chunk = lines[i : i + BATCH_LINES]
                rows.append((s, now, len(chunk), "\n".join(chunk)))
        with self._lock, self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.executemany(
                "INSERT INTO outbox(sink, created, n, lines) VALUES (?,?,?,?)", rows
            )
        return len(rows)

    def adopt(self, sinks: Sequence[str]) -> tuple[int, int]:
        """Hand the :data:`NO_SINK` queue to ``sinks`` (oldest first, one transaction).

        Returns ``(batches, lines)`` handed over (counted once, not per sink). Call it before
        queueing new points, so the older points are delivered first.
        """
        sinks = [s for s in sinks if s != NO_SINK]
        if not sinks:
            return 0, 0
        with self._lock, self.db:
            self.db.execute("BEGIN IMMEDIATE")
            rows = self.db.execute(
                "SELECT id, created, n, lines FROM outbox WHERE sink=? ORDER BY id", (NO_SINK,)
            ).fetchall()
            if not rows:
                return 0, 0
            self.db.executemany(
                "INSERT INTO outbox(sink, created, n, lines) VALUES (?,?,?,?)",
                [(s, created, n, text) for _bid, created, n, text in rows for s in sinks],
            )
            self.db.execute("DELETE FROM outbox WHERE sink=?", (NO_SINK,))
        return len(rows), sum(int(r[2]) for r in rows)

    def pending(self, sink: str | None = None) -> tuple[int, int]:
        """``(batches, lines)`` waiting (for one sink or all)."""
        q = "SELECT COUNT(*), COALESCE(SUM(n),0) FROM outbox"
        args: tuple[str, ...] = ()
        if sink:
            q += " WHERE sink=?"
            args = (sink,)
        with self._lock:
            b, n = self.db.execute(q, args).fetchone()
        return int(b), int(n)

    def dead(self) -> int:
        with self._lock:
            return int(self.db.execute("SELECT COUNT(*) FROM dead").fetchone()[0])

    def flush(self, sink: Sink, *, max_batches: int | None = None) -> FlushResult:
        """Deliver this sink's batches oldest first; stop at the first transient failure.

        Safe to run in a thread while :meth:`cancel` is called from another: a batch is deleted
        only after the sink acknowledged it and only if the flush was not cancelled meanwhile.
        """
        res = FlushResult(sink.name)
        sent = 0
        while max_batches is None or sent < max_batches:
            with self._lock:
                if self._cancel.is_set():
                    res.error = STOPPED
                    return res
                row = self.db.execute(
                    "SELECT id, created, n, lines FROM outbox WHERE sink=? ORDER BY id LIMIT 1",
                    (sink.name,),
                ).fetchone()
            if row is None:
                break
            bid, created, n, text = row
            try:
                sink.write(text.split("\n"))
            except SinkError as e:
                if not e.permanent:
                    res.error = e.reason
                    log.warning("%s: delivery failed, %s kept on disk: %s", sink.name, "batch", e.reason)
                    break
                with self._lock:
                    if self._cancel.is_set():
                        res.error = STOPPED
                        return res
                    log.error("%s: batch %d rejected, moved to dead letters: %s", sink.name, bid, e.reason)
                    with self.db:
                        self.db.execute("BEGIN IMMEDIATE")
                        self.db.execute(
                            "INSERT INTO dead(id, sink, created, failed, reason, n, lines) "
                            "VALUES (?,?,?,?,?,?,?)",
                            (bid, sink.name, created, time.time(), e.reason, n, text),
                        )
                        self.db.execute("DELETE FROM outbox WHERE id=?", (bid,))
                res.dead_batches += 1
                continue
            with self._lock:
                if self._cancel.is_set():
                    res.error = STOPPED
                    return res
                self.db.execute("DELETE FROM outbox WHERE id=?", (bid,))
            res.delivered_batches += 1
            res.delivered_lines += n
            sent += 1
        res.pending_batches, res.pending_lines = self.pending(sink.name)
        return res
