"""One runner for all per-host work: bounded fan-out, one :class:`Result` per target, hooks.

nornir's model (``nornir/core/task.py``, ``nornir/core/processor.py``): a domain writes the
work for *one* target as a function that returns a :class:`~simpul.results.Result`; the runner
fans it out over many targets with a bound on how many run at once, turns an exception of one
target into a failed result for that target (one failing host never stops the others), and
calls hooks as each result arrives — the progress bar and the operations log are hooks, so no
domain opens its own thread pool, prints or writes the log.

- :func:`run_each` — threads, for blocking work (SSH, pyinfra, netmiko, subprocesses);
- :func:`run_each_async` — asyncio tasks, for the SNMP poller's thousands of devices.

Ctrl-C: targets not yet started are cancelled, the ones already running are allowed to finish
(a router or server half-changed is worse than a late exit) and are recorded, then
:class:`Interrupted` (exit 130) is raised carrying the results so far. A second Ctrl-C stops
waiting. Hooks run in the calling thread, one result at a time, so they need no locks.

Example::

    def ping_one(name: str) -> Result:
        return Result(name, Status.OK, "pong")

    results = run_each(["pd-web", "pd-db"], ping_one, parallel=10,
                       hooks=[app.progress_hook("ping", 2)])
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Protocol, TypeVar

from simpul.errors import ExitCode, SimpulError, UnreachableError
from simpul.results import Result, Status

log = logging.getLogger(__name__)

T = TypeVar("T")


class Hook(Protocol):
    """Called by the runner as each target's result arrives (in the calling thread)."""

    def done(self, result: Result) -> None: ...


class Interrupted(SimpulError):
    """The run was interrupted (Ctrl-C / SIGTERM); ``results`` holds what finished."""

    exit_code = ExitCode.INTERRUPTED

    def __init__(self, message: str, results: list[Result]) -> None:
        super().__init__(message)
        self.results = results


def failure(target: str, exc: BaseException, seconds: float = 0.0) -> Result:
    """The result for a task that raised: unreachable, failed, or an internal error."""
    if isinstance(exc, UnreachableError):
        return Result(target, Status.UNREACHABLE, exc.reason, seconds=seconds, exception=exc)
    if isinstance(exc, SimpulError):
        msg = exc.message if not exc.hint else f"{exc.message} (hint: {exc.hint})"
        return Result(target, Status.FAILED, msg, seconds=seconds, exception=exc)
    log.error("%s: internal error in the task: %s: %s", target, type(exc).__name__, exc,
              exc_info=log.isEnabledFor(logging.DEBUG))
    return Result(target, Status.FAILED,
                  f"internal error: {type(exc).__name__}: {exc} (re-run with -vv for details)",
                  seconds=seconds, exception=exc)


def _guarded(task: Callable[[T], Result], item: T, target: str) -> Result:
    t0 = time.monotonic()
    try:
        r = task(item)
    except Exception as e:  # one target's failure becomes its result (nornir)
        return failure(target, e, time.monotonic() - t0)
    if not r.seconds:
        r.seconds = time.monotonic() - t0
    return r


def _notify(hooks: Sequence[Hook], r: Result) -> None:
    for h in hooks:
        h.done(r)


def run_each(
    items: Sequence[T],
    task: Callable[[T], Result],
    *,
    name: Callable[[T], str] = str,
    parallel: int = 10,
    hooks: Sequence[Hook] = (),
) -> list[Result]:
    """Run ``task`` on every item, at most ``parallel`` at once; results in input order.

    ``name(item)`` is the target name used when the task raises instead of returning.
    Raises :class:`Interrupted` on Ctrl-C (after the running tasks finished and were recorded).
    """
    if not items:
        return []
    results: dict[int, Result] = {}
    pool = ThreadPoolExecutor(max_workers=max(1, min(parallel, len(items))),
                              thread_name_prefix="simpul")
    futures: dict[Future[Result], int] = {
        pool.submit(_guarded, task, item, name(item)): i for i, item in enumerate(items)
    }
    pending = set(futures)
    try:
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in finished:
                r = f.result()
                results[futures[f]] = r
                _notify(hooks, r)
    except KeyboardInterrupt:
        for f in pending:
            f.cancel()
        running = [f for f in pending if not f.cancelled()]
        if running:
            log.warning("interrupted: waiting for %d running target(s) to finish "
                        "(Ctrl-C again to stop waiting)", len(running))
            try:
                for f in running:
                    r = f.result()
                    results[futures[f]] = r
                    _notify(hooks, r)
            except KeyboardInterrupt:
                log.warning("interrupted again: not waiting; running targets are not recorded")
        pool.shutdown(wait=False, cancel_futures=True)
        done = [results[i] for i in sorted(results)]
        raise Interrupted(f"interrupted after {len(done)} of {len(items)} target(s)", done) from None
    pool.shutdown(wait=True)
    return [results[i] for i in range(len(items))]


async def run_each_async(
    items: Sequence[T],
    task: Callable[[T], Awaitable[Result]],
    *,
    name: Callable[[T], str] = str,
    parallel: int = 100,
    hooks: Sequence[Hook] = (),
    stop: asyncio.Event | None = None,
) -> list[Result]:
    """The asyncio form of :func:`run_each`, for thousands of small network tasks.

    When ``stop`` is set, items not yet started are skipped and only the results of started
    ones are returned (in input order); started ones finish.
    """
    sem = asyncio.Semaphore(max(1, parallel))
    results: dict[int, Result] = {}

    async def one(i: int, item: T) -> None:
        async with sem:
            if stop is not None and stop.is_set():
                return
            t0 = time.monotonic()
            try:
                r = await task(item)
            except Exception as e:  # one target's failure becomes its result
                r = failure(name(item), e, time.monotonic() - t0)
            if not r.seconds:
                r.seconds = time.monotonic() - t0
            results[i] = r
            _notify(hooks, r)

    await asyncio.gather(*(one(i, item) for i, item in enumerate(items)))
    return [results[i] for i in sorted(results)]
