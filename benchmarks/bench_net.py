#!/usr/bin/env python3
"""``net backup`` and ``net push`` (a 10-line change) beside a plain netmiko loop (the floor).

For the default lab (9 routers) and a synthetic 50-router lab (benchmarks/bench_lab.py builds
its inventory), each brought up with routers only, this measures in the same run, ``--runs``
times each (10; median printed, with min-max):

- **backup**: Simpul's ``backup()`` (what ``simpul net backup`` runs: login, ``show
  running-config``, the FRR host part, normalise, one git commit in a fresh repository) vs the
  floor: a ``ThreadPoolExecutor`` of plain netmiko ``ConnectHandler`` + ``send_command("show
  running-config")`` per router;
- **push, commit-confirm** (the default ``net push --apply``: pre-check, checkpoint and revert
  timer on the router, the diff, post-check over a fresh login, confirm, save) and **push
  --no-confirm** (diff, apply, save) vs the floor: plain netmiko ``send_config_set`` of the same
  10 lines + ``save_config``.

The 10-line change: before every timed push (untimed), each router gets 10 static routes by hand,
saved; the intended config has none, so the push removes them — 10 ``no ip route ...`` lines,
checked to be exactly what Simpul sent, and exactly what the floor sends. Both sides use the same
connection parameters (host-key checking on), 20 routers at a time, and run in this process.

Needs root and the shared lab down (it builds its own; run it under the lab lock):

    flock /run/lock/simpul-shared-lab.lock .venv/bin/python benchmarks/bench_net.py [--skip-50]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml
from netmiko import ConnectHandler

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_lab import can_build_own_lab, synthetic_inventory

from simpul.inventory.loader import load_inventory
from simpul.inventory.models import Inventory
from simpul.lab import orchestrate
from simpul.lab.state import LabState
from simpul.lab.topology import router_ns
from simpul.network.backup import backup
from simpul.network.differ import clear_parse_cache
from simpul.network.push import PushOptions, push
from simpul.ssh import netmiko_params

PARALLEL = 20
LINES = [f"ip route 10.199.250.{i}/32 Null0" for i in range(10)]
UNDO = [f"no {ln}" for ln in LINES]


def floor_backup(inv: Inventory, names: list[str], kh: Path) -> None:
    def one(n: str) -> str:
        conn = ConnectHandler(**netmiko_params(inv, n, kh, device_type="cisco_ios"))
        try:
            return str(conn.send_command("show running-config"))
        finally:
            conn.disconnect()

    with ThreadPoolExecutor(max_workers=PARALLEL) as ex:
        outs = list(ex.map(one, names))
    assert all("router ospf" in o for o in outs)


def floor_push(inv: Inventory, names: list[str], kh: Path) -> None:
    def one(n: str) -> None:
        conn = ConnectHandler(**netmiko_params(inv, n, kh, device_type="cisco_ios"))
        try:
            conn.send_config_set(UNDO)
            conn.save_config()
        finally:
            conn.disconnect()

    with ThreadPoolExecutor(max_workers=PARALLEL) as ex:
        list(ex.map(one, names))


def add_lines(names: list[str]) -> None:
    """Untimed: give every router the 10 static routes, saved (the push will remove them)."""
    def one(n: str) -> None:
        args = ["vtysh", "-N", router_ns(n), "-c", "configure"]
        for ln in LINES:
            args += ["-c", ln]
        subprocess.run([*args, "-c", "end", "-c", "write memory"], check=True, capture_output=True)

    with ThreadPoolExecutor(max_workers=8) as ex:
        list(ex.map(one, names))


def check_clean(names: list[str]) -> None:
    for n in names:
        out = subprocess.run(["vtysh", "-N", router_ns(n), "-c", "show running-config"], check=True,
                             capture_output=True, text=True).stdout
        assert "10.199.250." not in out, f"{n}: the 10 lines are still there"


CPU: dict[str, list[float]] = {}


def _busy() -> float:
    """Machine-wide CPU seconds spent so far (all cores, every process: client and routers)."""
    f = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    jiffies = [int(x) for x in f]
    idle = jiffies[3] + jiffies[4]
    return (sum(jiffies[:8]) - idle) / os.sysconf("SC_CLK_TCK")


CLIENT: dict[str, list[float]] = {}


def _client() -> float:
    """CPU seconds of this process and its children (the vtysh parses): Simpul's own side."""
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def timed(fn: Callable[[], Any], label: str = "") -> float:
    clear_parse_cache()  # what one CLI run starts with: no vtysh parse cached
    c, k, t = _busy(), _client(), time.perf_counter()
    fn()
    dt = time.perf_counter() - t
    if label:
        CPU.setdefault(label, []).append(_busy() - c)
        CLIENT.setdefault(label, []).append(_client() - k)
    return dt


