"""RTO and RPO of the DRC takeover over many drills, beside the measured floors and the
split-brain anchor (a plain keepalived + promote pair) in the same run.

Runs ``simpul drill failover`` (the library, as the CLI does) N times for each scenario against
the built-in lab — switchover, crash, site-loss, partition — each with a failback, and prints
median and max of the RTO (injection → first write the new primary acknowledged, as the client
at the NOC saw it), the failback RTO, the RPO (acknowledged writes lost, rows and ms), divergent
writes and the longest write pause. Then the same partition N times on a home-made pair
(PostgreSQL async streaming + keepalived VRRP + a ``notify_master`` promote script,
:mod:`failover_anchor`): how often two primaries and the address on both sites, and how many
acknowledged writes ended only on the orphaned side.

Hold the shared-lab lock for the whole run (about 35 minutes with the defaults)::

    sudo flock /run/lock/simpul-shared-lab.lock .venv/bin/python benchmarks/bench_failover.py
    ... --runs 3 --anchor-runs 3      # a quick look
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from simpul.deploys import dbcluster as dbc
from simpul.deploys.dbcluster_render import cluster_spec
from simpul.drc import failover as fo
from simpul.inventory import load_inventory
from simpul.lab import orchestrate

SCENARIOS = ("switchover", "crash", "site-loss", "partition")
FLOORS = {  # LAB-FACTS "DR site", measured on this kind of machine without any HA engine
    "promote": "PostgreSQL promote after a primary crash: RTO ~0.22 s median (pg_promote ~0.14 s)",
    "cut": "a cut link, client side (tcp_user_timeout, libpq 2 s connect floor): ~4.5 s",
    "vip": "keepalived VIP move: 0.6 s graceful / ~3.5 s crash with 1 s adverts; 0.1 s / 0.3-0.4 s with 0.1 s",
}


def med_max(xs: list[float]) -> str:
    xs = [x for x in xs if x is not None]
    return f"{statistics.median(xs):.2f} / {max(xs):.2f}" if xs else "—"


def ensure_cluster(inv: Any, spec: Any, kh: Path) -> None:
    results = dbc.deploy(inv, spec, kh, "apply")
    bad = [f"{r.target}: {r.message}" for r in results if not r.ok]
    if bad:
        raise SystemExit("drc deploy failed: " + "; ".join(bad))


def one_drill(inv: Any, spec: Any, kh: Path, scenario: str) -> dict[str, Any]:
    plan = fo.plan_drill(inv, spec, scenario, True, kh)
    if plan.refusals:  # e.g. the previous failback left pd-db not yet the sync standby
        time.sleep(10)
        plan = fo.plan_drill(inv, spec, scenario, True, kh)
    if plan.refusals:
        return {"error": "refused: " + "; ".join(plan.refusals)}
    r = fo.Drill(inv, spec, plan, kh).run()
    tk = {t["label"]: t for t in r["metrics"]["takeovers"]}
    return {"passed": r["passed"], "rto": (tk.get("takeover") or {}).get("rto_s"),
            "failback_rto": (tk.get("failback") or {}).get("rto_s"),
            "pause": (tk.get("takeover") or {}).get("pause_s"), "rpo_rows": r["metrics"]["rpo_rows"],
            "rpo_ms": r["metrics"]["rpo_ms"], "divergent": len(r["metrics"]["divergent"]),
            "writers_overlap": r["writable_both_s"], "vip_overlap": r["vip_both_s"],
            "isolated_stop": r["isolated_stopped_writing_s"], "acks": r["metrics"]["acks"],
            "new": (tk.get("takeover") or {}).get("new"), "error": r["error"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10, help="drills per scenario (default 10)")
    ap.add_argument("--anchor-runs", type=int, default=10, help="keepalived partitions (default 10)")
    ap.add_argument("--scenarios", nargs="*", default=list(SCENARIOS), choices=SCENARIOS)
    ap.add_argument("--json", type=Path, help="also write every run as JSON here")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    import os

    os.environ.setdefault("SIMPUL_STATE_DIR", tempfile.mkdtemp(prefix="simpul-bench-failover-"))
    inv = load_inventory(orchestrate.default_inventory())
    was_up = bool(orchestrate.lab_namespaces())
    t0 = time.monotonic()
    orchestrate.up(inv)
    spec = cluster_spec(inv, "simpeg")
    kh = orchestrate.state().known_hosts
    out: dict[str, Any] = {"runs": {}, "anchor": []}
    try:
        ensure_cluster(inv, spec, kh)
        st = fo.read_status(inv, spec, kh)[0]
        if st.leader != spec.primary.name:
            fo.Drill(inv, spec, fo.plan_drill(inv, spec, None, True, kh), kh).run()
        for sc in args.scenarios:
            rows = out["runs"][sc] = []
            for i in range(args.runs):
                r = one_drill(inv, spec, kh, sc)
                rows.append(r)
                print(f"{sc} #{i + 1}: {json.dumps(r)}", file=sys.stderr, flush=True)
        if args.anchor_runs:
            from failover_anchor import Anchor

            a = Anchor()
            try:
                a.setup()
                for i in range(args.anchor_runs):
                    r = a.partition_run(f"anchor-{i}")
                    out["anchor"].append(r)
                    print(f"anchor partition #{i + 1}: {json.dumps(r)}", file=sys.stderr, flush=True)
            finally:
                a.close()
    finally:
        if not was_up:
            orchestrate.down()
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    print(f"\nDRC takeover drills on the lab (Patroni 3.0.2, etcd 3.4 with a NOC witness, vip-manager "
          f"1.0.2; ttl {fo.rd.TTL} s, loop_wait {fo.rd.LOOP_WAIT} s; synchronous), "
          f"{time.monotonic() - t0:.0f} s in all")
    print(f"{'scenario':<11} {'runs':>4} {'passed':>6} {'RTO s med/max':>14} {'failback RTO':>13} "
          f"{'pause med/max':>14} {'RPO rows max':>12} {'RPO ms max':>10} {'divergent':>9} "
          f"{'2 writers':>9}")
    for sc, rows in out["runs"].items():
        ok = [r for r in rows if "passed" in r]
        print(f"{sc:<11} {len(rows):>4} {sum(1 for r in ok if r['passed']):>6} "
              f"{med_max([r['rto'] for r in ok]):>14} {med_max([r['failback_rto'] for r in ok]):>13} "
              f"{med_max([r['pause'] for r in ok]):>14} "
              f"{max((r['rpo_rows'] for r in ok), default=0):>12} "
              f"{max((r['rpo_ms'] for r in ok), default=0):>10.0f} "
              f"{sum(r['divergent'] for r in ok):>9} "
              f"{sum(1 for r in ok if r['writers_overlap'] > 0):>9}")
        errs = [r["error"] for r in rows if r.get("error")]
        if errs:
            print(f"{'':<11} errors: {errs[:3]}")
    iso = [r["isolated_stop"] for r in out["runs"].get("site-loss", []) if r.get("isolated_stop")]
    if iso:
        print(f"site-loss: the isolated primary stopped accepting writes after {med_max(iso)} s "
              "(median/max), before the DRC was promoted")
    print("\nfloors (LAB-FACTS, no HA engine):")
    for v in FLOORS.values():
        print(f"  - {v}")
    an = out["anchor"]
    if an:
        print(f"\nanchor — plain keepalived + promote, async, the same partition, {len(an)} runs:")
        print(f"  two primaries at once: {sum(1 for r in an if r['two_primaries'])}/{len(an)}; "
              f"address on both sites: {sum(1 for r in an if r['vip_on_both'])}/{len(an)}")
        orph = [r["orphaned"] for r in an]
        print(f"  acknowledged writes only on the orphaned side: median {statistics.median(orph):.0f}, "
              f"max {max(orph)} (Patroni + etcd + witness: "
              f"{sum(r.get('divergent', 0) for r in out['runs'].get('partition', []))} divergent, "
              f"{max((r.get('rpo_rows', 0) for r in out['runs'].get('partition', [])), default=0)} lost)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
