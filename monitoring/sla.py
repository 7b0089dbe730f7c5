"""SLA arithmetic: availability per device, site (OPD/desa) and service, maintenance excluded.

Pure functions over ledger intervals (Pergub Jateng draft 2025 Pasal 7, 11, 16: service levels
against targets, availability is evaluated; Perbup Temanggung 83/2021 Pasal 14(8): the Pusat
Data guarantees server up-time).

Definitions (also in docs/monitoring.md):

- *measured time* = the month minus declared maintenance minus time without data;
- *availability %* = up time ÷ measured time × 100;
- *coverage %* = measured time ÷ (the month minus declared maintenance) × 100: how much of the
  time the availability speaks for;
- *verdict*: ``met`` / ``missed`` against the target when coverage reaches the threshold
  (``--min-coverage``, default :data:`DEFAULT_MIN_COVERAGE` %); below it ``insufficient`` —
  unless the downtime already measured exceeds what the target allows over the whole month,
  which no missing data could undo (then ``missed``); ``nodata`` when nothing was measured;
- *downtime* = down time outside maintenance; an *incident* = one maximal down stretch;
- an *outage* (the outage list) = one maximal down stretch with its start, end, the part
  declared maintenance covered, and its cause where the ledger's events tell it (link down,
  device unreachable, reboot);
- a **service** is up while every server *role* it uses (web, app, db, …) has at least one of
  its servers up: two web servers behind the portal are redundant, its app and db are not;
- a **site** (OPD, desa) is up while every device at the site is up (a desa usually has one
  edge router; an OPD edge router down cuts the whole OPD off the Jaringan Intra).
"""

from __future__ import annotations

import calendar
import itertools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from simpul.errors import UsageError
from simpul.inventory.models import Inventory, Maintenance

from .ledger import DOWN, UNKNOWN, UP, Interval, LedgerEvent

Span = tuple[float, float]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_TZ = "Asia/Jakarta"  # WIB; the inventory's maintenance times are local wall-clock times
DEFAULT_MIN_COVERAGE = 90.0  # % of the month (outside maintenance) that must have data for a verdict
#: the years a report can cover: the ledger is written in epoch seconds by a running poller
YEARS = (1970, 9998)
#: how far (seconds) from an outage an event may lie and still explain it: a reboot is seen
#: at the first good poll after it, half a poll interval after the outage's midpoint end
CAUSE_SLACK_S = 300.0

# the time-zone abbreviations Indonesians use; other zones print their own abbreviation
TZ_NAMES = {"Asia/Jakarta": "WIB", "Asia/Pontianak": "WIB", "Asia/Makassar": "WITA",
            "Asia/Jayapura": "WIT"}


def zone(tz: str) -> ZoneInfo:
    """The IANA zone ``tz``, or a :class:`UsageError` naming ``--tz``."""
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise UsageError(f"--tz '{tz}': unknown time zone",
                         hint="use an IANA name: Asia/Jakarta (WIB), Asia/Makassar (WITA), "
                              "Asia/Jayapura (WIT), UTC") from e


def tz_label(tz: str) -> str:
    """``Asia/Jakarta`` → ``WIB``; other zones by their IANA name."""
    return TZ_NAMES.get(tz, tz)


def parse_month(month: str) -> tuple[int, int]:
    """``"2026-10"`` → ``(2026, 10)``, or a :class:`UsageError` naming ``--month``."""
    m = re.fullmatch(r"(\d{4})-(\d{1,2})", month.strip())
    if not m or not 1 <= int(m[2]) <= 12:
        raise UsageError(f"--month '{month}': expected YYYY-MM, e.g. 2026-10")
    y = int(m[1])
    if not YEARS[0] <= y <= YEARS[1]:
        raise UsageError(f"--month '{month}': the year must lie between {YEARS[0]} and {YEARS[1]}")
    return y, int(m[2])


def month_range(month: str, tz: str = DEFAULT_TZ) -> Span:
    """``"2026-10"`` → epoch seconds of the first instant of the month and of the next, in ``tz``."""
    y, m = parse_month(month)
    start = datetime(y, m, 1, tzinfo=zone(tz))
    end = start + timedelta(days=calendar.monthrange(y, m)[1])
    return start.timestamp(), end.timestamp()


