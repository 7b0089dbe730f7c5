#!/usr/bin/env python3
"""`simpul ipam`: allocations per second (1 and 8 processes) and `ipam show` on the example
kabupaten and on a 10x kabupaten.

Targets: >= 200 allocations/s from one process; `ipam show` < 1 s on the 10x kabupaten.
Printed beside them, measured in the same run, the floor: a plain `ipaddress` first fit over
the same plan, in memory (no file, no lock, no operations log, no validation), and a plain
`ipaddress` utilisation over the same YAML files (parse + collapse, no validation).

Each `allocate --apply` re-reads ipam.yaml under the lock, writes it (temp file, fsync,
rename, fsync of the directory), keeps the pending log record (fsync) and appends the
operations log (fsync). One process runs the real CLI entry point `simpul.cli.main` in a loop
(what a script allocating many blocks does); 8 processes do the same at once on one inventory.

    .venv/bin/python benchmarks/bench_ipam.py [--allocations 1000]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from ipaddress import IPv4Network, collapse_addresses
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
CONTOH = REPO / "inventory" / "contoh-kabupaten"
SIMPUL = Path(sys.executable).parent / "simpul"
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_inventory import scaled  # noqa: E402  (the 10x kabupaten of the inventory benchmark)

WORKER = r"""
import contextlib, io, sys
from simpul.cli import main
inv, tag, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
sink = io.StringIO()
for j in range(count):
    with contextlib.redirect_stdout(sink):
        rc = main(["-i", inv, "ipam", "allocate", "--purpose", "desa-lan", "--size", "/28",
                   "--for", f"{tag}-{j}", "--why", "benchmark", "--apply"])
    sink.seek(0); sink.truncate()
    if rc != 0:
        sys.exit(rc)
