"""``simpul drc status``: can the DRC take over now? Fixtures are Patroni's /cluster and the
leader's pg_stat_replication as captured from the lab (right after a lab restart, when the DRC
led and the Pusat Data replica streamed synchronously but Patroni had not yet named it in /sync)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from simpul.deploys.dbcluster_render import cluster_spec
from simpul.drc.clusterstate import assess, parse_lsn
from simpul.inventory import load_inventory

REPO = Path(__file__).resolve().parents[2]
FIX = Path(__file__).parent / "fixtures" / "drc"
SPEC = cluster_spec(load_inventory(REPO / "inventory" / "lab"), "simpeg")
ETCD_OK = {"pd-db": True, "drc-db": True, "noc-witness": True}


def load(name: str) -> Any:
    return json.loads((FIX / name).read_text())


def healthy_at_pd() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The captured cluster with the roles mirrored: pd-db leads, drc-db is the sync standby."""
    c = load("patroni-cluster-after-restart.json")
    for m in c["members"]:
        m["role"] = "leader" if m["name"] == "pd-db" else "sync_standby"
    rows = load("pg-stat-replication-after-restart.json")
    rows[0]["application_name"] = "drc-db"
    return c, rows


def test_parse_lsn() -> None:
    assert parse_lsn("0/38500B8") == 0x38500B8 and parse_lsn("1/0") == 1 << 32 and parse_lsn(None) is None


def test_captured_state_after_restart_is_not_ready() -> None:
    st = assess(SPEC, load("patroni-cluster-after-restart.json"),
                load("pg-stat-replication-after-restart.json"), {"pd-db": False, "drc-db": True}, ETCD_OK)
    assert st.leader == "drc-db" and st.leader_site_type == "drc" and st.timeline == 12
    assert not st.can_take_over
    assert st.problems == ["pd-db is not the synchronous standby: a takeover now could lose acknowledged "
                           "commits (RPO 0 promised)"]
    assert any("fail back to pd-db" in n for n in st.notes)


def test_healthy_cluster_can_take_over() -> None:
    c, rows = healthy_at_pd()
    st = assess(SPEC, c, rows, {"pd-db": True, "drc-db": False}, ETCD_OK)
    assert st.can_take_over, st.problems
    (r,) = st.replicas
    assert (r.name, r.sync, r.lag_bytes, r.lag_seconds) == ("drc-db", True, 0, 0.0)


@pytest.mark.parametrize(("change", "problem"), [
    ("no-replication", "drc-db is not streaming from the leader"),
    ("witness-down", "etcd without the leader's site would have no majority"),
    ("vip-on-both", "the service address 10.199.64.100 is on drc-db, pd-db"),
    ("no-cluster", "no Patroni member answers"),
])
def test_each_reason_the_drc_could_not_take_over(change: str, problem: str) -> None:
    c, rows = healthy_at_pd()
    vip = {"pd-db": True, "drc-db": False}
    etcd = dict(ETCD_OK)
    cluster: dict[str, Any] | None = c
    if change == "no-replication":
        rows = []
    elif change == "witness-down":
        etcd["noc-witness"] = False
    elif change == "vip-on-both":
        vip["drc-db"] = True
    elif change == "no-cluster":
        cluster = None
    st = assess(SPEC, cluster, rows, vip, etcd)
    assert not st.can_take_over
    assert any(p.startswith(problem) for p in st.problems), st.problems


def test_async_lag_beyond_the_rpo() -> None:
    from dataclasses import replace

    c, rows = healthy_at_pd()
    rows = copy.deepcopy(rows)
    rows[0]["replay_lag_s"] = 1200.5
    st = assess(replace(SPEC, replication="async"), c, rows, {"pd-db": True}, ETCD_OK)
    assert st.problems == ["drc-db lags 1200.5 s behind, more than the RPO of 900 s"]