def simpul_push(inv: Inventory, names: list[str], kh: Path, confirm: bool) -> None:
    results = push(inv, names, kh, PushOptions(apply=True, revert_in=60, confirm=confirm), parallel=PARALLEL)
    bad = [(r.target, r.message) for r in results if not r.changed]
    assert not bad, bad
    for r in results:
        assert r.data["commands"] == UNDO, (r.target, r.data["commands"])


def simpul_backup(inv: Inventory, names: list[str], kh: Path, tmp: Path) -> None:
    repo = Path(tempfile.mkdtemp(dir=tmp, prefix="backup-"))
    results, commit, changed = backup(inv, names, kh, repo, parallel=PARALLEL)
    assert all(r.ok for r in results) and commit is not None and len(changed) == len(names)


def fmt(xs: list[float]) -> str:
    return f"{statistics.median(xs):6.2f} s ({min(xs):.2f}-{max(xs):.2f})"


def variant(label: str, inv_dir: Path, st: LabState, runs: int, tmp: Path) -> dict[str, dict[str, list[float]]]:
    inv = load_inventory(inv_dir)
    names = list(inv.devices)
    rep = orchestrate.up(inv, st=st, servers=False)
    print(f"\n{label}: {len(names)} routers up in {rep.seconds:.1f} s", flush=True)
    kh = st.known_hosts
    res: dict[str, dict[str, list[float]]] = {k: {"simpul": [], "floor": []}
                                              for k in ("backup", "push", "push --no-confirm")}
    try:
        # untimed: the lab lacks the intended management ACL; push it once so that later pushes
        # change exactly the 10 lines
        first = push(inv, names, kh, PushOptions(apply=True, revert_in=60), parallel=PARALLEL)
        assert all(r.ok for r in first), [(r.target, r.message) for r in first if not r.ok]
        for i in range(runs):
            res["backup"]["floor"].append(timed(lambda: floor_backup(inv, names, kh), f"{label} backup floor"))
            res["backup"]["simpul"].append(timed(lambda: simpul_backup(inv, names, kh, tmp),
                                                 f"{label} backup simpul"))
            for mode, confirm in (("push", True), ("push --no-confirm", False)):
                add_lines(names)
                res[mode]["simpul"].append(timed(lambda c=confirm: simpul_push(inv, names, kh, c),  # type: ignore[misc]
                                                 f"{label} {mode} simpul"))
                check_clean(names)
                add_lines(names)
                res[mode]["floor"].append(timed(lambda: floor_push(inv, names, kh), f"{label} {mode} floor"))
                check_clean(names)
            print(f"  run {i + 1}/{runs} done", flush=True)
    finally:
        orchestrate.down(st=st)
    for what, target in (("backup", 1.2), ("push", 2.0), ("push --no-confirm", 1.2)):
        s, f = res[what]["simpul"], res[what]["floor"]
        ratio = statistics.median(s) / statistics.median(f)
        cs, cf = (statistics.median(CPU[f"{label} {what} {k}"]) for k in ("simpul", "floor"))
        ks, kf = (statistics.median(CLIENT[f"{label} {what} {k}"]) for k in ("simpul", "floor"))
        print(f"  {what:<18} simpul {fmt(s)} | netmiko floor {fmt(f)} | x{ratio:.2f} "
              f"(target <= {target}x: {'met' if ratio <= target else 'MISSED'}) | CPU, whole machine "
              f"{cs:.1f} s vs {cf:.1f} s, of it the client {ks:.1f} s vs {kf:.1f} s", flush=True)
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-50", action="store_true", help="only the default lab")
    ap.add_argument("--only-50", action="store_true", help="only the 50-router lab")
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    if not can_build_own_lab():
        return 2
    with tempfile.TemporaryDirectory(prefix="simpul-bench-net-") as t:
        tmp = Path(t)
        tmp.chmod(0o755)  # FRR (user frr) reads its config below the lab state dir
        os.environ["SIMPUL_STATE_DIR"] = str(tmp / "state")  # keep out of the real oplog
        if not args.only_50:
            variant("default lab", orchestrate.default_inventory(), orchestrate.state(), args.runs, tmp)
        if not args.skip_50:
            st = LabState(tmp / "lab-state")
            inv_dir = synthetic_inventory(tmp / "inventory", 50)
            org = yaml.safe_load((inv_dir / "organisation.yaml").read_text())
            for ref in org["secrets"].values():  # the secrets of this lab's own state dir
                ref["file"] = str(st.secrets / Path(ref["file"]).name)
            (inv_dir / "organisation.yaml").write_text(yaml.safe_dump(org, sort_keys=False))
            variant("50-router lab", inv_dir, st, args.runs, tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
