"""Counter math: wrap-safe rates, wrap vs reboot, sysUpTime's own 497-day wrap."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simpul.monitoring.counters import (
    TIMETICKS_WRAP,
    Clock,
    Restart,
    classify_restart,
    counter_delta,
    counter_rate,
    speed_bps,
    transition,
)

GBPS_OCTETS = 125_000_000.0  # 1 Gb/s in octets per second


def test_counter32_at_1gbps_over_60s_has_no_rate() -> None:
    # 1 Gb/s for 60 s is 7.5e9 octets: the Counter32 wrapped once or twice, which the reads
    # cannot tell apart. Assuming one wrap gave 427 Mb/s; the rate is unknown instead.
    prev = 4_294_000_000
    cur = (prev + 7_500_000_000) % 2**32
    assert counter_rate(prev, cur, 60.0, bits=32, max_rate=GBPS_OCTETS) is None
    assert counter_rate(prev, (prev + 1_000) % 2**32, 60.0, bits=32, max_rate=GBPS_OCTETS) is None
    # a Counter64 at the same speed is fine
    assert counter_rate(prev, prev + 7_500_000_000, 60.0, bits=64, max_rate=GBPS_OCTETS) == GBPS_OCTETS


def test_counter32_single_wrap_below_the_limit_gives_the_true_rate() -> None:
    # 100 Mb/s for 60 s is 7.5e8 octets: at most one wrap is possible, so it is exact
    prev = 4_294_000_000
    cur = (prev + 750_000_000) % 2**32
    assert cur < prev
    assert counter_rate(prev, cur, 60.0, bits=32, max_rate=12_500_000.0) == 12_500_000.0


@given(speed=st.floats(1e3, 1e11), elapsed=st.floats(1.0, 3600.0), frac=st.floats(0.0, 1.0),
       prev=st.integers(0, 2**32 - 1))
def test_counter32_rate_is_exact_or_unknown_never_wrong(speed: float, elapsed: float, frac: float,
                                                       prev: int) -> None:
    octets = int(speed * elapsed * frac)  # any traffic the interface can carry in the interval
    got = counter_rate(prev, (prev + octets) % 2**32, elapsed, bits=32, max_rate=speed)
    if speed * elapsed >= 2**32:
        assert got is None
    else:
        assert got == pytest.approx(octets / elapsed)


def test_counter64_going_down_is_a_discontinuity_not_a_huge_rate() -> None:
    assert counter_rate(10_000, 5, 60.0, bits=64) is None


def test_counter_that_went_down_across_a_reboot_is_a_gap_not_a_spike() -> None:
    assert counter_rate(4_000_000_000, 1_000, 60.0, bits=32, restart=Restart.REBOOT) is None


def test_counter_that_kept_counting_across_an_agent_restart_is_still_a_rate() -> None:
    # net-snmp restarted: sysUpTime reset, but the kernel's counters kept counting.
    assert counter_rate(1_000, 61_000, 60.0, bits=64, restart=Restart.REBOOT) == 1_000.0


def test_rate_above_interface_speed_is_rejected() -> None:
    assert counter_rate(0, 10**9, 1.0, max_rate=125_000_000.0) is None
    assert counter_rate(0, 10**8, 1.0, max_rate=125_000_000.0) == 10**8


def test_no_rate_without_elapsed_time() -> None:
    assert counter_rate(1, 2, 0.0) is None


@given(prev=st.integers(0, 2**32 - 1), delta=st.integers(0, 2**32 - 1))
def test_counter32_delta_is_exact_for_at_most_one_wrap(prev: int, delta: int) -> None:
    assert counter_delta(prev, (prev + delta) % 2**32, bits=32) == delta


def test_sysuptime_decrease_is_a_reboot() -> None:
    assert classify_restart(Clock(0, sys_uptime=500_000), Clock(60, sys_uptime=1_000)) is Restart.REBOOT


def test_sysuptime_497_day_wrap_is_not_a_reboot() -> None:
    prev = Clock(1_000.0, sys_uptime=TIMETICKS_WRAP - 2_000)  # 20 s before the wrap
    cur = Clock(1_060.0, sys_uptime=4_000)  # 60 s later: 40 s past the wrap
    assert classify_restart(prev, cur) is Restart.UPTIME_WRAP


def test_sysuptime_decrease_near_the_wrap_but_inconsistent_is_a_reboot() -> None:
    prev = Clock(1_000.0, sys_uptime=TIMETICKS_WRAP - 2_000)
    cur = Clock(1_060.0, sys_uptime=500)  # 5 s old: it restarted, it did not wrap
    assert classify_restart(prev, cur) is Restart.REBOOT


def test_agent_younger_than_the_poll_interval_rebooted_even_if_uptime_grew() -> None:
    # Polled at uptime 5 s; 300 s later the agent is 30 s old: it restarted in between.
    assert classify_restart(Clock(0, sys_uptime=500), Clock(300, sys_uptime=3_000)) is Restart.REBOOT


def test_normal_progress_is_no_restart() -> None:
    assert classify_restart(Clock(0, sys_uptime=10_000), Clock(60, sys_uptime=16_000)) is Restart.NONE


def test_engine_boots_change_is_a_reboot_even_if_uptime_looks_fine() -> None:
    prev = Clock(0, sys_uptime=10_000, engine_time=100, engine_boots=3)
    cur = Clock(60, sys_uptime=16_000, engine_time=160, engine_boots=4)
    assert classify_restart(prev, cur) is Restart.REBOOT


def test_engine_time_overrules_a_sysuptime_wrap() -> None:
    prev = Clock(0, sys_uptime=TIMETICKS_WRAP - 100, engine_time=43_000_000, engine_boots=1)
    cur = Clock(60, sys_uptime=5_900, engine_time=43_000_060, engine_boots=1)
    assert classify_restart(prev, cur) is Restart.NONE


def test_our_clock_stepping_back_concludes_nothing() -> None:
    assert classify_restart(Clock(100, sys_uptime=10), Clock(50, sys_uptime=5)) is Restart.NONE


def test_transitions() -> None:
    assert transition(None, True) is None
    assert transition(True, True) is None
    assert transition(True, False).value == "down"  # type: ignore[union-attr]
    assert transition(False, True).value == "up"  # type: ignore[union-attr]


def test_speed_units() -> None:
    assert speed_bps(1000, "mbps") == 1e9
    assert speed_bps(100_000_000, "bps") == 1e8
    assert speed_bps(0, "mbps") is None
