"""Benchmark: CPU per device-poll and devices/s — Simpul vs snmp_exporter vs snmpbulkget.

One run, the same agents for every tool: one net-snmp ``snmpd`` in a network namespace this
script creates (``simpulbench-<pid>``), answering on every 127.x address of that namespace's
loopback, with 25 interfaces (``lo`` + 12 veth pairs, since the kernel has no ``dummy`` module).
Every client runs inside the same namespace; nothing leaves it. The namespace, its veths and
every process started here are removed at the end (by PID / by name of what we created).

Same OIDs for every tool (as in LAB-FACTS): sysUpTime.0 + ifInOctets, ifOutOctets, ifOperStatus
for 25 interfaces (76 values per device), SNMPv2c, GETBULK with max-repetitions 26.

Client CPU is measured, not the agent's: Simpul = the Python process's CPU time for the cycle;
snmp_exporter = utime+stime of the exporter process from /proc (the HTTP driver is not counted);
snmpbulkget = CPU of its child processes (RUSAGE_CHILDREN).

Usage (root)::

    python benchmarks/bench_poll.py --devices 1000
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

NS_ENV = "SIMPUL_BENCH_IN_NS"
PORT = 19161
EXPORTER_PORT = 19116
COMMUNITY = "simpul-bench"
OIDS_WALK = ["1.3.6.1.2.1.2.2.1.10", "1.3.6.1.2.1.2.2.1.16", "1.3.6.1.2.1.2.2.1.8"]
OID_UPTIME = "1.3.6.1.2.1.1.3.0"
VETH_PAIRS = 12  # + lo = 25 interfaces


def addresses(n: int) -> list[str]:
    return [f"127.1.{i // 250}.{i % 250 + 1}" for i in range(n)]


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=check)


# --- outside the namespace: set up, re-exec inside, tear down ----------------------------------


def outer(args: argparse.Namespace) -> int:
    if os.geteuid() != 0:
        sys.exit("run as root: the benchmark creates its own network namespace")
    ns = f"simpulbench-{os.getpid()}"
    sh("ip", "netns", "add", ns)
    try:
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        for i in range(VETH_PAIRS):
            sh("ip", "-n", ns, "link", "add", f"bv{i}a", "type", "veth", "peer", "name", f"bv{i}b")
            sh("ip", "-n", ns, "link", "set", f"bv{i}a", "up")
            sh("ip", "-n", ns, "link", "set", f"bv{i}b", "up")
        env = {**os.environ, NS_ENV: ns}
        r = subprocess.run(["ip", "netns", "exec", ns, sys.executable, __file__, *sys.argv[1:]],
                           env=env, check=False)
        return r.returncode
    finally:
        # processes we started inside were stopped by PID in inner(); anything left in *our*
        # namespace is ours
        for pid in sh("ip", "netns", "pids", ns, check=False).stdout.split():
            sh("kill", pid, check=False)
        sh("ip", "netns", "del", ns, check=False)


# --- inside the namespace ----------------------------------------------------------------------


def cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_snmpd(work: Path) -> subprocess.Popen[bytes]:
    conf = work / "snmpd.conf"
    conf.write_text(f"agentaddress udp:{PORT}\nrocommunity {COMMUNITY} default\n"
                    "sysName bench-agent\n")
    p = subprocess.Popen(
        ["snmpd", "-f", "-C", "-c", str(conf), "-Lf", str(work / "snmpd.log"), "-m", "",
         "-M", "/dev/null", "-I", "-smux,mteTrigger,mteTriggerConf"],
        env={**os.environ, "SNMP_PERSISTENT_DIR": str(work / "persist")},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        r = subprocess.run(["snmpget", "-v2c", "-c", COMMUNITY, "-t", "0.2", "-r", "0", "-m", "",
                            f"127.1.0.1:{PORT}", OID_UPTIME], capture_output=True, check=False)
        if r.returncode == 0:
            return p
        time.sleep(0.1)
    raise SystemExit("snmpd did not start")


def bench_simpul(addrs: list[str], engine_name: str, concurrency: int, full: bool,
                 work: Path) -> dict[str, float]:
    from pydantic import SecretStr

    from simpul.monitoring.devicepoll import derive, poll_cycle, to_lines
    from simpul.monitoring.engine import SnmpTarget, make_engine
    from simpul.monitoring.profiles import Column, PollPlan, Table

    plan = PollPlan(
        name="bench",
        scalars=(("snmp", Column(name="sysUpTime", oid=OID_UPTIME, type="timeticks")),),
        tables=(Table(name="interface", measurement="interface", index_tag="ifIndex", fields=[
            Column(name="ifInOctets", oid=OIDS_WALK[0], type="counter32", rate="in_bps", scale=8),
            Column(name="ifOutOctets", oid=OIDS_WALK[1], type="counter32", rate="out_bps", scale=8),
            Column(name="ifOperStatus", oid=OIDS_WALK[2], type="integer"),
        ]),),
    )
    targets = [SnmpTarget(f"d{i}", a, PORT, community=SecretStr(COMMUNITY), timeout=5, retries=1)
               for i, a in enumerate(addrs)]
    plans = {t.name: plan for t in targets}
    hints = {t.name: {"interface": 25} for t in targets}

    async def run() -> tuple[list, float, float]:  # type: ignore[type-arg]
        eng = make_engine(engine_name)
        # warm-up cycle (imports, first sockets), not measured
        await poll_cycle(eng, targets[: min(50, len(targets))], plans, concurrency=concurrency,
                         rows_hint=hints)
        c0, w0 = time.process_time(), time.perf_counter()
        polls = [r.value for r in await poll_cycle(eng, targets, plans, concurrency=concurrency,
                                                   rows_hint=hints)]
        if full:
            from simpul.monitoring.outbox import Outbox

            lines: list[str] = []
            for p in polls:
                d = derive(None, p)
                lines += to_lines(p, plan, {"agent_host": p.target, "device": p.target},
                                  int(time.time()), d)
            box = Outbox(work / f"outbox-{engine_name}.sqlite")
            box.put(["bench"], lines)
            box.close()
        c1, w1 = time.process_time(), time.perf_counter()
        await eng.close()
        return polls, c1 - c0, w1 - w0

    polls, cpu, wall = asyncio.run(run())
    ok = sum(1 for p in polls if p.ok)
    values = sum(1 + sum(len(r) for r in p.tables.get("interface", {}).values()) for p in polls
                 if p.ok) / max(ok, 1)
    return {"devices": len(addrs), "ok": ok, "cpu_ms_per_device": cpu * 1000 / len(addrs),
            "devices_per_s": len(addrs) / wall, "wall_s": wall, "values_per_device": values}


# snmp_exporter 0.21 (Debian) format: modules at the top level, auth inside the module.
SNMP_YML = """\
bench:
  version: 2
  auth:
    community: {community}
  max_repetitions: 26
  retries: 1
  timeout: 5s
  get:
    - {uptime}
  walk:
{walks}
  metrics:
    - name: sysUpTime
      oid: 1.3.6.1.2.1.1.3
      type: gauge
    - name: ifInOctets
      oid: {w0}
      type: counter
      indexes: [{{labelname: ifIndex, type: gauge}}]
    - name: ifOutOctets
      oid: {w1}
      type: counter
      indexes: [{{labelname: ifIndex, type: gauge}}]
    - name: ifOperStatus
      oid: {w2}
      type: gauge
      indexes: [{{labelname: ifIndex, type: gauge}}]