def previous_month(month: str) -> str:
    y, m = parse_month(month)
    return f"{y - 1}-12" if m == 1 else f"{y}-{m - 1:02d}"


def year_months(year: int) -> list[str]:
    if not YEARS[0] <= year <= YEARS[1]:
        raise UsageError(f"--year {year}: the year must lie between {YEARS[0]} and {YEARS[1]}")
    return [f"{year}-{m:02d}" for m in range(1, 13)]


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

LINK, UNREACHABLE, REBOOT = "link", "unreachable", "reboot"
VERDICTS = ("met", "missed", "insufficient", "nodata")


@dataclass(frozen=True)
class Outage:
    """One maximal down stretch of an entity, as the outage list shows it."""

    start: float
    end: float
    maintenance_s: float = 0.0  # the part declared maintenance covered (not downtime)
    cause: str | None = None  # link | unreachable | reboot | None (unknown)
    detail: str = ""  # the evidence: which member, which link or event
    ongoing: bool = False  # still down when the report period ended

    @property
    def seconds(self) -> float:
        return self.end - self.start

    @property
    def downtime_s(self) -> float:
        return max(0.0, self.seconds - self.maintenance_s)

    @property
    def covered(self) -> str:
        """How much of it declared maintenance covered: ``full``, ``partial`` or ``none``."""
        if self.maintenance_s <= 0:
            return "none"
        return "full" if self.downtime_s <= 0 else "partial"

    def to_dict(self, tz: str = DEFAULT_TZ) -> dict[str, object]:
        z = ZoneInfo(tz)
        return {
            "start": round(self.start), "end": round(self.end),
            "start_local": datetime.fromtimestamp(self.start, z).isoformat(timespec="seconds"),
            "end_local": datetime.fromtimestamp(self.end, z).isoformat(timespec="seconds"),
            "duration_min": round(self.seconds / 60, 2),
            "downtime_min": round(self.downtime_s / 60, 2),
            "maintenance": self.covered,
            "cause": self.cause, "detail": self.detail, "ongoing": self.ongoing,
        }


@dataclass(frozen=True)
class Previous:
    """The same entity in the previous period, for the comparison columns."""

    month: str
    availability: float
    incidents: int
    downtime_min: float
    verdict: str


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
    outage_list: list[Outage] = field(default_factory=list)
    min_coverage: float = DEFAULT_MIN_COVERAGE
    previous: Previous | None = None

    @property
    def availability(self) -> float | None:
        return 100.0 * self.up_s / self.measured_s if self.measured_s > 0 else None

    @property
    def expected_s(self) -> float:
        """The time that should have been measured: the period minus declared maintenance."""
        return self.measured_s + self.nodata_s

    @property
    def coverage(self) -> float | None:
        return 100.0 * self.measured_s / self.expected_s if self.expected_s > 0 else None

    @property
    def verdict(self) -> str:
        """``met``, ``missed``, ``insufficient`` (too little data to say) or ``nodata``."""
        a, cov = self.availability, self.coverage
        if a is None or cov is None:
            return "nodata"
        if cov + 1e-9 < self.min_coverage:
            # even with every unmeasured second up, the downtime already exceeds the allowance
            allowed = self.expected_s * (100 - self.target) / 100
            return "missed" if self.down_s > allowed + 1e-6 else "insufficient"
        return "met" if a + 1e-9 >= self.target else "missed"

    @property
    def met(self) -> bool | None:
        v = self.verdict
        return True if v == "met" else False if v == "missed" else None

    @property
    def downtime_min(self) -> float:
        return self.down_s / 60

    @property
    def allowed_downtime_min(self) -> float:
        return self.measured_s * (100 - self.target) / 100 / 60

    @property
    def delta_availability(self) -> float | None:
        """Percentage points against the previous period (positive = better)."""
        a = self.availability
        return None if a is None or self.previous is None else a - self.previous.availability

    @property
    def delta_incidents(self) -> int | None:
        return None if self.previous is None else self.incidents - self.previous.incidents

    def to_dict(self, tz: str = DEFAULT_TZ) -> dict[str, object]:
        a, cov, d = self.availability, self.coverage, self.delta_availability
        prev = self.previous
        return {
            "entity": self.entity,
            "name": self.name,
            "kind": self.kind,
            "target_pct": self.target,
            "availability_pct": None if a is None else round(a, 4),
            "coverage_pct": None if cov is None else round(cov, 2),
            "verdict": self.verdict,
            "met": self.met,
            "downtime_min": round(self.downtime_min, 2),
            "maintenance_min": round(self.maintenance_s / 60, 2),
            "nodata_min": round(self.nodata_s / 60, 2),
            "incidents": self.incidents,
            "reboots": self.reboots,
            "outages": [o.to_dict(tz) for o in self.outage_list],
            "previous": None if prev is None else {
                "month": prev.month, "availability_pct": round(prev.availability, 4),
                "incidents": prev.incidents, "downtime_min": round(prev.downtime_min, 2),
                "verdict": prev.verdict,
                "delta_availability_pp": None if d is None else round(d, 4),
                "delta_incidents": self.delta_incidents},
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
    min_coverage: float = DEFAULT_MIN_COVERAGE,
    explain: Callable[[Span], tuple[str | None, str]] | None = None,
    ongoing_at: float | None = None,
) -> SlaRow:
    """Availability of one entity over ``[start, end)`` from its timeline.

    ``explain(span)`` gives an outage's (cause, detail); ``ongoing_at`` is the instant the
    report stops (now, for the current month): an outage running until then is ``ongoing``.
    """
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
    outage_list = []
    for s, e in raw_down:
        in_maint = (e - s) - _total(subtract([(s, e)], maint))
        cause, detail = explain((s, e)) if explain else (None, "")
        outage_list.append(Outage(s, e, in_maint, cause, detail,
                                  ongoing=ongoing_at is not None and e >= ongoing_at - 1e-6))
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
        outage_list=outage_list,
        min_coverage=min_coverage,
    )


