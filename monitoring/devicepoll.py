"""Polling devices: one device's SNMP answer, many devices through the core runner, and the
pure derivations of rates and events.

:func:`poll_device` runs one :class:`~simpul.monitoring.profiles.PollPlan` against one agent
(one GET for the scalars, one GETBULK walk per table column, falling back from ifXTable HC
columns to ifTable 32-bit ones). :func:`poll_cycle` runs many through
:func:`simpul.runner.run_each_async` with a bound on devices in flight (``concurrency``); each
device's :class:`~simpul.results.Result` carries its :class:`DevicePoll` as ``value``, and a
device that fails becomes a failed result, never an exception that stops the cycle.

:func:`derive` is pure: given the previous state of a device and a new poll it returns the
wrap/reboot-safe rates, the events (reboot, device up/down, interface up/down) and the new state.
:func:`to_lines` turns a poll into Telegraf-compatible line protocol.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from simpul.results import Result, Status
from simpul.runner import Hook, run_each_async

from .counters import (
    Clock,
    Restart,
    classify_restart,
    counter_bits,
    counter_rate,
    may_wrap_twice,
    speed_bps,
    transition,
)
from .engine import SnmpEngine, SnmpError, SnmpTarget, Value
from .lineproto import line
from .profiles import Column, PollPlan

log = logging.getLogger(__name__)

IF_OPER_UP = 1


@dataclass(frozen=True)
class UsedColumn:
    """Which column actually answered (the primary or its fallback)."""

    name: str
    type: str
    rate: str | None
    scale: float
    speed: str | None


@dataclass
class DevicePoll:
    """What one device answered in one cycle."""

    target: str
    at: float
    ok: bool = False
    error: str | None = None
    error_kind: str | None = None  # timeout | auth | error
    duration: float = 0.0
    scalars: dict[str, dict[str, Value]] = field(default_factory=dict)
    tables: dict[str, dict[str, dict[str, Value]]] = field(default_factory=dict)
    columns: dict[str, dict[str, UsedColumn]] = field(default_factory=dict)
    requests: int = 0

    @property
    def clock(self) -> Clock:
        s = self.scalars.get("snmp", {})

        def i(k: str) -> int | None:
            v = s.get(k)
            return v if isinstance(v, int) else None

        return Clock(
            at=self.at,
            sys_uptime=i("sysUpTime"),
            engine_time=i("snmpEngineTime"),
            engine_boots=i("snmpEngineBoots"),
        )


_LINE_BREAKS = str.maketrans("", "", "\r\n\t")


def _is_text(s: str) -> bool:
    """Printable text; line breaks and tabs count as text (a Cisco IOS sysDescr has four lines)."""
    return s.translate(_LINE_BREAKS).isprintable()


def _norm(v: Value, kind: str) -> Value:
    if kind == "string":
        if isinstance(v, bytes):
            try:
                s = v.decode("utf-8").rstrip("\x00")
            except UnicodeDecodeError:
                return v.hex(":")
            # text stays text (line breaks included); binary (a MAC address...) becomes hex
            return s if _is_text(s) else v.hex(":")
        return None if v is None else str(v)
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int | float):
        return v
    if isinstance(v, bytes):
        return None
    try:
        return int(v) if v is not None else None
    except (TypeError, ValueError):
        return None


def _used(c: Column, fallback: bool) -> UsedColumn:
    if fallback and c.fallback:
        f = c.fallback
        return UsedColumn(f.name, f.type, c.rate, c.scale, f.speed)
    return UsedColumn(c.name, c.type, c.rate, c.scale, c.speed)


async def poll_device(
    engine: SnmpEngine,
    target: SnmpTarget,
    plan: PollPlan,
    *,
    rows_hint: dict[str, int] | None = None,
    now: Callable[[], float] = time.time,
) -> DevicePoll:
    """Poll one device. Never raises for SNMP problems: they end up in ``DevicePoll.error``."""
    res = DevicePoll(target=target.name, at=now())
    t0 = time.perf_counter()
    try:
        async with engine.session(target) as s:
            if plan.scalars:
                got = await s.get([c.oid for _, c in plan.scalars])
                res.requests += 1
                for m, c in plan.scalars:
                    if c.oid in got:
                        v = _norm(got[c.oid], c.type)
                        if v is not None:
                            res.scalars.setdefault(m, {})[c.name] = v
            for t in plan.tables:
                reps = (rows_hint or {}).get(t.name, 30) + 1
                rows: dict[str, dict[str, Value]] = {}
                used: dict[str, UsedColumn] = {}
                for c in t.columns:
                    vbs = await s.walk(c.oid, reps)
                    res.requests += 1
                    fb = False
                    if not vbs and c.fallback:
                        vbs = await s.walk(c.fallback.oid, reps)
                        res.requests += 1
                        fb = True
                    if not vbs:
                        continue
                    u = _used(c, fb)
                    used[c.name] = u
                    base = len(c.fallback.oid if fb and c.fallback else c.oid) + 1
                    for oid, val in vbs:
                        v = _norm(val, u.type)
                        if v is not None:
                            rows.setdefault(oid[base:], {})[u.name] = v
                if rows:
                    res.tables[t.name] = rows
                    res.columns[t.name] = used
        res.ok = True
    except SnmpError as e:
        res.error = e.reason
        res.error_kind = type(e).__name__.removeprefix("Snmp").lower()
        log.info("%s: poll failed: %s", target.name, e.reason)
    res.duration = time.perf_counter() - t0
    return res


def device_result(dp: DevicePoll) -> Result:
    """The runner's result for one device poll: OK, or unreachable (timeout, no agent), or
    failed (the agent answered but refused our credentials)."""
    if dp.ok:
        return Result(dp.target, Status.OK, f"{dp.requests} requests", seconds=dp.duration, value=dp)
    status = Status.FAILED if dp.error_kind == "authfailure" else Status.UNREACHABLE
    return Result(dp.target, status, dp.error or "", seconds=dp.duration, value=dp)


async def poll_cycle(
    engine: SnmpEngine,
    targets: Sequence[SnmpTarget],
    plans: dict[str, PollPlan],
    *,
    concurrency: int = 100,
    rows_hint: dict[str, dict[str, int]] | None = None,
    hooks: Sequence[Hook] = (),
    stop: asyncio.Event | None = None,
) -> list[Result]:
    """Poll every target with at most ``concurrency`` devices in flight; one result per device
    polled (``value``: its :class:`DevicePoll`).

    ``plans`` maps a target name to its plan. ``stop`` (set by SIGTERM) lets the devices in
    flight finish and skips the rest.
    """
    hints = rows_hint or {}

    async def one(t: SnmpTarget) -> Result:
        return device_result(await poll_device(engine, t, plans[t.name], rows_hint=hints.get(t.name)))

    return await run_each_async(targets, one, name=lambda t: t.name, parallel=concurrency,
                                hooks=hooks, stop=stop)


# --- derived values: rates, events, state ------------------------------------------------------


@dataclass(frozen=True)
class Event:
    at: float
    device: str
    kind: str  # reboot | uptime-wrap | snmp-down | snmp-up | if-down | if-up
    detail: str = ""
    ifname: str | None = None


@dataclass
class Derived:
    rates: dict[str, dict[str, dict[str, float]]]  # table → index → {rate name: value}
    events: list[Event]
    state: dict[str, Any]
    restart: Restart = Restart.NONE
    unknown: list[str] = field(default_factory=list)
    """Rates left out because a 32-bit counter may have wrapped more than once: one
    ``"<table>/<row name>/<column>"`` per rate, for the poller to log."""


def derive(prev: dict[str, Any] | None, poll: DevicePoll) -> Derived:
    """Rates and events from the previous state of a device and its new poll (pure).

    ``prev``/``state`` is a JSON-able dict: ``{"up", "clock", "counters", "oper"}``.
    A failed poll keeps the old counters (the next good poll computes a rate over the whole gap,
    unless the device restarted meanwhile) and records ``snmp-down`` once.
    """
    prev = prev or {}
    events: list[Event] = []
    was_up = prev.get("up")
    tr = transition(was_up, poll.ok)
    if tr is not None:
        events.append(
            Event(poll.at, poll.target, f"snmp-{tr.value}", "" if poll.ok else (poll.error or ""))
        )
    if not poll.ok:
        st = dict(prev)
        st["up"] = False
        return Derived({}, events, st)

    cur_clock = poll.clock
    restart = Restart.NONE
    pc = prev.get("clock")
    prev_clock = Clock(**pc) if pc else None
    if prev_clock is not None:
        restart = classify_restart(prev_clock, cur_clock)
        if restart is Restart.REBOOT:
            events.append(Event(poll.at, poll.target, "reboot", _reboot_detail(prev_clock, cur_clock)))
        elif restart is Restart.UPTIME_WRAP:
            events.append(Event(poll.at, poll.target, "uptime-wrap", "sysUpTime wrapped (497 days)"))
    elapsed = poll.at - prev_clock.at if prev_clock else 0.0

    prev_counters: dict[str, int] = prev.get("counters", {})
    prev_oper: dict[str, int] = prev.get("oper", {})
    counters: dict[str, int] = {}
    oper: dict[str, int] = {}
    rates: dict[str, dict[str, dict[str, float]]] = {}
    unknown: list[str] = []
    for tname, rows in poll.tables.items():
        used = poll.columns.get(tname, {})
        speed_col = next((u for u in used.values() if u.speed), None)
        for idx, row in rows.items():
            max_bps = None
            if speed_col is not None:
                sv = row.get(speed_col.name)
                max_bps = speed_bps(sv if isinstance(sv, int) else None, speed_col.speed)
            for u in used.values():
                v = row.get(u.name)
                if u.type in ("counter32", "counter64") and isinstance(v, int):
                    key = f"{tname}/{idx}/{u.name}"
                    counters[key] = v
                    if u.rate and key in prev_counters and elapsed > 0:
                        max_rate = max_bps / u.scale if (max_bps and u.scale == 8) else None
                        if u.type == "counter32" and may_wrap_twice(max_rate, elapsed):
                            rname = str(row.get("ifName") or row.get("ifDescr") or idx)
                            unknown.append(f"{tname}/{rname}/{u.name}")
                            continue
                        r = counter_rate(
                            prev_counters[key],
                            v,
                            elapsed,
                            bits=counter_bits(u.type),
                            restart=restart,
                            max_rate=max_rate,
                        )
                        if r is not None:
                            rates.setdefault(tname, {}).setdefault(idx, {})[u.rate] = r * u.scale
            oper_status = row.get("ifOperStatus")
            if tname == "interface" and isinstance(oper_status, int):
                o = oper_status
                oper[idx] = o
                po = prev_oper.get(idx)
                if po is not None and (po == IF_OPER_UP) != (o == IF_OPER_UP):
                    name = str(row.get("ifName") or row.get("ifDescr") or idx)
                    events.append(
                        Event(
                            poll.at,
                            poll.target,
                            "if-up" if o == IF_OPER_UP else "if-down",
                            f"ifOperStatus {po} → {o}",
                            ifname=name,
                        )
                    )
    state = {
        "up": True,
        "clock": {
            "at": cur_clock.at,
            "sys_uptime": cur_clock.sys_uptime,
            "engine_time": cur_clock.engine_time,
            "engine_boots": cur_clock.engine_boots,
        },
        "counters": counters,
        "oper": oper,
        "rows": {t: len(r) for t, r in poll.tables.items()},
    }
    return Derived(rates, events, state, restart, unknown)


def _reboot_detail(p: Clock, c: Clock) -> str:
    if p.engine_boots is not None and c.engine_boots is not None and p.engine_boots != c.engine_boots:
        return f"snmpEngineBoots {p.engine_boots} → {c.engine_boots}"
    if p.engine_time is not None and c.engine_time is not None:
        return f"snmpEngineTime {p.engine_time}s → {c.engine_time}s"
    return f"sysUpTime {p.sys_uptime} → {c.sys_uptime} ticks"


# --- line protocol -----------------------------------------------------------------------------


def to_lines(
    poll: DevicePoll,
    plan: PollPlan,
    tags: dict[str, str],
    timestamp: int,
    derived: Derived | None = None,
) -> list[str]:
    """Telegraf-compatible lines for one device.

    ``tags`` come from the inventory (``agent_host``, ``device``, ``site``, ``site_type``,
    ``role``...). Tables get ``index_tag`` plus their tag columns (``ifIndex``, ``ifName``).
    A poll status line (measurement ``simpul_poll``) is always written, also for a failed poll.
    """
    out: list[str] = []
    status = line(
        "simpul_poll",
        tags,
        {
            "up": 1 if poll.ok else 0,
            "duration_ms": round(poll.duration * 1000, 3),
            "requests": poll.requests,
            "error": poll.error,
        },
        timestamp,
    )
    if status:
        out.append(status)
    if not poll.ok:
        return out
    for m, fields in poll.scalars.items():
        ln = line(m, tags, fields, timestamp)
        if ln:
            out.append(ln)
    by_name = {t.name: t for t in plan.tables}
    for tname, rows in poll.tables.items():
        t = by_name[tname]
        used = poll.columns.get(tname, {})
        tag_names = {used[c.name].name for c in t.tags if c.name in used}
        rates = (derived.rates.get(tname, {}) if derived else {})
        for idx, row in rows.items():
            rtags = dict(tags)
            rtags[t.index_tag] = idx
            for tn in tag_names:
                if row.get(tn) not in (None, ""):
                    rtags[tn] = str(row[tn])
            fields = {k: v for k, v in row.items() if k not in tag_names}
            ln = line(t.measurement, rtags, fields, timestamp)
            if ln:
                out.append(ln)
            if idx in rates:
                ln = line(f"{t.measurement}_rate", rtags, rates[idx], timestamp)
                if ln:
                    out.append(ln)
    if derived:
        for ev in derived.events:
            et = {**tags, "event": ev.kind}
            if ev.ifname:
                et["ifName"] = ev.ifname
            ln = line("simpul_event", et, {"detail": ev.detail or ev.kind}, timestamp)
            if ln:
                out.append(ln)
    return out


def summarise(polls: Iterable[DevicePoll]) -> dict[str, Any]:
    ps = list(polls)
    ok = sum(1 for p in ps if p.ok)
    return {
        "devices": len(ps),
        "ok": ok,
        "failed": len(ps) - ok,
        "requests": sum(p.requests for p in ps),
    }
