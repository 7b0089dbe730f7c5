"""SLA arithmetic: availability per device, site (OPD/desa) and service, maintenance excluded.

Pure functions over ledger intervals (Pergub Jateng draft 2025 Pasal 7, 11, 16: service levels
against targets, availability is evaluated; Perbup Temanggung 83/2021 Pasal 14(8): the Pusat
Data guarantees server up-time).

Definitions (also in docs/monitoring.md):

- *measured time* = the month minus declared maintenance minus time without data;
- *availability %* = up time ÷ measured time × 100;
- *downtime* = down time outside maintenance; an *incident* = one maximal down stretch;
- a **service** is up while every server *role* it uses (web, app, db, …) has at least one of
  its servers up: two web servers behind the portal are redundant, its app and db are not;
- a **site** (OPD, desa) is up while every device at the site is up (a desa usually has one
  edge router; an OPD edge router down cuts the whole OPD off the Jaringan Intra).
"""

from __future__ import annotations

import calendar
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from simpul.errors import UsageError
from simpul.inventory.models import Inventory, Maintenance

from .ledger import DOWN, UNKNOWN, UP, Interval, LedgerEvent

Span = tuple[float, float]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_TZ = "Asia/Jakarta"  # WIB; the inventory's maintenance times are local wall-clock times


def month_range(month: str, tz: str = DEFAULT_TZ) -> Span:
    """``"2026-10"`` → epoch seconds of the first instant of the month and of the next, in ``tz``."""
    try:
        y, m = (int(x) for x in month.split("-"))
        start = datetime(y, m, 1, tzinfo=ZoneInfo(tz))
    except (ValueError, TypeError) as e:
        raise UsageError(f"--month '{month}': expected YYYY-MM, e.g. 2026-10") from e
    days = calendar.monthrange(y, m)[1]
    end = start + timedelta(days=days)
    return start.timestamp(), end.timestamp()


def merge_spans(spans: Iterable[Span]) -> list[Span]:
    out: list[Span] = []
    for s, e in sorted(spans):
        if e <= s:
            continue
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def maintenance_spans(windows: Sequence[Maintenance], start: float, end: float,
                      tz: str = DEFAULT_TZ) -> list[Span]:
    """Declared maintenance windows that fall in ``[start, end)``, clipped and merged.

    Weekly windows repeat on ``weekday`` at local ``start`` time; a one-off window uses ``at``
    (with its own offset if written, else local time).
    """
    zone = ZoneInfo(tz)
    spans: list[Span] = []
    for w in windows:
        dur = w.duration.total_seconds()
        if w.at is not None:
            at = w.at if w.at.tzinfo else w.at.replace(tzinfo=zone)
            spans.append((at.timestamp(), at.timestamp() + dur))
            continue
        assert w.weekday is not None and w.start is not None
        day = datetime.fromtimestamp(start, zone).date() - timedelta(days=7)
        last = datetime.fromtimestamp(end, zone).date() + timedelta(days=1)
        while day <= last:
            if WEEKDAYS[day.weekday()] == w.weekday:
                s = datetime.combine(day, w.start, tzinfo=zone).timestamp()
                spans.append((s, s + dur))
            day += timedelta(days=1)
    return [(max(s, start), min(e, end)) for s, e in merge_spans(spans) if e > start and s < end]


def subtract(spans: Iterable[Span], holes: Sequence[Span]) -> list[Span]:
    """``spans`` minus ``holes`` (both lists of half-open spans)."""
    out: list[Span] = []
    for s, e in spans:
        pieces = [(s, e)]
        for hs, he in holes:
            nxt = []
            for a, b in pieces:
                if he <= a or hs >= b:
                    nxt.append((a, b))
                    continue
                if a < hs:
                    nxt.append((a, hs))
                if he < b:
                    nxt.append((he, b))
            pieces = nxt
        out += pieces
    return out


def _total(spans: Iterable[Span]) -> float:
    return sum(e - s for s, e in spans)


# --- combining members into an entity's timeline ----------------------------------------------


