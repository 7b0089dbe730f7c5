"""The availability ledger: per-device up/down intervals and events, durable in SQLite.

Every observation of a device (an SNMP poll or an ICMP probe result, combined by the runner)
extends or closes an interval. When the state changes between two observations the change is
placed at the midpoint (the error is at most half a polling interval either way). When the
poller itself was not running for longer than ``max_gap`` the gap becomes an ``unknown``
interval: the report shows it as "no data" instead of guessing up or down.

Service availability is derived at report time from its servers' intervals (see
:mod:`simpul.monitoring.sla`), so the ledger stores facts only once.

The ledger also keeps the per-device poll state (last counters, uptime, interface status) that
:func:`simpul.monitoring.devicepoll.derive` needs across ``simpul poll --once`` runs.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .store import LedgerConnection

UP: str = "up"
DOWN: str = "down"
UNKNOWN: str = "unknown"


@dataclass(frozen=True)
class Interval:
    entity: str
    state: str
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return max(0.0, self.end - self.start)


@dataclass(frozen=True)
class LedgerEvent:
    at: float
    entity: str
    kind: str
    detail: str = ""


class Ledger:
    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        if readonly:
            # Reports only read: no directory, file or schema is created. SQLite's mode=ro
            # still creates (and leaves) the -wal/-shm files of a WAL database, owned by whoever
            # runs the report, which could lock a poller running as another user out of its
            # own ledger; so unless a poller has them open already (-wal exists: use them), the
            # closed database is read as immutable (its main file is complete when no -wal
            # exists).
            wal = path.with_name(path.name + "-wal").exists()
            uri = f"{path.resolve().as_uri()}?{'mode=ro' if wal else 'immutable=1'}"
            self.db = sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None,
                                      factory=LedgerConnection)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None, factory=LedgerConnection)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(
            """
            CREATE TABLE IF NOT EXISTS intervals(
                id INTEGER PRIMARY KEY, entity TEXT NOT NULL, state TEXT NOT NULL,
                start REAL NOT NULL, "end" REAL NOT NULL);
            CREATE INDEX IF NOT EXISTS intervals_entity ON intervals(entity, "end");
            CREATE TABLE IF NOT EXISTS events(
                at REAL NOT NULL, entity TEXT NOT NULL, kind TEXT NOT NULL, detail TEXT);
            CREATE INDEX IF NOT EXISTS events_at ON events(at);
            CREATE TABLE IF NOT EXISTS device_state(device TEXT PRIMARY KEY, data TEXT NOT NULL);
            """
        )

    def close(self) -> None:
        self.db.close()

    # --- observations → intervals ----------------------------------------------------------

    def observe(self, observations: Iterable[tuple[str, bool, float]], *, max_gap: float) -> None:
        """Record ``(entity, up, at)`` observations in one transaction."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            for entity, up, at in observations:
                self._observe(entity, UP if up else DOWN, at, max_gap)

    def _observe(self, entity: str, state: str, at: float, max_gap: float) -> None:
        last = self.db.execute(
            'SELECT id, state, start, "end" FROM intervals WHERE entity=? '
            'ORDER BY "end" DESC, id DESC LIMIT 1',
            (entity,),
        ).fetchone()
        ins = 'INSERT INTO intervals(entity, state, start, "end") VALUES (?,?,?,?)'
        if last is None:
            self.db.execute(ins, (entity, state, at, at))
            return
        lid, lstate, _lstart, lend = last
        if at <= lend:
            return  # an observation older than what we know (clock step): ignore
        if at - lend > max_gap:
            self.db.execute(ins, (entity, UNKNOWN, lend, at))
            self.db.execute(ins, (entity, state, at, at))
            return
        if lstate == state:
            self.db.execute('UPDATE intervals SET "end"=? WHERE id=?', (at, lid))
            return
        mid = (lend + at) / 2
        self.db.execute('UPDATE intervals SET "end"=? WHERE id=?', (mid, lid))
        self.db.execute(ins, (entity, state, mid, at))

    def add_interval(self, entity: str, state: str, start: float, end: float) -> None:
        """Insert an interval directly (imports, tests, backfilling from another ledger)."""
        self.db.execute(
            'INSERT INTO intervals(entity, state, start, "end") VALUES (?,?,?,?)',
            (entity, state, start, end),
        )

    def intervals(
        self, start: float, end: float, entities: Iterable[str] | None = None
    ) -> dict[str, list[Interval]]:
        """Intervals overlapping ``[start, end)``, clipped to it, per entity."""
        rows = self.db.execute(
            'SELECT entity, state, start, "end" FROM intervals WHERE "end" > ? AND start < ? '
            "ORDER BY entity, start",
            (start, end),
        ).fetchall()
        want = set(entities) if entities is not None else None
        out: dict[str, list[Interval]] = {}
        for e, s, a, b in rows:
            if want is not None and e not in want:
                continue
            out.setdefault(e, []).append(Interval(e, s, max(a, start), min(b, end)))
        return out

    # --- events ------------------------------------------------------------------------------

    def add_events(self, events: Iterable[LedgerEvent]) -> None:
        rows = [(e.at, e.entity, e.kind, e.detail) for e in events]
        if rows:
            with self.db:
                self.db.execute("BEGIN IMMEDIATE")
                self.db.executemany("INSERT INTO events VALUES (?,?,?,?)", rows)

    def events(self, start: float, end: float) -> list[LedgerEvent]:
        rows = self.db.execute(
            "SELECT at, entity, kind, detail FROM events WHERE at >= ? AND at < ? ORDER BY at",
            (start, end),
        ).fetchall()
        return [LedgerEvent(*r) for r in rows]

    # --- poll state --------------------------------------------------------------------------

    def load_state(self) -> dict[str, dict[str, Any]]:
        return {d: json.loads(s) for d, s in self.db.execute("SELECT device, data FROM device_state")}

    def save_state(self, states: dict[str, dict[str, Any]]) -> None:
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.executemany(
                "INSERT INTO device_state(device, data) VALUES (?, ?) "
                "ON CONFLICT(device) DO UPDATE SET data=excluded.data",
                [(d, json.dumps(s, separators=(",", ":"))) for d, s in states.items()],
            )
