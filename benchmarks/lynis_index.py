"""An independent auditor's view: Lynis hardening index before and after ``harden apply``.

Boots one fresh private lab server (``simpul.lab.private``), runs Debian's ``lynis audit system``
inside it over SSH (lynis is baked into the lab image; nothing is installed), applies the
baseline hardening, runs lynis again, and prints both indexes plus the remaining suggestions.
Target: index after >= 80.

    sudo .venv/bin/python benchmarks/lynis_index.py [--profile baseline|strict] [--keep DIR]
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import tempfile
import time
from pathlib import Path

from simpul.deploys.runner import run_hosts
from simpul.inventory import load_inventory
from simpul.lab.private import PrivateLab
from simpul.ssh import run
from simpul.ssh import server_target as target_for

LYNIS = ("lynis audit system --quick --no-colors --nolog --logfile /dev/null "
         "--report-file /tmp/lynis-report.dat >/dev/null 2>&1; cat /tmp/lynis-report.dat")


def lynis(t) -> tuple[int, float, list[str], list[str]]:  # type: ignore[no-untyped-def]
    t0 = time.monotonic()
    rc, out, err = run(t, LYNIS, sudo=True, timeout=600)
    secs = time.monotonic() - t0
    m = re.search(r"^hardening_index=(\d+)$", out, re.M)
    if not m:
        raise SystemExit(f"lynis produced no hardening index (exit {rc}): {err[-500:]}")
    sugg = re.findall(r"^suggestion\[\]=([^|]+)\|([^|]*)", out, re.M)
    warn = re.findall(r"^warning\[\]=([^|]+)\|([^|]*)", out, re.M)
    return int(m.group(1)), secs, [f"{a} {b}" for a, b in sugg], [f"{a} {b}" for a, b in warn]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", choices=["baseline", "strict"], default="baseline")
    ap.add_argument("--keep", type=Path, help="work directory (default: a temporary one)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    base = args.keep or Path(tempfile.mkdtemp(prefix="simpul-lynis-"))
    # a second server is the Pusat Data log host, so LOG-02 (forwarding) applies as in production
    with PrivateLab(base, ["lynis", "loghost"]) as lab:
        lab.write_inventory({"lynis": {"profile": args.profile}})
        inv = load_inventory(lab.inventory_dir)
        name = lab.n("lynis")
        t = target_for(inv, name, lab.known_hosts)
        before, s1, _, _ = lynis(t)
        hr, lh = run_hosts(inv, [name, lab.n("loghost")], "apply", lab.known_hosts)
        if not (hr.ok and lh.ok):
            print(f"apply failed: {hr.message} {lh.message}", file=sys.stderr)
            return 1
        after, s2, sugg, warn = lynis(t)
    print(f"Lynis hardening index (Debian lynis, inside a fresh lab server, profile {args.profile})")
    print(f"  before apply: {before:3d}   ({s1:.0f} s scan)")
    print(f"  after apply:  {after:3d}   ({s2:.0f} s scan; apply {hr.seconds:.1f} s, {hr.data.get('changed_ops', 0)} ops)")
    print(f"  delta: +{after - before}; target after >= 80: {'MET' if after >= 80 else 'NOT MET'}")
    if warn:
        print("Remaining lynis warnings:")
        for w in warn:
            print(f"  - {w}")
    print(f"Remaining lynis suggestions ({len(sugg)}):")
    for s in sugg:
        print(f"  - {s}")
    return 0 if after >= 80 else 2


if __name__ == "__main__":
    raise SystemExit(main())