def state_at(ivs: Sequence[Interval], t: float) -> str:
    for iv in ivs:
        if iv.start <= t < iv.end:
            return iv.state
    return UNKNOWN


def combine(
    members: Mapping[str, Sequence[Interval]],
    rule: Callable[[Mapping[str, str]], str],
    start: float,
    end: float,
    name: str = "",
) -> list[Interval]:
    """One timeline from several members' timelines: ``rule`` maps member states to a state."""
    points = {start, end}
    for ivs in members.values():
        for iv in ivs:
            points.update(p for p in (iv.start, iv.end) if start < p < end)
    cuts = sorted(points)
    out: list[Interval] = []
    for a, b in itertools.pairwise(cuts):
        mid = (a + b) / 2
        st = rule({m: state_at(ivs, mid) for m, ivs in members.items()})
        if out and out[-1].state == st and out[-1].end == a:
            out[-1] = Interval(name, st, out[-1].start, b)
        else:
            out.append(Interval(name, st, a, b))
    return out


def all_up(states: Mapping[str, str]) -> str:
    """Up only when every member is up; down when any is down; otherwise unknown."""
    vals = set(states.values())
    if not vals:
        return UNKNOWN
    if DOWN in vals:
        return DOWN
    return UP if vals == {UP} else UNKNOWN


def service_rule(roles: Mapping[str, Sequence[str]]) -> Callable[[Mapping[str, str]], str]:
    """Every role needs at least one of its servers up (redundant servers share a role)."""

    def rule(states: Mapping[str, str]) -> str:
        result = UP
        for servers in roles.values():
            vals = {states.get(s, UNKNOWN) for s in servers}
            if UP in vals:
                continue
            if vals == {DOWN}:
                return DOWN
            result = UNKNOWN
        return result

    return rule


# --- the numbers -------------------------------------------------------------------------------


@dataclass
class SlaRow:
    entity: str
    name: str
    kind: str  # device | server | service | opd | desa | kelurahan
    target: float
    measured_s: float
    up_s: float
    down_s: float
    maintenance_s: float
    nodata_s: float
    incidents: int
    reboots: int
    outages: list[Span] = field(default_factory=list)
    nodata: list[Span] = field(default_factory=list)
    maintenance: list[Span] = field(default_factory=list)
    members: list[str] = field(default_factory=list)

    @property
    def availability(self) -> float | None:
        return 100.0 * self.up_s / self.measured_s if self.measured_s > 0 else None

    @property
    def met(self) -> bool | None:
        a = self.availability
        return None if a is None else a + 1e-9 >= self.target

    @property
    def downtime_min(self) -> float:
        return self.down_s / 60

    @property
    def allowed_downtime_min(self) -> float:
        return self.measured_s * (100 - self.target) / 100 / 60

    def to_dict(self) -> dict[str, object]:
        a = self.availability
        return {
            "entity": self.entity,
            "name": self.name,
            "kind": self.kind,
            "target_pct": self.target,
            "availability_pct": None if a is None else round(a, 4),
            "met": self.met,
            "downtime_min": round(self.downtime_min, 2),
            "maintenance_min": round(self.maintenance_s / 60, 2),
            "nodata_min": round(self.nodata_s / 60, 2),
            "incidents": self.incidents,
            "reboots": self.reboots,
            "outages": [[round(s), round(e)] for s, e in self.outages],
            "members": self.members,
        }


