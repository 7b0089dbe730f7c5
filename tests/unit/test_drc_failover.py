"""The failover drill's pure helpers: observer overlaps (two addresses, two writers), when an
isolated primary stopped writing, the kill script, the report (self-contained HTML) and the
history; the CLI's refusals that need no servers."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from simpul.cli import main
from simpul.deploys.dbcluster_render import cluster_spec
from simpul.drc import drillmath as dm
from simpul.drc import failover as fo
from simpul.drc.failover_report import render_html, timeline_svg
from simpul.inventory import load_inventory

REPO = Path(__file__).resolve().parents[2]
SPEC = cluster_spec(load_inventory(REPO / "inventory" / "lab"), "simpeg")


def s(t: float, **kw: Any) -> dict[str, Any]:
    return {"t": t, **kw}


def test_overlap_is_measured_between_seen_spans() -> None:
    samples = {"pd": [s(0, vip=True), s(0.5, vip=True), s(1.0, vip=False)],
               "drc": [s(0.3, vip=False), s(0.8, vip=True), s(1.3, vip=True)]}
    assert fo.held_spans(samples["pd"], "vip") == [(0, 0.5)]
    assert fo.overlap(samples, "vip") == 0.0  # pd last seen at 0.5, drc first seen at 0.8
    samples["pd"].insert(2, s(0.9, vip=True))
    assert fo.overlap(samples, "vip") == 0.1  # both seen holding it between 0.8 and 0.9
    stuck = {"pd": [s(t / 2, vip=True) for t in range(40)], "drc": [s(5 + t / 2, vip=True) for t in range(10)]}
    assert fo.overlap(stuck, "vip") == 4.5  # an address that stays on both sites


def test_isolated_primary_stop_time_ignores_what_happens_after_the_heal() -> None:
    pd = [s(9.0, writable=True), s(12.0, writable=True), s(18.0, writable=False), s(19.0, writable=False),
          s(40.0, writable=True)]  # 40: primary again after the failback
    assert fo.stopped_writing(pd, 10.0, t_heal=30.0) == 8.0
    assert fo.stopped_writing(pd, 10.0) is None  # without the heal bound it "kept" writing
    assert fo.stopped_writing([s(12.0, writable=True)], 10.0, 30.0) is None


def test_kill_script_kills_by_pid_only() -> None:
    crash = fo.kill_script(SPEC, site_loss=False)
    assert "kill -9 $p" in crash and "--ppid $pm" in crash
    assert "pkill" not in crash and "killall" not in crash
    assert "ip addr del" not in crash
    loss = fo.kill_script(SPEC, site_loss=True)
    assert "ip addr del 10.199.64.100/32 dev eth0" in loss and "/var/run/simpul-etcd.pid" in loss


def report() -> dict[str, Any]:
    a = [dm.Ack(i, "pd-db", 100 + i * 0.1) for i in range(1, 30)]
    a += [dm.Ack(i, "drc-db", 104 + (i - 40) * 0.1) for i in range(40, 60)]
    m = dm.metrics(a, [{"ev": "err", "t": 103.5}], {x.seq: x.node for x in a},
                   [("takeover", 103.0, "pd-db")])
    checks = dm.verdict("crash", m, rto_target_s=3600, rpo_target_s=900, sync=True, vip_both_s=0,
                        vip_tolerance_s=1, writable_both_s=0, isolated_demoted_s=None,
                        expect_takeover=True, failback_done=False, failback_asked=False)
    return {
        "kind": "failover-drill", "run_id": "20260101T000000Z-simpeg-crash", "service": "simpeg",
        "service_name": "SIMPEG <test & co>", "scenario": "crash", "lab": True, "inventory": "x",
        "organisation": "Dinas", "started": "2026-01-01T00:00:00+00:00",
        "finished": "2026-01-01T00:01:00+00:00", "executed_by": "noc@host",
        "targets": {"rto_s": 3600, "rpo_s": 900, "replication": "sync"},
        "cluster": {"primary": "pd-db", "replicas": ["drc-db"], "witness": "noc-witness",
                    "vip": "10.199.64.100", "port": 5432, "ttl": 10, "loop_wait": 2, "retry_timeout": 4,
                    "leader_before": "pd-db", "leader_after": "drc-db", "drill_client": "noc-client"},
        "t0": 100.0,
        "timeline": [{"t": 100.0, "kind": "load", "id": "Beban", "en": "Load"},
                     {"t": 103.0, "kind": "inject", "id": "Kill", "en": "Kill"},
                     {"t": 104.0, "kind": "takeover", "id": "Ambil", "en": "Takeover"}],
        "metrics": m.to_dict(), "checks": [c.to_dict() for c in checks],
        "passed": all(c.ok for c in checks),
        "findings": [{"id": a, "en": b} for a, b in dm.findings("crash", m, old="pd-db", sync=True,
                                                                  isolated_stopped_s=None, ttl=10)],
        "isolated_stopped_writing_s": None,
        "writes": {"acks": [[x.t, x.seq, x.node] for x in a], "errors": [[103.5, "query", "x"]]},
        "samples": {"pd-db": [{"t": 100.0, "vip": True, "writable": True}],
                    "drc-db": [{"t": 104.0, "vip": True, "writable": True}]},
        "problems": [], "advice": "", "error": None, "refs": fo.REFS,
    }


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for k, v in attrs:
            if k in ("src", "href") and v and not v.startswith("#"):
                self.external.append(v)
        if tag in ("script", "link", "img", "iframe"):
            self.external.append(tag)


def test_report_is_bilingual_self_contained_and_escaped() -> None:
    page = render_html(report())
    p = _Refs()
    p.feed(page)
    assert p.external == []  # nothing loaded from anywhere: it opens offline
    assert "BERITA ACARA UJI FAILOVER" in page and "Failover Drill Report" in page
    assert "SIMPEG &lt;test &amp; co&gt;" in page  # inventory text is escaped
    assert "LULUS" in page and "<svg" in page


def test_timeline_draws_one_tick_per_acknowledged_write() -> None:
    svg = timeline_svg(report())
    assert svg.count("M") >= 49  # 29 + 20 ticks in the two lanes' paths
    assert "pd-db" in svg and "drc-db" in svg and "gagal / failed" in svg


def test_history_keeps_a_summary_per_run(tmp_path: Path) -> None:
    r = report()
    jp, hp = fo.save(r, tmp_path, render_html(r))
    assert json.loads(jp.read_text())["run_id"] == r["run_id"] and hp.exists()
    (h,) = fo.history(tmp_path, "simpeg")
    assert h["rto_s"] == 1.0 and h["rpo_rows"] == 0 and h["passed"] is True
    assert fo.history(tmp_path, "other") == []


def test_cli_needs_a_service_or_history(capsys: Any) -> None:
    assert main(["drill", "failover"]) == 2
    assert "give --service" in capsys.readouterr().err
    assert main(["drill", "failover", "--history", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_cli_refuses_a_service_without_standby(capsys: Any) -> None:
    assert main(["-i", str(REPO / "inventory" / "lab"), "drill", "failover", "--service", "portal"]) == 3
    assert "service 'portal' has no standby" in capsys.readouterr().err


def _status(leader: str, drc_sync: bool = True) -> Any:
    from simpul.drc.clusterstate import assess

    other = "drc-db" if leader == "pd-db" else "pd-db"
    cluster = {"members": [{"name": leader, "role": "leader", "state": "running", "timeline": 3},
                           {"name": other, "role": "sync_standby" if drc_sync else "replica",
                            "state": "running", "lag": 0}]}
    rows = [{"application_name": other, "state": "streaming", "sync_state": "sync",
             "replay_lsn": "0/100", "leader_lsn": "0/100", "replay_lag_s": None}]
    return assess(SPEC, cluster, rows, {leader: True, other: False},
                  {"pd-db": True, "drc-db": True, "noc-witness": True})


def test_plan_targets_the_other_site_and_carries_the_refusals(monkeypatch: Any) -> None:
    inv = load_inventory(REPO / "inventory" / "lab")
    st = _status("pd-db")
    monkeypatch.setattr(fo, "read_status", lambda *a, **k: (st, {}))
    p = fo.plan_drill(inv, SPEC, "crash", True, Path("/dev/null"))
    assert (p.leader, p.target, p.expect_takeover, p.lab, p.refusals) == ("pd-db", "drc-db", True, True, [])
    assert any("SIGKILL" in en for _, en in p.steps) and any("Failback" in en for _, en in p.steps)
    part = fo.plan_drill(inv, SPEC, "partition", False, Path("/dev/null"))
    assert not part.expect_takeover and any("wan" in en for _, en in part.steps)
    # the DRC leads: a switchover goes home, a failback alone is the way back
    st = _status("drc-db")
    assert fo.plan_drill(inv, SPEC, "switchover", False, Path("/dev/null")).target == "pd-db"
    fb = fo.plan_drill(inv, SPEC, None, True, Path("/dev/null"))
    assert (fb.scenario, fb.target, fb.refusals) == ("failback", "pd-db", [])
    # the replica is not the synchronous standby: refused, with the reason
    st = _status("pd-db", drc_sync=False)
    r = fo.plan_drill(inv, SPEC, "crash", False, Path("/dev/null"))
    assert r.refusals == ["drc-db is not the synchronous standby: a takeover now could lose acknowledged "
                          "commits (RPO 0 promised)"]
    st = _status("pd-db")
    assert fo.plan_drill(inv, SPEC, None, True, Path("/dev/null")).refusals == [
        "pd-db already leads: nothing to fail back"]


def test_a_refused_drill_changes_nothing(monkeypatch: Any) -> None:
    import pytest

    inv = load_inventory(REPO / "inventory" / "lab")
    st = _status("pd-db", drc_sync=False)
    monkeypatch.setattr(fo, "read_status", lambda *a, **k: (st, {}))
    plan = fo.plan_drill(inv, SPEC, "crash", False, Path("/dev/null"))
    drill = fo.Drill.__new__(fo.Drill)  # no SSH at all: the refusal comes before any contact
    drill.plan = plan
    with pytest.raises(fo.DrillRefused, match="drill refused, nothing was changed: drc-db is not"):
        drill.run()