def _reboots(events: Iterable[LedgerEvent], members: Iterable[str]) -> int:
    ms = set(members)
    return sum(1 for e in events if e.kind == "reboot" and e.entity in ms)


# --- causes ------------------------------------------------------------------------------------


def link_ends(inv: Inventory) -> dict[str, list[tuple[str, str, str, str]]]:
    """device → [(its interface, peer device, peer interface, link name)] from the inventory."""
    out: dict[str, list[tuple[str, str, str, str]]] = {}
    for name, lk in inv.links.items():
        a_dev, a_if = lk.a.split(":", 1)
        b_dev, b_if = lk.b.split(":", 1)
        out.setdefault(a_dev, []).append((a_if, b_dev, b_if, name))
        out.setdefault(b_dev, []).append((b_if, a_dev, a_if, name))
    return out


def _if_name(detail: str) -> str:
    # poller events carry "<ifName>: ifOperStatus 1 → 2"
    return detail.rsplit(": ifOperStatus", 1)[0] if ": ifOperStatus" in detail else detail


def explain_outage(
    span: Span,
    members: Sequence[str],
    events: Sequence[LedgerEvent],
    links: Mapping[str, Sequence[tuple[str, str, str, str]]] | None = None,
    slack: float = CAUSE_SLACK_S,
) -> tuple[str | None, str]:
    """Why an entity was down over ``span``, from the ledger's events around it (pure).

    - **reboot**: a member reported a restart (snmpEngineBoots/uptime) within the outage or
      just after it;
    - **link**: an interface of a member, or the peer end of one of its links, went down; or
      the data-plane probe failed while the member's agent still answered over management;
    - **unreachable**: the member answered neither SNMP nor ping;
    - ``None`` when the events say nothing (e.g. a ledger written before events were kept).
    """
    s, e = span
    ms = set(members)
    near = [ev for ev in events if s - slack <= ev.at <= e + slack]
    for ev in near:
        if ev.kind == "reboot" and ev.entity in ms and ev.at >= s - 1e-6:
            return REBOOT, f"{ev.entity}: {ev.detail}".rstrip(": ")
    ifdown = [ev for ev in near if ev.kind == "if-down" and ev.at <= e + 1e-6]
    for m in members:
        for local_if, peer, peer_if, lname in (links or {}).get(m, ()):
            for ev in ifdown:
                if (ev.entity, _if_name(ev.detail)) in ((m, local_if), (peer, peer_if)):
                    return LINK, f"{lname}: {ev.entity} {_if_name(ev.detail)} down"
    for ev in ifdown:
        if ev.entity in ms:
            return LINK, f"{ev.entity} {_if_name(ev.detail)} down"
    downs = [ev for ev in near if ev.kind == "down" and ev.entity in ms]
    for ev in downs:
        if "icmp" in ev.detail and "snmp:" not in ev.detail:
            # the agent answered over the management path; the data plane did not
            return LINK, f"{ev.entity}: {ev.detail}"
    for ev in downs:
        return UNREACHABLE, f"{ev.entity}: {ev.detail}".rstrip(": ")
    return None, ""


