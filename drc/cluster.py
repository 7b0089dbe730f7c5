"""Reading a service's DRC standby from the live servers (I/O) for ``simpul drc status`` and the
drills; the verdict itself is :func:`simpul.drc.clusterstate.assess` (pure)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from simpul.deploys import dbcluster as dbc
from simpul.deploys.dbcluster_render import ClusterSpec
from simpul.drc.clusterstate import ClusterStatus, assess
from simpul.errors import SimpulError
from simpul.inventory.models import Inventory
from simpul.results import Result, Status
from simpul.runner import run_each
from simpul.ssh import Target, server_target

log = logging.getLogger(__name__)


def targets(inv: Inventory, spec: ClusterSpec, known_hosts: Path) -> dict[str, Target]:
    return {m.name: server_target(inv, m.name, known_hosts) for m in spec.members}


def read_status(inv: Inventory, spec: ClusterSpec, known_hosts: Path,
           ts: dict[str, Target] | None = None) -> tuple[ClusterStatus, dict[str, Any]]:
    """Ask every member (in parallel) and assess; also returns the raw facts per member."""
    ts = ts or {m.name: server_target(inv, m.name, known_hosts) for m in spec.members}

    def one(name: str) -> Result:
        m = spec.member(name)
        t = ts[name]
        data: dict[str, Any] = {"etcd": dbc.etcd_health(t, m)}
        if m.is_db:
            data["vip"] = dbc.has_vip(t, spec)
            try:
                data["cluster"] = dbc.patroni_cluster(t, spec, m)
            except SimpulError as e:
                data["cluster"], data["cluster_error"] = None, str(e)
        return Result(name, Status.OK, data=data)

    results = {r.target: r for r in run_each([m.name for m in spec.members], one, parallel=8)}
    facts: dict[str, dict[str, Any]] = {n: (r.data if r.ok else {"error": r.message})
                                        for n, r in results.items()}
    views = [f.get("cluster") for f in facts.values() if f.get("cluster")]
    # a Patroni that was cut off may still show its old view: trust the member whose view
    # agrees with the leader key the etcd majority holds (read through the witness)
    try:
        truth = dbc.dcs_leader(ts[spec.witness.name], spec, spec.witness)
    except SimpulError as e:
        log.debug("%s: no leader key: %s", spec.witness.name, e)
        truth = None
    cluster = next((c for c in views if (dbc.leader_of(c) or {}).get("name") == truth), None) \
        if truth else None
    cluster = cluster or next((c for c in views if dbc.leader_of(c)), views[0] if views else None)
    leader = dbc.leader_of(cluster)
    rows: list[dict[str, Any]] = []
    if leader is not None and leader["name"] in ts:
        try:
            rows = dbc.replication_rows(ts[leader["name"]])
        except SimpulError as e:
            log.warning("%s: pg_stat_replication: %s", leader["name"], e)
    vip_on = {m.name: facts.get(m.name, {}).get("vip") for m in spec.db_members}
    etcd = {m.name: (facts.get(m.name, {}).get("etcd") or {}).get("healthy") for m in spec.members}
    for n, f in facts.items():
        if "error" in f:
            etcd[n] = None
    return assess(spec, cluster, rows, vip_on, etcd), facts
