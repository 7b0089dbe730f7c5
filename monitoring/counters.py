"""Counter arithmetic: wrap-safe rates, wrap-versus-reboot, and sysUpTime's own wrap.

Pure functions, no I/O. The facts they encode (see ANCHORS.md):

- A Counter32 of octets wraps in ~34 s at 1 Gb/s; a Counter64 practically never wraps.
- A counter that goes *down* is either a wrap (add 2^32 / 2^64) or a discontinuity: the device
  (or its agent) restarted and the counter started again from zero. Which one is decided from
  sysUpTime / snmpEngineTime, not from the counter itself.
- sysUpTime is TimeTicks (1/100 s) in 32 bits: it wraps after 2^32 / 100 s ≈ 497.1 days. A
  sysUpTime that went down by about 2^32 while wall-clock time moved on normally is that wrap,
  not a reboot. snmpEngineTime (seconds since snmpEngineBoots last changed) does not wrap in
  practice and, with snmpEngineBoots, is the better witness when the agent has it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

COUNTER32_MAX = 2**32
COUNTER64_MAX = 2**64
TIMETICKS_WRAP = 2**32  # hundredths of a second
TIMETICKS_WRAP_SECONDS = TIMETICKS_WRAP / 100  # ≈ 497.1 days


class Restart(StrEnum):
    NONE = "none"
    REBOOT = "reboot"
    UPTIME_WRAP = "uptime-wrap"  # sysUpTime rolled over after ~497 days: not a reboot


@dataclass(frozen=True)
class Clock:
    """What the agent said about its own age at one poll, and when we asked (epoch seconds)."""

    at: float
    sys_uptime: int | None = None  # TimeTicks, 1/100 s
    engine_time: int | None = None  # seconds
    engine_boots: int | None = None


def classify_restart(prev: Clock, cur: Clock, *, slack: float = 5.0) -> Restart:
    """Did the agent restart between two polls?

    snmpEngineBoots/snmpEngineTime decide when both polls have them (RFC 3414: boots increase on
    every re-initialisation, time counts seconds since then). Otherwise sysUpTime decides: if it
    went down, compare with where a wrapped uptime would be now — ``(prev + elapsed·100) mod
    2^32`` — and call it a wrap only when the two agree within ``slack`` seconds (plus the
    elapsed time itself must be close to what the uptimes imply).

    >>> classify_restart(Clock(0, sys_uptime=500), Clock(60, sys_uptime=100))
    <Restart.REBOOT: 'reboot'>
    """
    elapsed = cur.at - prev.at
    if elapsed < 0:
        # Our own clock stepped back; nothing can be concluded from the agent's age.
        return Restart.NONE
    if (
        prev.engine_boots is not None
        and cur.engine_boots is not None
        and cur.engine_boots != prev.engine_boots
    ):
        return Restart.REBOOT
    if prev.engine_time is not None and cur.engine_time is not None:
        # An agent younger than the time since the last poll restarted in between, even if
        # its clock has already passed the previous reading.
        if cur.engine_time + slack < prev.engine_time or cur.engine_time + slack < elapsed:
            return Restart.REBOOT
        return Restart.NONE
    if prev.sys_uptime is None or cur.sys_uptime is None:
        return Restart.NONE
    if cur.sys_uptime >= prev.sys_uptime:
        if cur.sys_uptime / 100 + slack < elapsed:
            return Restart.REBOOT
        return Restart.NONE
    expected = (prev.sys_uptime + elapsed * 100) % TIMETICKS_WRAP
    wrapped = prev.sys_uptime + elapsed * 100 >= TIMETICKS_WRAP - slack * 100
    if wrapped and abs(cur.sys_uptime - expected) <= slack * 100:
        return Restart.UPTIME_WRAP
    return Restart.REBOOT


def counter_delta(prev: int, cur: int, *, bits: int = 64) -> int:
    """Increase of a counter between two reads, assuming at most one wrap.

    >>> counter_delta(2**32 - 10, 5, bits=32)
    15
    """
    if cur >= prev:
        return cur - prev
    return int(cur + (2**bits) - prev)


def may_wrap_twice(max_rate: float | None, elapsed: float, *, bits: int = 32) -> bool:
    """Could the counter have wrapped more than once in ``elapsed`` seconds at ``max_rate``?

    A Counter32 of octets on a 1 Gb/s interface (125,000,000 octets/s) wraps every ~34 s: at a
    60 s interval one, two or more wraps look the same, so no rate can be derived. Unknown
    speed → ``False`` (at most one wrap is assumed).

    >>> may_wrap_twice(125_000_000.0, 60.0)
    True
    >>> may_wrap_twice(12_500_000.0, 60.0)
    False
    """
    return bool(max_rate) and max_rate is not None and max_rate * elapsed >= 2**bits


def counter_rate(
    prev: int,
    cur: int,
    elapsed: float,
    *,
    bits: int = 64,
    restart: Restart = Restart.NONE,
    max_rate: float | None = None,
) -> float | None:
    """Per-second rate of a counter, or ``None`` when it cannot be known.

    - ``elapsed`` must be positive, else ``None``.
    - After a reboot a counter that went down restarted from zero: the interval holds an
      unknown amount of traffic before the reboot, so the rate is ``None`` (a gap, never a
      spike). A counter that went *up* across an agent restart (net-snmp restarted, kernel
      counters kept) is still a valid delta.
    - Without a restart, a counter that went down wrapped (Counter32) — ``None`` for a
      Counter64, which does not wrap within a polling interval; this is a discontinuity
      such as ``clear counters``.
    - ``max_rate`` (e.g. the interface speed) rejects impossible results as ``None``.
    - A Counter32 that could have wrapped more than once in ``elapsed`` at ``max_rate``
      (:func:`may_wrap_twice`) gives ``None``: the true rate cannot be told from the reads;
      such an interface needs the 64-bit counter (ifHC*) or a shorter interval.

    >>> counter_rate(4294967000, 200, 10.0, bits=32)
    49.6
    """
    if elapsed <= 0:
        return None
    if bits == 32 and may_wrap_twice(max_rate, elapsed):
        return None
    if cur < prev:
        if restart is Restart.REBOOT or bits == 64:
            return None
        delta = counter_delta(prev, cur, bits=bits)
    else:
        delta = cur - prev
    rate = delta / elapsed
    if max_rate is not None and max_rate > 0 and rate > max_rate * 1.05:
        return None
    return rate


def counter_bits(kind: str) -> int:
    return 32 if kind == "counter32" else 64


class Transition(StrEnum):
    UP = "up"
    DOWN = "down"


def transition(prev_up: bool | None, cur_up: bool) -> Transition | None:
    """The up/down event between two observations, if any (the first observation is none)."""
    if prev_up is None or prev_up == cur_up:
        return None
    return Transition.UP if cur_up else Transition.DOWN


def speed_bps(speed: int | None, unit: str | None) -> float | None:
    """Interface speed in bit/s from ifHighSpeed (Mb/s) or ifSpeed (b/s); 0 means unknown."""
    if not speed or unit is None:
        return None
    return float(speed) * (1_000_000 if unit == "mbps" else 1)
