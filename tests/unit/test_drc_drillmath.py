"""RTO, RPO, divergence and verdicts of a failover drill from a client's write log (pure)."""

from __future__ import annotations

import json

import pytest

from simpul.drc import drillmath as dm


def acks(*items: tuple[int, str, float]) -> list[dm.Ack]:
    return [dm.Ack(seq, node, t) for seq, node, t in items]


# pd-db acknowledges 1..4, the takeover is injected at 10.0, drc-db acknowledges 7..9
CLEAN = acks((1, "pd", 9.0), (2, "pd", 9.2), (3, "pd", 9.4), (4, "pd", 9.6), (7, "drc", 11.5),
             (8, "drc", 11.7), (9, "drc", 11.9))


def test_takeover_rto_is_injection_to_first_ack_of_the_new_primary() -> None:
    tk = dm.takeover(CLEAN, 10.0, "pd")
    assert (tk.new, tk.rto_s, tk.divergent) == ("drc", 1.5, [])
    assert tk.pause_s == pytest.approx(1.9)  # last ack before (9.6) to first after (11.5)


def test_no_takeover_when_the_old_primary_keeps_writing() -> None:
    tk = dm.takeover(acks((1, "pd", 9.0), (2, "pd", 12.0)), 10.0, "pd")
    assert tk.new is None and tk.rto_s is None and tk.pause_s == pytest.approx(3.0)


def test_writes_of_the_old_primary_after_the_new_one_are_divergent() -> None:
    split = [*CLEAN, dm.Ack(10, "pd", 12.0), dm.Ack(11, "pd", 12.2)]
    split.sort(key=lambda a: a.t)
    assert dm.takeover(split, 10.0, "pd").divergent == [10, 11]
    # a late ack of the old primary *before* the new one's first is not divergent
    late = sorted([*CLEAN, dm.Ack(5, "pd", 10.4)], key=lambda a: a.t)
    assert dm.takeover(late, 10.0, "pd").divergent == []


def test_rpo_counts_acknowledged_rows_missing_and_their_time_window() -> None:
    assert dm.rpo(CLEAN, [1, 2, 3, 4, 7, 8, 9]) == ([], 0.0)
    lost, ms = dm.rpo(CLEAN, [1, 2, 7, 8, 9])  # 3 and 4 acknowledged, then gone
    assert lost == [3, 4] and ms == pytest.approx(400.0)  # from 2 (9.2) to 4 (9.6)


def test_metrics_of_a_drill_with_failback() -> None:
    log = [json.dumps({"ev": "ack", "seq": a.seq, "node": a.node, "t": a.t}) for a in CLEAN]
    log += [json.dumps({"ev": "ack", "seq": 12, "node": "pd", "t": 21.0}),
            json.dumps({"ev": "err", "seq": 5, "t": 10.1, "kind": "query", "sent": True}),
            "not json"]
    a, other = dm.parse_events(log)
    surviving = {1: "pd", 2: "pd", 3: "pd", 4: "pd", 5: "pd", 7: "drc", 8: "drc", 9: "drc", 12: "pd"}
    m = dm.metrics(a, other, surviving, [("takeover", 10.0, "pd"), ("failback", 20.0, "drc")])
    assert [t.label for t in m.takeovers] == ["takeover", "failback"]
    assert m.takeovers[0].rto_s == 1.5 and m.takeovers[1].rto_s == 1.0
    assert (m.acks, m.errors, m.rpo_rows, m.committed_unacked) == (8, 1, 0, 1)
    assert m.acks_by_node == {"pd": 5, "drc": 3}


def _verdict(m: dm.DrillMetrics, **kw: object) -> dict[str, bool]:
    args = {"rto_target_s": 30.0, "rpo_target_s": 0.0, "sync": True, "vip_both_s": 0.0,
            "vip_tolerance_s": 1.0, "writable_both_s": 0.0, "isolated_demoted_s": None,
            "expect_takeover": True, "failback_done": False, "failback_asked": False} | kw
    return {c.id: c.ok for c in dm.verdict("crash", m, **args)}  # type: ignore[arg-type]


def test_verdict_passes_a_clean_takeover_and_fails_each_violation() -> None:
    a, other = dm.parse_events([{"ev": "ack", "seq": x.seq, "node": x.node, "t": x.t} for x in CLEAN])
    m = dm.metrics(a, other, {x.seq: x.node for x in CLEAN}, [("takeover", 10.0, "pd")])
    assert all(_verdict(m).values())
    assert not _verdict(m, rto_target_s=1.0)["rto"]
    assert not _verdict(m, vip_both_s=3.0)["vip"]
    assert _verdict(m, vip_both_s=0.4)["vip"]  # moving: one vip-manager interval on both is fine
    assert not _verdict(m, writable_both_s=0.2)["single-writer"]
    lossy = dm.metrics(a, other, {1: "pd", 2: "pd", 7: "drc", 8: "drc", 9: "drc"}, [("takeover", 10.0, "pd")])
    assert not _verdict(lossy)["rpo"]
    assert _verdict(lossy, sync=False, rpo_target_s=1.0)["rpo"]  # async: 400 ms within 1 s


def test_partition_needs_no_takeover_but_all_safety_checks() -> None:
    a = acks((1, "pd", 9.0), (2, "pd", 21.0))
    m = dm.metrics(a, [], {1: "pd", 2: "pd"}, [("takeover", 10.0, "pd")])
    checks = {c.id: c.ok for c in dm.verdict("partition", m, rto_target_s=30, rpo_target_s=0, sync=True,
                                                vip_both_s=0, vip_tolerance_s=1, writable_both_s=0,
                                                isolated_demoted_s=None, expect_takeover=False,
                                                failback_done=True, failback_asked=True)}
    assert "rto" not in checks and all(checks.values())
    text = dm.findings("partition", m, old="pd", sync=True, isolated_stopped_s=None, ttl=10)
    assert "kept the leader key through the witness" in text[0][1]


def test_site_loss_requires_the_isolated_primary_to_stop_writing() -> None:
    a, _ = dm.parse_events([{"ev": "ack", "seq": x.seq, "node": x.node, "t": x.t} for x in CLEAN])
    m = dm.metrics(a, [], {x.seq: x.node for x in CLEAN}, [("takeover", 10.0, "pd")])
    base = {"rto_target_s": 30.0, "rpo_target_s": 0.0, "sync": True, "vip_both_s": 0.0,
            "vip_tolerance_s": 1.0, "writable_both_s": 0.0, "expect_takeover": True,
            "failback_done": False, "failback_asked": False}
    ok = {c.id: c.ok for c in dm.verdict("site-loss", m, isolated_demoted_s=8.4, **base)}  # type: ignore[arg-type]
    bad = {c.id: c.ok for c in dm.verdict("site-loss", m, isolated_demoted_s=None, **base)}  # type: ignore[arg-type]
    assert ok["isolated"] and not bad["isolated"]