def sla_row(
    entity: str,
    timeline: Sequence[Interval],
    start: float,
    end: float,
    *,
    name: str = "",
    kind: str = "device",
    target: float = 99.5,
    maintenance: Sequence[Span] = (),
    reboots: int = 0,
    members: Sequence[str] = (),
) -> SlaRow:
    """Availability of one entity over ``[start, end)`` from its timeline."""
    maint = merge_spans(maintenance)
    covered = merge_spans((max(i.start, start), min(i.end, end)) for i in timeline)
    gaps = subtract([(start, end)], covered)
    by_state: dict[str, list[Span]] = {UP: [], DOWN: [], UNKNOWN: list(gaps)}
    for iv in timeline:
        s, e = max(iv.start, start), min(iv.end, end)
        if e > s:
            by_state.setdefault(iv.state, []).append((s, e))
    up = subtract(merge_spans(by_state[UP]), maint)
    raw_down = merge_spans(by_state[DOWN])
    down = merge_spans(subtract(raw_down, maint))
    # An incident is one outage as the users lived it: a down stretch that a maintenance
    # window cuts in two is still one incident (if any of it falls outside maintenance).
    incidents = sum(1 for span in raw_down if subtract([span], maint))
    nodata = merge_spans(subtract(merge_spans(by_state[UNKNOWN]), maint))
    return SlaRow(
        entity=entity,
        name=name or entity,
        kind=kind,
        target=target,
        measured_s=_total(up) + _total(down),
        up_s=_total(up),
        down_s=_total(down),
        maintenance_s=_total(maint),
        nodata_s=_total(nodata),
        incidents=incidents,
        reboots=reboots,
        outages=down,
        nodata=nodata,
        maintenance=maint,
        members=list(members),
    )


def _reboots(events: Iterable[LedgerEvent], members: Iterable[str]) -> int:
    ms = set(members)
    return sum(1 for e in events if e.kind == "reboot" and e.entity in ms)


def report_rows(
    inv: Inventory,
    intervals: Mapping[str, Sequence[Interval]],
    events: Sequence[LedgerEvent],
    start: float,
    end: float,
    *,
    by: str = "service",
    default_target: float = 99.5,
    tz: str = DEFAULT_TZ,
) -> list[SlaRow]:
    """The rows of ``simpul sla report --by device|opd|desa|service``."""
    rows: list[SlaRow] = []
    if by == "device":
        for name in [*inv.devices, *inv.servers]:
            kind = "device" if name in inv.devices else "server"
            # servers inherit the maintenance windows of the services they run; every host
            # inherits its site's windows
            windows = [w for svc in inv.services.values() if name in svc.servers
                       for w in svc.maintenance] if kind == "server" else []
            host = inv.devices[name] if kind == "device" else inv.servers[name]
            site = inv.sites.get(host.site)
            if site is not None:
                windows += list(site.maintenance)
            tl = list(intervals.get(name, []))
            rows.append(sla_row(name, tl, start, end, kind=kind, target=default_target,
                                maintenance=maintenance_spans(windows, start, end, tz),
                                reboots=_reboots(events, [name]), members=[name]))
    elif by == "service":
        for sname, svc in inv.services.items():
            roles: dict[str, list[str]] = {}
            for srv in svc.servers:
                role = inv.servers[srv].role if srv in inv.servers else srv
                roles.setdefault(role, []).append(srv)
            members = {s: list(intervals.get(s, [])) for s in svc.servers}
            tl = combine(members, service_rule(roles), start, end, sname)
            rows.append(sla_row(sname, tl, start, end, name=svc.name, kind="service",
                                target=svc.availability_target,
                                maintenance=maintenance_spans(svc.maintenance, start, end, tz),
                                reboots=_reboots(events, svc.servers), members=list(svc.servers)))
    elif by in ("opd", "desa"):
        types = ("opd",) if by == "opd" else ("desa", "kelurahan")
        for site_name, site in inv.sites.items():
            if site.type not in types:
                continue
            devs = [n for n, d in inv.devices.items() if d.site == site_name]
            devs += [n for n, s in inv.servers.items() if s.site == site_name]
            if not devs:
                continue
            members = {d: list(intervals.get(d, [])) for d in devs}
            tl = combine(members, all_up, start, end, site_name)
            rows.append(sla_row(site_name, tl, start, end, name=site.name, kind=site.type,
                                target=site.availability_target or default_target,
                                maintenance=maintenance_spans(site.maintenance, start, end, tz),
                                reboots=_reboots(events, devs), members=devs))
    else:
        raise UsageError(f"--by {by}: use device, opd, desa or service")
    return rows
