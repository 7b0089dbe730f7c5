"""Which snapshots a retention policy keeps (pure; restic ``forget`` semantics).

The DRC runs ``restic forget --group-by host --keep-...`` itself (an existing engine, not a
home-made pruner). This module states the same rules independently so that ``simpul backup
forget`` can explain a plan and a test can prove that the repository keeps **exactly** what
the policy says (``tests/lab``: fake-clock snapshots, the DRC's forget, this as the oracle).

The rules (restic's ``ApplyPolicy``): snapshots newest first; ``last n`` keeps the n newest;
``hourly/daily/weekly/monthly/yearly n`` keep the newest snapshot of each of the n most recent
hours/days/ISO weeks/months/years *that have snapshots*; ``within d`` keeps everything newer
than the newest snapshot minus d. A snapshot is kept if any rule keeps it (with its reasons).
Times are read in their own offset, as restic does.

Example::

    kept, removed = decide(snaps, RetentionRule(daily=7, weekly=4))
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from simpul.inventory.models import Retention


@dataclass(frozen=True)
class Snap:
    """The part of a restic snapshot that retention looks at."""

    id: str
    time: datetime
    host: str = ""
    tags: tuple[str, ...] = ()

    @classmethod
    def from_restic(cls, j: dict[str, Any]) -> Snap:
        return cls(id=str(j["id"]), time=parse_time(str(j["time"])), host=str(j.get("hostname", "")),
                   tags=tuple(j.get("tags") or ()))


def parse_time(s: str) -> datetime:
    """restic's RFC 3339 times with nanoseconds (``2026-12-07T09:12:19.906883132Z``)."""
    s = s.strip().replace("Z", "+00:00")
    if "." in s:
        head, rest = s.split(".", 1)
        i = 0
        while i < len(rest) and rest[i].isdigit():
            i += 1
        frac, tz = rest[:i], rest[i:]
        s = f"{head}.{(frac + '000000')[:6]}{tz}"
    return datetime.fromisoformat(s)


@dataclass(frozen=True)
class RetentionRule:
    last: int = 0
    hourly: int = 0
    daily: int = 0
    weekly: int = 0
    monthly: int = 0
    yearly: int = 0
    within: timedelta | None = None

    @classmethod
    def from_policy(cls, r: Retention) -> RetentionRule:
        """The rule the DRC applies: ``within`` is passed to restic in whole hours."""
        within = None
        if r.within is not None:
            within = timedelta(hours=max(1, int(r.within.total_seconds() // 3600)))
        return cls(r.last, r.hourly, r.daily, r.weekly, r.monthly, r.yearly, within)

    def empty(self) -> bool:
        return not (self.last or self.hourly or self.daily or self.weekly or self.monthly
                    or self.yearly or self.within)


Bucket = Callable[[datetime, int], Hashable]

BUCKETS: tuple[tuple[str, Bucket], ...] = (
    ("last", lambda t, nr: nr),
    ("hourly", lambda t, nr: (t.year, t.month, t.day, t.hour)),
    ("daily", lambda t, nr: (t.year, t.month, t.day)),
    ("weekly", lambda t, nr: tuple(t.isocalendar())[:2]),
    ("monthly", lambda t, nr: (t.year, t.month)),
    ("yearly", lambda t, nr: t.year),
)


@dataclass
class Decision:
    kept: list[Snap] = field(default_factory=list)
    removed: list[Snap] = field(default_factory=list)
    reasons: dict[str, list[str]] = field(default_factory=dict)


def decide_group(snaps: Sequence[Snap], rule: RetentionRule) -> Decision:
    """Apply ``rule`` to one group (one host) of snapshots."""
    out = Decision()
    if not snaps:
        return out
    ordered = sorted(snaps, key=lambda s: s.time, reverse=True)
    if rule.empty():
        out.kept = list(ordered)
        return out
    counts = {name: getattr(rule, name) for name, _ in BUCKETS}
    last: dict[str, Hashable] = {name: None for name, _ in BUCKETS}
    latest = ordered[0].time
    for nr, s in enumerate(ordered):
        why: list[str] = []
        if rule.within is not None and s.time > latest - rule.within:
            why.append("within")
        for name, bucket in BUCKETS:
            if counts[name] > 0:
                v = bucket(s.time, nr)
                if v != last[name]:
                    why.append(name)
                    last[name] = v
                    counts[name] -= 1
        if why:
            out.kept.append(s)
            out.reasons[s.id] = why
        else:
            out.removed.append(s)
    return out


def decide(snaps: Sequence[Snap], rule: RetentionRule) -> Decision:
    """Apply ``rule`` per host (``--group-by host``), merged."""
    out = Decision()
    hosts: dict[str, list[Snap]] = {}
    for s in snaps:
        hosts.setdefault(s.host, []).append(s)
    for h in sorted(hosts):
        d = decide_group(hosts[h], rule)
        out.kept += d.kept
        out.removed += d.removed
        out.reasons.update(d.reasons)
    return out
