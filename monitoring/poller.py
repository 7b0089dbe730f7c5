"""The poller: one polling cycle end to end, the lock, and the long-running loop.

A cycle: SNMP polls (bounded concurrency) and ICMP probes run together → rates/events derived
from the previous state → lines committed to the outbox (before any delivery) → availability
ledger and state updated → the outbox flushed to every sink.

``simpul poll --once`` (cron) and ``simpul poll`` (service) share one lock file in the state
directory, so runs never overlap: the second one sees the lock and skips with a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simpul.errors import ConfigError, LockedError
from simpul.results import Result, Status
from simpul.runner import Hook

from .devicepoll import DevicePoll, derive, poll_cycle, to_lines
from .engine import SnmpEngine
from .icmp import PingResult, ping_many
from .ledger import Ledger, LedgerEvent
from .lineproto import line
from .outbox import NO_SINK, STOPPED, FlushResult, Outbox, Sink
from .targets import HostRef

log = logging.getLogger(__name__)

STOP_GRACE = 0.5
"""Seconds a flush in progress may still take after SIGTERM before the poller leaves it."""


# --- lock ------------------------------------------------------------------------------------


@contextlib.contextmanager
def poll_lock(state_dir: Path, name: str = "poll") -> Iterator[Path]:
    """Hold ``<state_dir>/<name>.lock`` (flock, released by the kernel if we die).

    Raises :class:`LockedError` naming the holder's PID when another run has it.
    """
    path = state_dir / f"{name}.lock"
    if state_dir.exists() and not state_dir.is_dir():
        raise ConfigError(f"state directory {state_dir}: is a file, not a directory",
                          hint="point --state-dir, $SIMPUL_STATE_DIR or state_dir in simpul.toml "
                               "at a directory")
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise ConfigError(f"state directory {state_dir}: cannot use it ({e.strerror})",
                          hint="--state-dir, $SIMPUL_STATE_DIR or state_dir in simpul.toml must be "
                               "a directory this user can write") from e
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
            raise LockedError(
                f"another 'simpul poll' is running (pid {holder}, lock {path})",
                hint="this run is skipped; the running one will poll",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)


# --- one cycle -------------------------------------------------------------------------------


@dataclass
class CycleReport:
    timestamp: int
    started: float
    wall_s: float = 0.0
    cpu_s: float = 0.0
    polls: list[DevicePoll] = field(default_factory=list)
    pings: dict[str, PingResult] = field(default_factory=dict)
    availability: dict[str, bool] = field(default_factory=dict)
    events: list[LedgerEvent] = field(default_factory=list)
    lines: int = 0
    flush: list[FlushResult] = field(default_factory=list)
    interrupted: bool = False
    waiting_for_sink: int = 0  # lines kept for a sink configured later (no sink this run)

    def results(self) -> list[Result]:
        """One result per device and per sink that failed, for the exit code: SNMP failures,
        data-plane outages seen by ICMP, sinks that could not take the points."""
        from .devicepoll import device_result

        out = [device_result(p) for p in self.polls]
        polled = {p.target for p in self.polls}
        polled_ok = {p.target for p in self.polls if p.ok}
        for name, up in self.availability.items():
            if name not in polled:
                out.append(Result(name, Status.OK if up else Status.UNREACHABLE, "icmp"))
            elif not up and name in polled_ok:
                # the agent answers over the management path, the data plane does not
                out.append(Result(name, Status.UNREACHABLE, "icmp: no echo reply on the data plane"))
        for f in self.flush:
            if f.error or f.dead_batches:
                out.append(Result(
                    f.sink, Status.FAILED,
                    f"{f.error or ''} {f.pending_lines} lines kept on disk".strip()
                    + (f"; {f.dead_batches} batches rejected" if f.dead_batches else "")))
        return out

    def to_dict(self) -> dict[str, Any]:
        failed = {p.target: p.error for p in self.polls if not p.ok}
        return {
            "timestamp": self.timestamp,
            "wall_s": round(self.wall_s, 3),
            "cpu_s": round(self.cpu_s, 3),
            "snmp": {"polled": len(self.polls), "ok": len(self.polls) - len(failed),
                     "failed": failed},
            "icmp": {a: {"loss_pct": round(r.loss_pct, 1), "up": r.up} for a, r in self.pings.items()},
            "down": sorted(n for n, up in self.availability.items() if not up),
            "events": [e.__dict__ for e in self.events],
            "lines": self.lines,
            "sinks": [f.__dict__ for f in self.flush],
            "waiting_for_sink": self.waiting_for_sink,
            "interrupted": self.interrupted,
        }


@dataclass
class Poller:
    """Everything a cycle needs; build once, run :meth:`cycle` as often as you like."""

    hosts: Sequence[HostRef]
    engine: SnmpEngine
    state_dir: Path
    sinks: Sequence[Sink] = ()
    concurrency: int = 100
    interval: float = 60.0
    max_gap_factor: float = 3.0
    ping_count: int = 3
    icmp_netns: str | None = None
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        self._warned: set[tuple[str, str]] = set()
        self.outbox = Outbox(self.state_dir / "outbox.sqlite")
        try:
            self.ledger = Ledger(self.state_dir / "ledger.sqlite")
            # points polled earlier without a sink go to the sinks first (oldest first)
            batches, n = self.outbox.adopt([s.name for s in self.sinks])
        except BaseException:
            self.outbox.close()
            raise
        if batches:
            log.warning("%d points polled while no sink was configured are now queued for %s",
                        n, ", ".join(s.name for s in self.sinks))

    def close(self) -> None:
        self.outbox.close()
        self.ledger.close()

    async def cycle(self, stop: asyncio.Event | None = None, hooks: Sequence[Hook] = ()) -> CycleReport:
        started = self.clock()
        ts = int(started)
        cpu0 = time.process_time()
        rep = CycleReport(timestamp=ts, started=started)
        snmp_hosts = [h for h in self.hosts if h.snmp is not None]
        icmp_addrs = sorted({h.icmp_target for h in self.hosts if h.icmp})
        state = self.ledger.load_state()
        hints = {n: s.get("rows", {}) for n, s in state.items()}

        ping_task = (
            asyncio.create_task(asyncio.to_thread(ping_many, icmp_addrs, count=self.ping_count,
                                                  netns=self.icmp_netns))
            if icmp_addrs
            else None
        )
        polled_results = await poll_cycle(
            self.engine,
            [h.snmp for h in snmp_hosts if h.snmp is not None],
            {h.name: h.plan for h in snmp_hosts if h.plan is not None},
            concurrency=self.concurrency,
            rows_hint=hints,
            hooks=hooks,
            stop=stop,
        )
        polls: list[DevicePoll] = [r.value for r in polled_results]
        rep.pings = await ping_task if ping_task else {}
        rep.polls = polls
        rep.interrupted = bool(stop and stop.is_set())

        by_name = {h.name: h for h in self.hosts}
        lines: list[str] = []
        new_state: dict[str, dict[str, Any]] = {}
        observations: list[tuple[str, bool, float]] = []
        polled: dict[str, DevicePoll] = {dp.target: dp for dp in polls}
        for dp in polls:
            h = by_name[dp.target]
            assert h.plan is not None
            d = derive(state.get(dp.target), dp)
            new_state[dp.target] = d.state
            self._warn_unknown_rates(dp.target, d.unknown)
            lines += to_lines(dp, h.plan, h.tags, ts, d)
            rep.events += [
                LedgerEvent(e.at, e.device, e.kind, f"{e.ifname}: {e.detail}" if e.ifname else e.detail)
                for e in d.events
            ]
        for h in self.hosts:
            if rep.interrupted and h.name not in polled:
                continue  # not observed this cycle: says nothing about availability
            p = polled.get(h.name)
            pr = rep.pings.get(h.icmp_target) if h.icmp else None
            if pr is not None:
                ln = line("ping", {**h.tags, "url": h.icmp_target}, pr.fields(), ts)
                if ln:
                    lines.append(ln)
            if p is None and pr is None:
                continue
            up = available(h, p, pr)
            rep.availability[h.name] = up
            observations.append((h.name, up, started))
            prev = state.get(h.name, {}).get("available")
            if prev is not None and prev != up:
                rep.events.append(
                    LedgerEvent(started, h.name, "up" if up else "down",
                                "" if up else _why_down(p, pr))
                )
            new_state.setdefault(h.name, dict(state.get(h.name, {})))["available"] = up

        rep.lines = len(lines)
        # Durability order: data on disk first, then the bookkeeping that refers to it.
        self.outbox.put([s.name for s in self.sinks], lines)  # no sink: kept for a later one
        self.ledger.observe(observations, max_gap=self.interval * self.max_gap_factor)
        self.ledger.add_events(rep.events)
        self.ledger.save_state(new_state)
        rep.flush = await self._flush_until_stopped(stop)
        if not self.sinks:
            rep.waiting_for_sink = self.outbox.pending(NO_SINK)[1]
        rep.wall_s = self.clock() - started
        rep.cpu_s = time.process_time() - cpu0
        for e in rep.events:
            log.warning("%s: %s %s", e.entity, e.kind, e.detail) if e.kind in (
                "down", "reboot") else log.info("%s: %s %s", e.entity, e.kind, e.detail)
        return rep

    def _warn_unknown_rates(self, device: str, unknown: list[str]) -> None:
        """Say once per process which 32-bit counters are too small for the interval."""
        fresh = [u for u in unknown if (device, u) not in self._warned]
        if not fresh:
            return
        self._warned.update((device, u) for u in fresh)
        log.warning("%s: no rate for %s: a 32-bit counter can wrap more than once at the "
                    "interface speed within the %.0f s interval (the rate is unknown, not "
                    "guessed); give the device a profile with the 64-bit ifHC* counters, or poll "
                    "more often", device, ", ".join(sorted(fresh)), self.interval)

    async def _flush_until_stopped(self, stop: asyncio.Event | None) -> list[FlushResult]:
        """Flush in a thread of its own; on ``stop`` give it :data:`STOP_GRACE` seconds, then
        leave it: a sink that hangs must not hold up a SIGTERM for its whole HTTP timeout.

        The batch being delivered stays in the outbox (it is deleted only after the sink's
        acknowledgement, and a cancelled flush deletes nothing), so nothing is lost; the thread
        is a daemon and ends with the process.
        """
        loop = asyncio.get_running_loop()
        done: asyncio.Future[list[FlushResult]] = loop.create_future()

        def settle(result: list[FlushResult] | None, error: BaseException | None) -> None:
            if done.done():
                return
            if error is not None:
                done.set_exception(error)
            else:
                done.set_result(result or [])

        def work() -> None:
            try:
                res, err = self.flush(), None
            except BaseException as e:  # handed to the awaiting cycle, not lost in the thread
                res, err = None, e
            if not self.outbox.cancelled:
                with contextlib.suppress(RuntimeError):  # the loop is gone: we were abandoned
                    loop.call_soon_threadsafe(settle, res, err)

        threading.Thread(target=work, name="simpul-flush", daemon=True).start()
        if stop is None:
            return await done

        async def stop_and_grace() -> None:
            await stop.wait()
            await asyncio.sleep(STOP_GRACE)

        stopper = asyncio.ensure_future(stop_and_grace())
        try:
            waits: list[asyncio.Future[Any]] = [done, stopper]
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
        if done.done():
            return done.result()
        self.outbox.cancel()
        log.warning("poll: stopping without waiting for a sink that does not answer; "
                    "undelivered points stay in the outbox")
        out = []
        for s in self.sinks:
            b, n = self.outbox.pending(s.name)
            out.append(FlushResult(s.name, pending_batches=b, pending_lines=n, error=STOPPED))
        return out

    def flush(self) -> list[FlushResult]:
        return [self.outbox.flush(s) for s in self.sinks]

    async def run_forever(
        self, stop: asyncio.Event, on_cycle: Callable[[CycleReport], None] | None = None
    ) -> int:
        """Cycle every ``interval`` seconds (aligned to the wall clock) until ``stop`` is set.

        Returns the number of cycles run. A cycle in progress when ``stop`` is set lets its
        in-flight devices finish, commits what it has and flushes once.
        """
        n = 0
        while not stop.is_set():
            rep = await self.cycle(stop)
            n += 1
            if on_cycle:
                on_cycle(rep)
            now = self.clock()
            next_at = (int(now // self.interval) + 1) * self.interval
            with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.0, next_at - now))
        return n


def available(h: HostRef, p: DevicePoll | None, pr: PingResult | None) -> bool:
    """Is host ``h`` up in this cycle?

    - ICMP to a data-plane address (a desa router's loopback) decides alone: a desa is **down**
      when every echo request of the cycle was lost (100 % loss), even if its agent still
      answers SNMP over a separate management path — the desa's users are cut off. An SNMP
      failure with echo replies coming back is an agent problem, not an outage.
    - otherwise the host is up when SNMP answered or (if pinged) an echo reply came back.
    """
    if pr is not None and h.data_plane_probe:
        return pr.up
    return (p is not None and p.ok) or (pr is not None and pr.up)


def _why_down(p: DevicePoll | None, pr: PingResult | None) -> str:
    parts = []
    if p is not None and not p.ok:
        parts.append(f"snmp: {p.error}")
    if pr is not None and not pr.up:
        parts.append(f"icmp {pr.address}: {pr.sent} sent, 0 received")
    return "; ".join(parts)