"""


def bench_exporter(addrs: list[str], concurrency: int, work: Path) -> dict[str, float]:
    yml = work / "snmp.yml"
    yml.write_text(SNMP_YML.format(community=COMMUNITY, uptime=OID_UPTIME,
                                   walks="\n".join(f"      - {o}" for o in OIDS_WALK),
                                   w0=OIDS_WALK[0], w1=OIDS_WALK[1], w2=OIDS_WALK[2]))
    p = subprocess.Popen(["prometheus-snmp-exporter", f"--config.file={yml}",
                          f"--web.listen-address=127.0.0.1:{EXPORTER_PORT}", "--log.level=warn"],
                         stdout=subprocess.DEVNULL, stderr=open(work / "exporter.log", "wb"))  # noqa: SIM115
    try:
        base = f"http://127.0.0.1:{EXPORTER_PORT}/snmp?module=bench&target="
        for _ in range(100):
            try:
                urllib.request.urlopen(base + f"127.1.0.1:{PORT}", timeout=5).read()
                break
            except OSError:
                time.sleep(0.1)

        def scrape(a: str) -> bool:
            body = urllib.request.urlopen(base + f"{a}:{PORT}", timeout=30).read().decode()
            return body.count("\nifOperStatus{") == 25 and "sysUpTime " in body

        with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(scrape, addrs[:50]))  # warm-up
            c0, w0 = cpu_of(p.pid), time.perf_counter()
            ok = sum(pool.map(scrape, addrs))
            c1, w1 = cpu_of(p.pid), time.perf_counter()
    finally:
        p.terminate()
        p.wait(10)
    return {"devices": len(addrs), "ok": ok, "cpu_ms_per_device": (c1 - c0) * 1000 / len(addrs),
            "devices_per_s": len(addrs) / (w1 - w0), "wall_s": w1 - w0}


def bench_bulkget(addrs: list[str], parallel: int) -> dict[str, float]:
    def one(a: str) -> bool:
        r = subprocess.run(["snmpbulkget", "-v2c", "-c", COMMUNITY, "-m", "", "-On", "-Cn1",
                            "-Cr26", "-t", "5", "-r", "1", f"{a}:{PORT}", "1.3.6.1.2.1.1.3",
                            *OIDS_WALK], capture_output=True, text=True, check=False)
        return r.returncode == 0 and r.stdout.count("\n") >= 76

    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    w0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
        ok = sum(pool.map(one, addrs))
    w1 = time.perf_counter()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    return {"devices": len(addrs), "ok": ok, "cpu_ms_per_device": cpu * 1000 / len(addrs),
            "devices_per_s": len(addrs) / (w1 - w0), "wall_s": w1 - w0}


def inner(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="simpul-bench-"))
    addrs = addresses(args.devices)
    agent = start_snmpd(work)
    results: dict[str, dict[str, float]] = {}
    try:
        ifs = subprocess.run(["snmpwalk", "-v2c", "-c", COMMUNITY, "-m", "", "-Oqv",
                              f"127.1.0.1:{PORT}", "1.3.6.1.2.1.2.2.1.2"], capture_output=True,
                             text=True, check=True).stdout.split()
        print(f"agent: one snmpd answering {len(addrs)} loopback addresses, {len(ifs)} interfaces "
              f"each; {os.cpu_count()} cores", flush=True)
        results["simpul (gufo), poll only"] = bench_simpul(addrs, "gufo", args.concurrency, False, work)
        results["simpul (gufo), poll+rates+lines+outbox"] = bench_simpul(
            addrs, "gufo", args.concurrency, True, work)
        if not args.skip_exporter and shutil.which("prometheus-snmp-exporter"):
            results["prometheus snmp_exporter 0.21"] = bench_exporter(addrs, args.concurrency, work)
        sub = addrs[: args.subset]
        results[f"net-snmp snmpbulkget (first {len(sub)})"] = bench_bulkget(sub, os.cpu_count() or 2)
        results[f"simpul (pysnmp), poll only (first {len(sub)})"] = bench_simpul(
            sub, "pysnmp", args.concurrency, False, work)
    finally:
        agent.terminate()
        agent.wait(10)
        shutil.rmtree(work, ignore_errors=True)
    ref = results.get("prometheus snmp_exporter 0.21")
    print(f"\n{'client':50} {'ok':>9} {'CPU ms/dev':>11} {'dev/s':>8} {'wall s':>7} {'vs exporter':>12}")
    for name, r in results.items():
        ratio = f"{r['cpu_ms_per_device'] / ref['cpu_ms_per_device']:.2f}x" if ref else "-"
        print(f"{name:50} {int(r['ok']):>4}/{int(r['devices']):<4} {r['cpu_ms_per_device']:>11.3f} "
              f"{r['devices_per_s']:>8.0f} {r['wall_s']:>7.2f} {ratio:>12}")
    g = results["simpul (gufo), poll+rates+lines+outbox"]
    n = args.devices
    verdict = "n/a"
    if ref:
        mine = results["simpul (gufo), poll only"]["cpu_ms_per_device"]
        verdict = "MET" if mine <= ref["cpu_ms_per_device"] else "NOT MET"
    print(f"\ntarget 1: Simpul CPU/device-poll <= snmp_exporter: {verdict}")
    print(f"target 2: {n}-device cycle within 60 s on one core: {g['wall_s']:.1f} s wall, "
          f"{g['cpu_ms_per_device'] * n / 1000:.1f} s CPU -> "
          f"{'MET' if g['wall_s'] <= 60 and g['cpu_ms_per_device'] * n / 1000 <= 60 else 'NOT MET'}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=100)
    ap.add_argument("--subset", type=int, default=200, help="devices for the slow clients")
    ap.add_argument("--skip-exporter", action="store_true")
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args()
    if os.environ.get(NS_ENV):
        return inner(args)
    return outer(args)


if __name__ == "__main__":
    sys.exit(main())
