#!/usr/bin/env python3
"""Where a router push's CPU goes: each step of ``net push`` on one router of the default lab,
20 times, with the whole machine's CPU and Simpul's own (this process and its children).

The per-step figures behind docs/network.md "Speed" (where the commit-confirm push's overhead
over the plain netmiko floor goes on this 2-core machine, where the routers' work shares the
CPUs). Needs root and the shared lab down (it builds its own, routers only):

    flock /run/lock/simpul-shared-lab.lock .venv/bin/python benchmarks/bench_net_steps.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from netmiko import ConnectHandler

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_lab import can_build_own_lab
from bench_net import _busy, _client

from simpul.inventory.loader import load_inventory
from simpul.lab import orchestrate
from simpul.network.connection import open_session
from simpul.network.differ import clear_parse_cache
from simpul.network.drivers import HELPER, driver_for
from simpul.network.push import PushOptions, push
from simpul.network.render import render
from simpul.network.snmpcheck import snmp_answers
from simpul.ssh import netmiko_params

N = 20


def meas(label: str, fn: Callable[[], object]) -> None:
    fn()  # warm
    c0, k0, t0 = _busy(), _client(), time.perf_counter()
    for _ in range(N):
        fn()
    dt, c, k = ((time.perf_counter() - t0) / N, (_busy() - c0) / N, (_client() - k0) / N)
    print(f"{label:48} wall {dt * 1000:6.1f} ms  machine CPU {c * 1000:6.1f} ms  "
          f"Simpul's process {k * 1000:6.1f} ms", flush=True)


def main() -> int:
    if not can_build_own_lab():
        return 2
    with tempfile.TemporaryDirectory(prefix="simpul-steps-") as t:
        tmp = Path(t)
        tmp.chmod(0o755)
        os.environ["SIMPUL_STATE_DIR"] = str(tmp / "state")  # keep out of the real oplog
        st = orchestrate.state()
        inv = load_inventory(orchestrate.default_inventory())
        names = list(inv.devices)
        orchestrate.up(inv, st=st, servers=False)
        kh = st.known_hosts
        try:
            first = push(inv, names, kh, PushOptions(apply=True, revert_in=60), parallel=20)
            assert all(r.ok for r in first), [(r.target, r.message) for r in first if not r.ok]
            n = "desa-kemloko" if "desa-kemloko" in names else names[-1]
            print(f"one router ({n}), {N} times each, mean per time:")

            def netmiko_login() -> None:
                ConnectHandler(**netmiko_params(inv, n, kh, device_type="cisco_ios")).disconnect()

            meas("netmiko login + disconnect (the floor's)", netmiko_login)
            meas("Simpul session login + close", lambda: open_session(inv, n, kh).close())
            meas("exec-only fresh login + close", lambda: open_session(inv, n, kh, exec_only=True).close())
            s = open_session(inv, n, kh)
            meas("CLI: show running-config", lambda: s.show("show running-config"))
            meas("CLI: show ip ospf neighbor json", lambda: s.show("show ip ospf neighbor json"))
            meas("exec: helper acl-show", lambda: s.exec(f"{HELPER} acl-show"))
            meas("exec: helper status", lambda: s.exec(f"{HELPER} status"))
            meas("exec: helper acl-show + startup + ping", lambda: s.exec(f"{HELPER} acl-show + startup + "
                                                                          "ping 10.199.0.1"))
            meas("exec: one vtysh command (no helper)", lambda: s.exec("show version"))
            meas("CLI: write memory", lambda: s.show("write memory", read_timeout=60))
            rendered, drv, running = render(inv, n), driver_for(s, inv), s.show("show running-config")

            def compare() -> None:
                clear_parse_cache()
                drv._prefetched["acl-show"] = {"present": True, "admit": []}  # type: ignore[attr-defined]
                drv.compare(rendered, running)

            meas("compare (local vtysh -m, parse cache emptied)", compare)
            meas("SNMP GET from the NOC", lambda: snmp_answers(inv, n))
            meas("render the intended config", lambda: render(inv, n))
            s.close()
        finally:
            orchestrate.down(st=st)
    return 0


if __name__ == "__main__":
    sys.exit(main())
