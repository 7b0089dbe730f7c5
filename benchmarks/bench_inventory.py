#!/usr/bin/env python3
"""How long `simpul inventory check` takes on the example kabupaten (target: < 2 s).

Printed beside the floor measured in the same run: only parsing the same YAML files with
PyYAML's C loader (what any YAML-based inventory tool pays before validating anything), and
beside a 10x kabupaten (3,240 routers) to show the check scales linearly.

    .venv/bin/python benchmarks/bench_inventory.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
CONTOH = REPO / "inventory" / "contoh-kabupaten"
SIMPUL = Path(sys.executable).parent / "simpul"


def timed(fn, runs: int = 5) -> float:  # type: ignore[no-untyped-def]
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def cli_check(directory: Path) -> None:
    cp = subprocess.run([str(SIMPUL), "inventory", "check", str(directory)], capture_output=True, text=True)
    assert cp.returncode == 0, cp.stdout + cp.stderr


def parse_only(directory: Path) -> None:
    for f in sorted(directory.glob("*.yaml")):
        yaml.load(f.read_text(), Loader=yaml.CSafeLoader)


def scaled(factor: int, out: Path) -> Path:
    """The example kabupaten with its desa routers and links repeated ``factor`` times."""
    out.mkdir()
    for f in CONTOH.glob("*.yaml"):
        if f.name not in ("devices-desa.yaml", "links.yaml", "sites.yaml"):
            (out / f.name).write_text(f.read_text())
    sites = yaml.safe_load((CONTOH / "sites.yaml").read_text())["sites"]
    devs = yaml.safe_load((CONTOH / "devices-desa.yaml").read_text())["devices"]
    links = yaml.safe_load((CONTOH / "links.yaml").read_text())["links"]
    new_sites, new_devs, new_links = dict(sites), {}, {}
    mg = iter(range(1, 65000))
    for k in range(factor):
        for n, d in devs.items():
            site = d["site"]
            sname = f"{site}-{k}"
            s = dict(sites[site])
            s.pop("lan", None)
            new_sites[sname] = s
            i = next(mg)
            new_devs[f"{n}-{k}"] = {**d, "site": sname, "mgmt_ip": f"10.250.{100 + i // 250}.{i % 250 + 1}"}
    for n, lk in links.items():
        if not lk["b"].startswith("r-"):
            new_links[n] = lk
    (out / "sites.yaml").write_text(yaml.safe_dump({"sites": new_sites}))
    (out / "devices-desa.yaml").write_text(yaml.safe_dump({"devices": new_devs}))
    (out / "links.yaml").write_text(yaml.safe_dump({"links": new_links}))
    return out


def main() -> None:
    from simpul.inventory import load_inventory

    inv = load_inventory(CONTOH)
    print(
        f"example kabupaten: {len(inv.devices)} routers, {len(inv.sites)} sites, {len(inv.servers)} servers"
    )
    t_cli = timed(lambda: cli_check(CONTOH))
    t_lib = timed(lambda: load_inventory(CONTOH))
    t_yaml = timed(lambda: parse_only(CONTOH))
    print(f"{'what':<52} {'median s':>9}")
    print(
        f"{'simpul inventory check (whole CLI process)':<52} {t_cli:9.3f}   target < 2 s: {'MET' if t_cli < 2 else 'MISSED'}"
    )
    print(f"{'load_inventory() in-process (parse+validate+xref)':<52} {t_lib:9.3f}")
    print(
        f"{'floor: PyYAML CSafeLoader parse of the same files':<52} {t_yaml:9.3f}   ratio {t_lib / t_yaml:.1f}x"
    )
    with tempfile.TemporaryDirectory() as tmp:
        big = scaled(10, Path(tmp) / "x10")
        n = len(load_inventory(big).devices)
        t_big = timed(lambda: load_inventory(big), runs=3)
        print(
            f"{f'load_inventory() on a 10x kabupaten ({n} routers)':<52} {t_big:9.3f}   {t_big / t_lib:.1f}x the time"
        )


if __name__ == "__main__":
    main()