# --- report rows -------------------------------------------------------------------------------


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
    min_coverage: float = DEFAULT_MIN_COVERAGE,
    ongoing_at: float | None = None,
) -> list[SlaRow]:
    """The rows of ``simpul sla report --by device|opd|desa|service``."""
    rows: list[SlaRow] = []
    links = link_ends(inv)

    def explainer(members: Sequence[str]) -> Callable[[Span], tuple[str | None, str]]:
        return lambda span: explain_outage(span, members, events, links)

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
                                reboots=_reboots(events, [name]), members=[name],
                                explain=explainer([name]),
                                min_coverage=min_coverage, ongoing_at=ongoing_at))
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
                                reboots=_reboots(events, svc.servers), members=list(svc.servers),
                                explain=explainer(list(svc.servers)),
                                min_coverage=min_coverage, ongoing_at=ongoing_at))
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
                                reboots=_reboots(events, devs), members=devs,
                                explain=explainer(devs),
                                min_coverage=min_coverage, ongoing_at=ongoing_at))
    else:
        raise UsageError(f"--by {by}: use device, opd, desa or service")
    return rows


def attach_previous(rows: Sequence[SlaRow], prev_rows: Sequence[SlaRow], month: str) -> int:
    """Give each row its previous-period figures where that period has data; returns how many."""
    by_entity = {r.entity: r for r in prev_rows}
    n = 0
    for r in rows:
        p = by_entity.get(r.entity)
        a = p.availability if p is not None else None
        if p is None or a is None:
            continue
        r.previous = Previous(month, a, p.incidents, p.downtime_min, p.verdict)
        n += 1
    return n


@dataclass
class YearRow:
    """One entity over twelve months (``sla report --year``)."""

    entity: str
    name: str
    kind: str
    target: float
    months: list[SlaRow | None]  # None: a month after the report's end (not reported)
    total: SlaRow

    def to_dict(self) -> dict[str, object]:
        def cell(r: SlaRow | None) -> dict[str, object] | None:
            if r is None:
                return None
            a, c = r.availability, r.coverage
            return {"availability_pct": None if a is None else round(a, 4),
                    "coverage_pct": None if c is None else round(c, 2), "verdict": r.verdict,
                    "downtime_min": round(r.downtime_min, 2), "incidents": r.incidents}

        return {"entity": self.entity, "name": self.name, "kind": self.kind,
                "target_pct": self.target, "months": [cell(r) for r in self.months],
                "year": cell(self.total)}


def year_rows(per_month: Sequence[Sequence[SlaRow] | None]) -> list[YearRow]:
    """Twelve months of rows (None for months not reported) → one :class:`YearRow` per entity.

    The year's own figures add the months' times up (an availability over the whole year, not
    an average of monthly percentages).
    """
    months = [{r.entity: r for r in rows} if rows is not None else None for rows in per_month]
    first = next((rows for rows in per_month if rows is not None), [])
    out = []
    for r0 in first:
        cells = [m.get(r0.entity) if m is not None else None for m in months]
        got = [c for c in cells if c is not None]
        total = SlaRow(
            entity=r0.entity, name=r0.name, kind=r0.kind, target=r0.target,
            measured_s=sum(c.measured_s for c in got), up_s=sum(c.up_s for c in got),
            down_s=sum(c.down_s for c in got), maintenance_s=sum(c.maintenance_s for c in got),
            nodata_s=sum(c.nodata_s for c in got), incidents=sum(c.incidents for c in got),
            reboots=sum(c.reboots for c in got), members=r0.members,
            outage_list=[o for c in got for o in c.outage_list], min_coverage=r0.min_coverage)
        out.append(YearRow(r0.entity, r0.name, r0.kind, r0.target, cells, total))
    return out
