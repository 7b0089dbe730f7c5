"""Can the DRC take over now? The verdict of ``simpul drc status`` (pure).

The facts come from the cluster (Patroni's ``/cluster``, ``pg_stat_replication`` on the leader,
``etcdctl endpoint health`` on every member, the service address on each database server);
:func:`assess` turns them into one :class:`ClusterStatus` per service: who leads and where, each
replica's state and lag (bytes and seconds), the synchronous standby, the timeline, who holds
the service address, the etcd majority — and the reasons, if any, why the DRC could **not** take
over right now (Pergub Jambi 12/2022 Pasal 23(2)(c): a standby that quickly takes over).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from simpul.deploys.dbcluster_render import ClusterSpec


@dataclass
class ReplicaState:
    name: str
    site: str
    state: str  # streaming | running | starting | stopped | ... (Patroni) or "absent"
    role: str  # replica | sync_standby | leader | ...
    lag_bytes: int | None = None
    lag_seconds: float | None = None
    sync: bool = False
    timeline: int | None = None


@dataclass
class ClusterStatus:
    service: str
    replication: str
    rpo_seconds: float
    leader: str | None
    leader_site: str | None
    leader_site_type: str | None
    timeline: int | None
    replicas: list[ReplicaState]
    vip: str
    vip_on: list[str]
    etcd: dict[str, bool | None]
    can_take_over: bool
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _lag_bytes(leader_lsn: int | None, replica_lsn: int | None) -> int | None:
    if leader_lsn is None or replica_lsn is None:
        return None
    return max(0, leader_lsn - replica_lsn)


def parse_lsn(text: str | None) -> int | None:
    """``"0/3000148"`` → 50331976 (PostgreSQL's LSN notation)."""
    if not text or "/" not in text:
        return None
    hi, lo = text.split("/", 1)
    try:
        return (int(hi, 16) << 32) + int(lo, 16)
    except ValueError:
        return None


def assess(spec: ClusterSpec, cluster: dict[str, Any] | None, replication_rows: list[dict[str, Any]],
           vip_on: dict[str, bool | None], etcd: dict[str, bool | None]) -> ClusterStatus:
    """The status and takeover verdict of ``spec``'s cluster.

    ``cluster`` is Patroni's ``GET /cluster`` (None: no member answered); ``replication_rows``
    are the leader's ``pg_stat_replication`` rows (``application_name``, ``state``,
    ``sync_state``, ``sent_lsn``/``replay_lsn`` as text, ``replay_lag_s``, ``leader_lsn``);
    ``vip_on`` says per database server whether it holds the service address (None: unknown);
    ``etcd`` says per member whether its etcd answers a quorum read (None: unknown).
    """
    problems: list[str] = []
    notes: list[str] = []
    members = {m["name"]: m for m in (cluster or {}).get("members", [])}
    leader = next((n for n, m in members.items() if m.get("role") == "leader"), None)
    if cluster is None:
        problems.append("no Patroni member answers (is Patroni running? simpul drc deploy)")
    elif leader is None:
        problems.append("the cluster has no leader: nobody accepts writes")
    lm = spec.member(leader) if leader and leader in {m.name for m in spec.members} else None
    rows = {r.get("application_name"): r for r in replication_rows}
    leader_lsn = next((parse_lsn(r.get("leader_lsn")) for r in replication_rows), None)
    replicas: list[ReplicaState] = []
    for m in spec.db_members:
        if m.name == leader:
            continue
        pm = members.get(m.name)
        row = rows.get(m.name, {})
        lag_b = _lag_bytes(leader_lsn, parse_lsn(row.get("replay_lsn")))
        if lag_b is None and pm is not None and isinstance(pm.get("lag"), int):
            lag_b = pm["lag"]
        lag_s = row.get("replay_lag_s")
        replicas.append(ReplicaState(
            name=m.name, site=m.site, state=pm.get("state", "?") if pm else "absent",
            role=pm.get("role", "?") if pm else "absent", lag_bytes=lag_b,
            lag_seconds=float(lag_s) if lag_s not in (None, "") else (0.0 if row else None),
            # Patroni promotes only the standby in its /sync key (role sync_standby), and that
            # one must really be synchronous in PostgreSQL: both, or a takeover may lose commits
            sync=row.get("sync_state") == "sync" and (pm or {}).get("role") == "sync_standby",
            timeline=pm.get("timeline") if pm else None))
    timeline = members[leader].get("timeline") if leader else None
    holders = sorted(n for n, v in vip_on.items() if v)
    rpo_s = spec.rpo.total_seconds()

    # who would take over: the DRC replica (or, when the DRC leads, the way back)
    at_drc = lm is not None and lm.site_type == "drc"
    candidate = spec.drc_replica if not at_drc else spec.primary
    cand = next((r for r in replicas if r.name == candidate.name), None)
    if at_drc:
        notes.append(f"the service runs at the DRC ({leader}); fail back to {spec.primary.name} with "
                     f"'simpul drill failover --service {spec.service} --failback --execute'")
    if leader is not None and cand is None:
        problems.append(f"{candidate.name} is not in the cluster")
    elif cand is not None:
        streaming = cand.state in ("streaming", "running") and (
            cand.name in rows and rows[cand.name].get("state") == "streaming")
        if not streaming:
            problems.append(f"{cand.name} is not streaming from the leader "
                            f"(Patroni: {cand.role}/{cand.state}"
                            f"{', no replication connection' if cand.name not in rows else ''})")
        if spec.replication == "sync" and not cand.sync:
            problems.append(f"{cand.name} is not the synchronous standby: a takeover now could "
                            "lose acknowledged commits (RPO 0 promised)")
        if spec.replication == "async" and cand.lag_seconds is not None and cand.lag_seconds > rpo_s:
            problems.append(f"{cand.name} lags {cand.lag_seconds:.1f} s behind, more than the RPO "
                            f"of {rpo_s:.0f} s")
    # etcd: the takeover needs a majority without the leader's site
    others = [m.name for m in spec.members if lm is None or m.site != lm.site]
    healthy_others = [n for n in others if etcd.get(n)]
    if len(healthy_others) * 2 <= len(spec.members) and leader is not None:
        down = [n for n in others if not etcd.get(n)]
        problems.append(f"etcd without the leader's site would have no majority (not answering: "
                        f"{', '.join(down) or 'none'}): losing the site would stop the service")
    for n, ok in etcd.items():
        if ok is False and n not in others:
            notes.append(f"etcd on {n} does not answer a quorum read")
    if leader is not None and holders != [leader]:
        problems.append(f"the service address {spec.vip} is on {', '.join(holders) or 'no server'}, "
                        f"not only on the leader {leader}")
    return ClusterStatus(
        service=spec.service, replication=spec.replication, rpo_seconds=rpo_s, leader=leader,
        leader_site=lm.site if lm else None, leader_site_type=lm.site_type if lm else None,
        timeline=timeline, replicas=replicas, vip=str(spec.vip), vip_on=holders, etcd=dict(etcd),
        can_take_over=not problems, problems=problems, notes=notes)
