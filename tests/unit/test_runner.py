"""The core runner (simpul.runner) and the context's oplog hook: what every domain relies on."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from simpul.context import AppContext
from simpul.errors import AuthError, ConfigError, ExitCode, UnreachableError
from simpul.oplog import OpLog
from simpul.results import Result, Status, exit_code_for
from simpul.runner import Interrupted, run_each, run_each_async
from simpul.settings import Settings


class Collect:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def done(self, result: Result) -> None:
        self.seen.append((result.target, threading.current_thread().name))


def test_results_come_back_in_input_order_whatever_order_they_finish() -> None:
    gates = {n: threading.Event() for n in "abcd"}

    def task(n: str) -> Result:
        gates[n].wait(5)
        return Result(n, Status.OK)

    # release in reverse order: d finishes first, a last
    def release() -> None:
        for n in "dcba":
            gates[n].set()

    threading.Thread(target=release).start()
    assert [r.target for r in run_each(list("abcd"), task, parallel=4)] == list("abcd")


def test_never_more_than_parallel_tasks_at_once() -> None:
    lock = threading.Lock()
    running = 0
    peak = 0
    barrier = threading.Barrier(3, timeout=5)

    def task(n: int) -> Result:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        if n < 3:
            barrier.wait()  # the first three must be in flight together: parallel=3 allows it
        with lock:
            running -= 1
        return Result(str(n), Status.OK)

    results = run_each(list(range(12)), task, parallel=3)
    assert len(results) == 12 and peak == 3


def test_a_failing_target_becomes_its_result_and_the_others_carry_on() -> None:
    def task(n: str) -> Result:
        if n == "gone":
            raise UnreachableError(n, "cannot connect to 169.254.100.99:22 (timed out)")
        if n == "badkey":
            raise AuthError(n, "authentication failed for simpul")
        if n == "conf":
            raise ConfigError("secret 'x' is not declared", hint="add it to secrets:")
        if n == "bug":
            raise KeyError("oops")
        return Result(n, Status.CHANGED, "done")

    rs = {r.target: r for r in run_each(["ok", "gone", "badkey", "conf", "bug"], task)}
    assert rs["ok"].status is Status.CHANGED and rs["ok"].seconds >= 0
    assert (rs["gone"].status, rs["gone"].message) == (
        Status.UNREACHABLE, "cannot connect to 169.254.100.99:22 (timed out)")
    assert rs["badkey"].status is Status.UNREACHABLE and "authentication failed" in rs["badkey"].message
    assert rs["conf"].status is Status.FAILED
    assert rs["conf"].message == "secret 'x' is not declared (hint: add it to secrets:)"
    assert rs["bug"].status is Status.FAILED and rs["bug"].message.startswith("internal error: KeyError")
    assert isinstance(rs["bug"].exception, KeyError)
    assert exit_code_for(rs.values()) == ExitCode.PARTIAL


def test_hooks_see_every_result_once_in_the_calling_thread() -> None:
    hook = Collect()
    run_each(list("xyz"), lambda n: Result(n, Status.OK), parallel=3, hooks=[hook])
    assert sorted(t for t, _ in hook.seen) == ["x", "y", "z"]
    assert {th for _, th in hook.seen} == {threading.current_thread().name}


def test_ctrl_c_cancels_what_has_not_started_and_records_what_was_running() -> None:
    started: list[int] = []
    lock = threading.Lock()
    release = threading.Event()

    def task(n: int) -> Result:
        with lock:
            started.append(n)
        if n != 0:
            release.wait(5)  # still running when Ctrl-C arrives
        return Result(str(n), Status.CHANGED)

    class CtrlC:
        def __init__(self) -> None:
            self.recorded: list[str] = []

        def done(self, result: Result) -> None:
            self.recorded.append(result.target)
            if result.target == "0":
                release.set()
                raise KeyboardInterrupt

    hook = CtrlC()
    with pytest.raises(Interrupted) as ei:
        run_each(list(range(10)), task, parallel=2, hooks=[hook])
    assert ei.value.exit_code == ExitCode.INTERRUPTED
    # item 0 finished; item 1 (and 2, if the freed worker took it before Ctrl-C was seen) were
    # running and were allowed to finish and be recorded; the rest never started
    assert sorted(started) in ([0, 1], [0, 1, 2])
    want = [str(n) for n in sorted(started)]
    assert [r.target for r in ei.value.results] == want and sorted(hook.recorded) == want
    assert f"interrupted after {len(want)} of 10" in ei.value.message


def test_empty_input_runs_nothing() -> None:
    assert run_each([], lambda n: Result(n, Status.OK)) == []


def test_async_runner_bounds_and_stops() -> None:
    async def main() -> tuple[list[Result], int]:
        running = 0
        peak = 0
        stop = asyncio.Event()

        async def task(n: int) -> Result:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0)
            running -= 1
            if n == 4:
                stop.set()  # SIGTERM: let the ones in flight finish, skip the rest
            if n == 2:
                raise UnreachableError(str(n), "timeout")
            return Result(str(n), Status.OK)

        rs = await run_each_async(list(range(20)), task, name=str, parallel=3, stop=stop)
        return rs, peak

    rs, peak = asyncio.run(main())
    assert peak == 3  # bounded, and really concurrent (a serial runner would give 1)
    done = [r.target for r in rs]
    assert done[:5] == ["0", "1", "2", "3", "4"] and len(done) < 20
    assert next(r for r in rs if r.target == "2").status is Status.UNREACHABLE


def test_recorder_hook_writes_one_record_per_result_to_the_settings_log(tmp_path: Path) -> None:
    app = AppContext(settings=Settings(state_dir=tmp_path / "state", oplog_path=tmp_path / "ops.jsonl"))
    rec = app.recorder("demo.apply", refs=["Pergub DKI 68/2022 Pasal 25"],
                       params=lambda r: {"n": r.data.get("n")},
                       when=lambda r: r.target != "skip")
    run_each(["a", "skip", "b"], lambda n: Result(n, Status.CHANGED, "ok", data={"n": n}),
             hooks=[rec])
    log = OpLog(tmp_path / "ops.jsonl")
    recs = list(log.records())
    # records arrive in completion order (any order): compare them sorted by target
    assert sorted((r["action"], r["target"], r["result"], r["params"]["n"]) for r in recs) == [
        ("demo.apply", "a", "changed", "a"), ("demo.apply", "b", "changed", "b")]
    assert all(r["refs"] == ["Pergub DKI 68/2022 Pasal 25"] for r in recs) and log.verify().ok
    assert not (tmp_path / "state" / "oplog.jsonl").exists()
