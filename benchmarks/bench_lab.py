#!/usr/bin/env python3
"""Lab up/down wall time and memory: the default lab and a synthetic 50-router lab.

For each variant: ``up`` (cold: namespaces and daemons from nothing; the server image must be
cached already), a second ``up`` (idempotent, nothing to do), ``down``; the memory of every
process the lab started (PSS, after OSPF converged) and the orchestrator's own peak RSS.
The 50-router lab is generated into a temp dir (a core, 10 OPD routers on fiber, 39 desa
routers on radio behind them; no servers) and uses a temp state dir.

Printed beside the numbers LAB-FACTS.md reports for hand-built FRR labs on the same kind of
machine (20 routers ~6-7 s, 50 routers ~20 s and ~1 GiB) as ratios.

Needs root and the lab down:  sudo .venv/bin/python benchmarks/bench_lab.py [--skip-50]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import yaml

from simpul.inventory.loader import load_inventory
from simpul.lab import netns as nx
from simpul.lab import noc, orchestrate
from simpul.lab.state import LabState
from simpul.lab.topology import plan

REPO = Path(__file__).resolve().parent.parent

FACTS_50_UP_S = 20.0
FACTS_50_MEM_MIB = 1024.0


def synthetic_inventory(directory: Path, routers: int = 50) -> Path:
    """Write a lab inventory with ``routers`` FRR routers (1 core, OPDs, desa) to ``directory``."""
    org = yaml.safe_load((REPO / "inventory/lab/organisation.yaml").read_text())
    org["organisation"].pop("log_host", None)
    for k in ("services", "backup_policies"):
        org.pop(k, None)
    n_opd = min(10, routers - 1)
    n_desa = routers - 1 - n_opd
    sites = {"pusat-data": {"type": "pusat-data", "name": "Pusat Data", "lan": "10.199.64.0/24"},
             "noc": {"type": "noc", "name": "NOC"}}
    devices: dict[str, dict[str, object]] = {
        "core-1": {"site": "pusat-data", "groups": ["frr-routers"], "role": "core",
                   "mgmt_ip": "169.254.100.11", "loopback": "10.199.255.1",
                   "interfaces": {"lan0": {"address": "10.199.64.1/24", "kind": "lan"}}}}
    links: dict[str, dict[str, object]] = {}
    link_no = 0

    def link(a: str, b: str, medium: str, mbps: int) -> None:
        nonlocal link_no
        ifa = f"eth{sum(1 for x in links.values() if str(x['a']).startswith(a + ':')) + 1}"
        links[f"l{link_no}"] = {"a": f"{a}:{ifa}", "b": f"{b}:eth0",
                                "prefix": f"10.199.{link_no // 64}.{(link_no % 64) * 4}/30",
                                "medium": medium, "bandwidth_mbps": mbps}
        link_no += 1

    for i in range(n_opd):
        name = f"opd-{i:02d}"
        sites[name] = {"type": "opd", "name": f"OPD {i}", "lan": f"10.199.16.{i * 16}/28"}
        devices[name] = {"site": name, "groups": ["frr-routers", "opd-edge"],
                         "mgmt_ip": f"169.254.100.{101 + i}", "loopback": f"10.199.255.{10 + i}",
                         "interfaces": {"lan0": {"address": f"10.199.16.{i * 16 + 1}/28",
                                                 "kind": "lan"}}}
        link("core-1", name, "fiber", 1000)
    for j in range(n_desa):
        name = f"desa-{j:02d}"
        sites[name] = {"type": "desa", "name": f"Desa {j}", "lan": f"10.199.32.{j * 4}/30"}
        devices[name] = {"site": name, "groups": ["frr-routers", "desa-edge"],
                         "mgmt_ip": f"169.254.100.{101 + n_opd + j}",
                         "loopback": f"10.199.255.{100 + j}",
                         "interfaces": {"lan0": {"address": f"10.199.32.{j * 4 + 1}/30",
                                                 "kind": "lan"}}}
        link(f"opd-{j % n_opd:02d}", name, "radio", 10)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "organisation.yaml").write_text(yaml.safe_dump(org, sort_keys=False))
    (directory / "sites.yaml").write_text(yaml.safe_dump({"sites": sites}, sort_keys=False))
    (directory / "devices.yaml").write_text(
        yaml.safe_dump({"devices": devices, "links": links}, sort_keys=False))
    return directory


def _pss(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    return 0


def lab_memory(st: LabState) -> int:
    """PSS of every process in a lab namespace plus the NOC services (bytes)."""
    pids = {p for ns in orchestrate.lab_namespaces() for p in nx.netns_pids(ns)}
    pids |= {p for svc in noc.SERVICES if (p := noc.service_pid(st, svc))}
    return sum(_pss(p) for p in pids)


def run_variant(label: str, inventory: Path, st: LabState) -> dict[str, float]:
    inv = load_inventory(inventory)
    t = time.perf_counter()
    rep = orchestrate.up(inv, st=st)
    up_s = time.perf_counter() - t
    mem = lab_memory(st)
    t = time.perf_counter()
    orchestrate.up(inv, st=st)
    up2_s = time.perf_counter() - t
    t = time.perf_counter()
    orchestrate.down(st=st)
    down_s = time.perf_counter() - t
    res = {"routers": len(plan(inv).routers), "servers": rep.servers, "up_s": up_s,
           "up_again_s": up2_s, "ospf_s": rep.ospf_seconds, "down_s": down_s,
           "lab_mem_mib": mem / 2**20}
    print(f"{label:>14}: {res['routers']:3d} routers {res['servers']:2d} servers | "
          f"up {up_s:6.2f} s (OSPF {rep.ospf_seconds:.2f} s) | up again {up2_s:5.2f} s | "
          f"down {down_s:5.2f} s | lab processes {res['lab_mem_mib']:7.1f} MiB PSS")
    steps = list(rep.steps.items())
    print(" " * 16 + "up steps: " + ", ".join(
        f"{name.split(' (')[0]} {t2 - t1:.1f} s"
        for (name, t1), (_, t2) in itertools.pairwise(steps)))
    return res


def can_build_own_lab() -> bool:
    """Root, and the shared lab down (these benchmarks build their own); else say why."""
    if os.geteuid() != 0:
        print("needs root", file=sys.stderr)
        return False
    if orchestrate.lab_namespaces():
        print("the lab is up: run 'simpul lab down' first", file=sys.stderr)
        return False
    return True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-50", action="store_true", help="only the default lab")
    ap.add_argument("--routers", type=int, default=50, help="size of the synthetic lab")
    args = ap.parse_args()
    if not can_build_own_lab():
        return 2
    with tempfile.TemporaryDirectory(prefix="simpul-bench-lab-") as tmp:
        Path(tmp).chmod(0o755)  # FRR (user frr) reads its config below the lab state dir
        # keep the benchmark out of the real operations log
        os.environ["SIMPUL_STATE_DIR"] = str(Path(tmp) / "state")
        default = run_variant("default lab", orchestrate.default_inventory(),
                              orchestrate.state())
        if not args.skip_50:
            inv_dir = synthetic_inventory(Path(tmp) / "inventory", args.routers)
            big = run_variant(f"{args.routers}-router lab", inv_dir,
                              LabState(Path(tmp) / "lab-state"))
            per_router = (big["up_s"] - default["up_s"]) / max(1, big["routers"]
                                                               - default["routers"])
            print(f"\n{args.routers} routers vs default: up x{big['up_s'] / default['up_s']:.1f}, "
                  f"down x{big['down_s'] / default['down_s']:.1f}, "
                  f"memory x{big['lab_mem_mib'] / default['lab_mem_mib']:.1f}; "
                  f"~{per_router:.2f} s per extra router")
            if args.routers == 50:
                print(f"vs LAB-FACTS hand-built 50-router FRR lab (~{FACTS_50_UP_S:.0f} s, "
                      f"~{FACTS_50_MEM_MIB:.0f} MiB): up x{big['up_s'] / FACTS_50_UP_S:.2f}, "
                      f"memory x{big['lab_mem_mib'] / FACTS_50_MEM_MIB:.2f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"orchestrator peak RSS: {peak:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
