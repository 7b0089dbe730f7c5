"""Wall time of ``harden apply`` and ``harden audit`` for 1 and 3 lab servers, first and second run.

Boots fresh private lab servers (``simpul.lab.private``; Debian 12 in namespaces, SSH only) and
times the library calls the CLI makes. The peer tool measured in the same run is Lynis (Debian
``lynis audit system``, audit only) on one server, so the audit time has a reference.

    sudo .venv/bin/python benchmarks/bench_harden.py [--no-lynis]
"""

from __future__ import annotations

import argparse
import logging
import time

from simpul.deploys.audit import audit_hosts
from simpul.deploys.runner import run_hosts
from simpul.inventory import load_inventory
from simpul.lab.private import PrivateLab, scratch_base
from simpul.ssh import run
from simpul.ssh import server_target as target_for


def timed(fn, *a, **kw):  # type: ignore[no-untyped-def]
    t0 = time.monotonic()
    out = fn(*a, **kw)
    return time.monotonic() - t0, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-lynis", action="store_true", help="skip the Lynis reference scan")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rows: list[tuple[str, int, str, float, str]] = []
    lynis_s = None
    for n in (1, 3):
        roles = ["web", "app", "db"][:n]
        with scratch_base(f"simpul-bench{n}-") as base, PrivateLab(base, roles) as lab:
            inv = load_inventory(lab.inventory_dir)
            names = [lab.n(r) for r in roles]
            boot = "fresh"
            for run_no in ("first", "second"):
                s, runs = timed(run_hosts, inv, names, "apply", lab.known_hosts)
                bad = [f"{r.target}: {r.message}" for r in runs if not r.ok]
                ops = sum(r.data.get("changed_ops", 0) for r in runs)
                rows.append(("apply", n, run_no, s, f"{ops} ops changed" + (f"; FAILED {bad}" if bad else "")))
            for run_no in ("first", "second"):
                s, audits = timed(audit_hosts, inv, names, lab.known_hosts)
                fails = sum(a.count("fail") for a in audits)
                passes = sum(a.count("pass") for a in audits)
                rows.append(("audit", n, run_no, s, f"{passes} pass, {fails} fail"))
            if n == 1 and not args.no_lynis:
                t = target_for(inv, names[0], lab.known_hosts)
                lynis_s, _ = timed(run, t, "lynis audit system --quick --no-colors --nolog "
                                      "--logfile /dev/null --report-file /dev/null >/dev/null 2>&1",
                                   sudo=True, timeout=600)
            del boot
    print("Simpul hardening wall time (private lab servers, Debian 12 in namespaces, over SSH)")
    print(f"{'task':6} {'servers':>7} {'run':7} {'seconds':>8}  result")
    for task, n, run_no, s, note in rows:
        print(f"{task:6} {n:7d} {run_no:7} {s:8.1f}  {note}")
    one = {(t, r): s for t, n, r, s, _ in rows if n == 1}
    three = {(t, r): s for t, n, r, s, _ in rows if n == 3}
    print("3 servers vs 1 (parallel efficiency): " + ", ".join(
        f"{t} {r} x{three[(t, r)] / one[(t, r)]:.2f}" for t, r in one))
    if lynis_s:
        print(f"peer: lynis audit system (one server, audit only): {lynis_s:.1f} s; "
              f"simpul audit / lynis = {one[('audit', 'first')] / lynis_s:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