"""


def fresh_copy(src: Path, root: Path, name: str) -> Path:
    dst = root / name
    shutil.copytree(src, dst)
    return dst


def one_process(inv: Path, n: int) -> tuple[float, float]:
    """(allocations/s wall, CPU s per allocation) through simpul.cli.main in a loop."""
    from simpul.cli import main

    sink = io.StringIO()
    t, c = time.perf_counter(), time.process_time()
    for j in range(n):
        with contextlib.redirect_stdout(sink):
            rc = main(["-i", str(inv), "ipam", "allocate", "--purpose", "desa-lan", "--size", "/28",
                       "--for", f"one-{j}", "--why", "benchmark", "--apply"])
        sink.seek(0)
        sink.truncate()
        assert rc == 0, rc
    return n / (time.perf_counter() - t), (time.process_time() - c) / n


def eight_processes(inv: Path, per: int, env: dict[str, str]) -> float:
    t = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(inv), f"p{i}", str(per)], env=env)
             for i in range(8)]
    assert all(p.wait() == 0 for p in procs)
    return 8 * per / (time.perf_counter() - t)


def floor_first_fit(directory: Path, n: int) -> float:
    """Plain ipaddress first fit of n /28s in the desa supernet, same used blocks, in memory."""
    from simpul.inventory import load_inventory
    from simpul.inventory.addrspace import all_uses

    inv = load_inventory(directory)
    sup = inv.plan.supernets["desa_lan"]
    used = [IPv4Network((u.first, 32 - (u.size.bit_length() - 1))) for u in all_uses(inv)
            if u.network() is not None and u.first >= int(sup.network_address)
            and u.last <= int(sup.broadcast_address)]
    t = time.perf_counter()
    free = [sup]
    for u in collapse_addresses(used):
        nxt = []
        for f in free:
            if u.subnet_of(f):
                nxt.extend(f.address_exclude(u) if u != f else [])
            else:
                nxt.append(f)
        free = sorted(nxt)
    for _ in range(n):
        i = next(k for k, f in enumerate(free) if f.prefixlen <= 28)
        block = free[i]
        got = next(block.subnets(new_prefix=28))
        free[i:i + 1] = sorted(block.address_exclude(got)) if block != got else []
        free.sort()
    return n / (time.perf_counter() - t)


def show_process(inv: Path, runs: int = 5) -> tuple[float, float]:
    """(median wall s, median CPU s) of a whole `simpul ipam show` process. The CPU time is what
    the process itself needed: on a shared machine the wall time also counts waiting for a CPU."""
    ts, cs = [], []
    for _ in range(runs):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        cp = subprocess.run([str(SIMPUL), "-i", str(inv), "ipam", "show"], capture_output=True, text=True)
        ts.append(time.perf_counter() - t)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cs.append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
        assert cp.returncode == 0, cp.stderr
    return statistics.median(ts), statistics.median(cs)


def show_floor(inv: Path, runs: int = 5) -> float:
    """Parse the same YAML (libyaml) and compute used/free per supernet with ipaddress."""
    def once() -> None:
        data: dict[str, dict[str, object]] = {}
        for f in sorted(inv.glob("*.yaml")):
            for k, v in (yaml.load(f.read_text(), Loader=yaml.CSafeLoader) or {}).items():
                if isinstance(v, dict):
                    data.setdefault(k, {}).update(v)
        nets = [IPv4Network(s["lan"]) for s in data.get("sites", {}).values()
                if isinstance(s, dict) and s.get("lan")]
        nets += [IPv4Network(x["prefix"]) for x in data.get("links", {}).values() if isinstance(x, dict)]
        nets += [IPv4Network(f"{d['mgmt_ip']}/32") for d in data.get("devices", {}).values()
                 if isinstance(d, dict)]
        plan = data["plan"]["supernets"]  # type: ignore[index]
        for s in plan.values():  # type: ignore[attr-defined]
            sup = IPv4Network(s)
            inside = [n for n in nets if n.subnet_of(sup)]
            used = sum(n.num_addresses for n in collapse_addresses(inside))
            assert used <= sup.num_addresses

    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        once()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--allocations", type=int, default=1000)
    args = ap.parse_args()
    n = args.allocations
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = {**os.environ, "SIMPUL_STATE_DIR": str(root / "state8")}
        os.environ["SIMPUL_STATE_DIR"] = str(root / "state1")
        inv1 = fresh_copy(CONTOH, root, "one")
        rate1, cpu1 = one_process(inv1, n)
        rate_floor = floor_first_fit(CONTOH, n)
        inv8 = fresh_copy(CONTOH, root, "eight")
        rate8 = eight_processes(inv8, 250, env)
        big = scaled(10, root / "x10")
        from simpul.inventory import load_inventory

        routers = len(load_inventory(big).devices)
        show1 = show_process(CONTOH)
        show10 = show_process(big)
        big_full = fresh_copy(big, root, "x10-allocated")
        shutil.copy(inv8 / "ipam.yaml", big_full / "ipam.yaml")  # 2,000 allocations in ipam.yaml
        show10a = show_process(big_full)
        floor1, floor10 = show_floor(CONTOH), show_floor(big)
        startup = statistics.median(
            [_timed([str(SIMPUL), "--version"]) for _ in range(5)])

    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end")
    print(f"{'what':<64} {'value':>12}   target / floor (same run)")
    print(f"{f'allocate --apply, 1 process ({n} via simpul.cli.main)':<64} {rate1:9.0f}/s   "
          f"target >= 200/s: {'MET' if rate1 >= 200 else 'MISSED'}; CPU {1000 * cpu1:.1f} ms each")
    print(f"{'allocate --apply, 8 processes x 250 on one inventory':<64} {rate8:9.0f}/s   "
          "serialised by the lock, all distinct")
    print(f"{f'floor: plain ipaddress first fit in memory ({n})':<64} {rate_floor:9.0f}/s   "
          f"Simpul at {100 * rate1 / rate_floor:.1f} % of it (file, fsyncs, log, checks)")
    print(f"{'ipam show, example kabupaten (whole CLI process)':<64} {show1[0]:10.3f} s   "
          f"CPU {show1[1]:.3f} s; floor (YAML + ipaddress) {floor1:.3f} s")
    print(f"{f'ipam show, 10x kabupaten, {routers} routers (whole CLI process)':<64} {show10[0]:10.3f} s   "
          f"CPU {show10[1]:.3f} s; target < 1 s: {'MET' if show10[0] < 1 else 'MISSED'} "
          f"({'MET' if show10[1] < 1 else 'MISSED'} in CPU time); floor {floor10:.3f} s")
    print(f"{'ipam show, 10x kabupaten + 2,000 allocations in ipam.yaml':<64} {show10a[0]:10.3f} s   "
          f"CPU {show10a[1]:.3f} s")
    print(f"{'(of which starting the simpul process)':<64} {startup:10.3f} s")


def _timed(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, capture_output=True, check=True)
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
