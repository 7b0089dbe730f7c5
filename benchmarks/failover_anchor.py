"""The split-brain anchor: a plain keepalived + ``pg_ctl promote`` pair, partitioned like the lab.

What a DRC takeover looks like when it is home-made (LAB-FACTS "DR site"): PostgreSQL streaming
replication (asynchronous, the usual choice), keepalived VRRP moving a service address, and a
``notify_master`` script that promotes the standby. No witness, no lease. The benchmark cuts the
link between the sites while a client at the NOC keeps writing, and counts what Patroni + etcd +
a witness prevent: two primaries, and acknowledged writes that end up only on the orphaned side.

Everything lives in network namespaces of its own (prefix ``sbfo-``), built from the host's
PostgreSQL 15 and keepalived 2.2.7 (scripts/setup): the same triangle as the lab — a switch per
site, the ``wan`` between the sites, a NOC switch with its own link to each site, the three links
isolated bridge ports — with addresses in 10.198.0.0/16 that exist only inside the namespaces
(nothing is connected to the host's network). Processes are started here and stopped by PID;
``close()`` removes every namespace and file.

The client is the drill's own (``drc/loadgen.py``), run with the host's python3-psycopg2.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

PREFIX = "sbfo"
PG = Path("/usr/lib/postgresql/15/bin")
REPO = Path(__file__).resolve().parents[1]
VIP = "10.198.64.100"
NODES = {"pd": ("10.198.64.13", "10.198.64.0/24", 150), "drc": ("10.198.65.11", "10.198.65.0/24", 100)}
CLIENT = ("10.198.66.12", "10.198.66.0/24")
SECRET = "anchor-drill-pw"  # a throwaway password of a throwaway cluster inside the namespaces


def sh(*cmd: str, ns: str | None = None, check: bool = True, input: str | None = None,
       timeout: float = 60) -> subprocess.CompletedProcess[str]:
    full = ["ip", "netns", "exec", ns, *cmd] if ns else list(cmd)
    cp = subprocess.run(full, capture_output=True, text=True, input=input, timeout=timeout, check=False)
    if check and cp.returncode != 0:
        raise RuntimeError(f"{' '.join(full)}: {cp.stderr.strip()[-400:]}")
    return cp


def ipn(ns: str, *args: str) -> None:
    sh("ip", "-n", ns, *args)


class Anchor:
    """Build with :meth:`setup`, run :meth:`partition_run` as often as wanted, then :meth:`close`."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="simpul-bench-anchor-"))
        os.chmod(self.dir, 0o755)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.ns = [f"{PREFIX}-sw-pd", f"{PREFIX}-sw-drc", f"{PREFIX}-sw-noc", f"{PREFIX}-pd",
                   f"{PREFIX}-drc", f"{PREFIX}-noc"]

    # --- network --------------------------------------------------------------------------

    def setup(self) -> None:
        for ns in self.ns:
            if Path("/run/netns", ns).exists():
                raise RuntimeError(f"namespace {ns} exists: a previous anchor was not cleaned up")
        for ns in self.ns:
            sh("ip", "netns", "add", ns)
            ipn(ns, "link", "set", "lo", "up")
        for sw in ("pd", "drc", "noc"):
            ipn(f"{PREFIX}-sw-{sw}", "link", "add", "br0", "type", "bridge", "stp_state", "0",
                "forward_delay", "0")
            ipn(f"{PREFIX}-sw-{sw}", "link", "set", "br0", "up")
        links = [("wan-pd", f"{PREFIX}-sw-pd", "wan-drc", f"{PREFIX}-sw-drc"),
                 ("to-pd", f"{PREFIX}-sw-noc", "to-noc", f"{PREFIX}-sw-pd"),
                 ("to-drc", f"{PREFIX}-sw-noc", "to-noc", f"{PREFIX}-sw-drc")]
        for a, na, b, nb in links:
            sh("ip", "link", "add", a, "netns", na, "type", "veth", "peer", "name", b, "netns", nb)
            for i, n in ((a, na), (b, nb)):
                ipn(n, "link", "set", i, "master", "br0", "up")
                ipn(n, "link", "set", "dev", i, "type", "bridge_slave", "isolated", "on")
        hosts = {"pd": (NODES["pd"][0], NODES["pd"][1], "pd"), "drc": (NODES["drc"][0], NODES["drc"][1], "drc"),
                 "noc": (CLIENT[0], CLIENT[1], "noc")}
        for h, (addr, net, sw) in hosts.items():
            ns = f"{PREFIX}-{h}"
            sh("ip", "link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", f"p-{h}",
               "netns", f"{PREFIX}-sw-{sw}")
            ipn(f"{PREFIX}-sw-{sw}", "link", "set", f"p-{h}", "master", "br0", "up")
            ipn(ns, "addr", "add", f"{addr}/24", "dev", "eth0")
            ipn(ns, "link", "set", "eth0", "up")
            for other in {NODES["pd"][1], NODES["drc"][1], CLIENT[1]} - {net}:
                ipn(ns, "route", "add", other, "dev", "eth0", "src", addr)

    def cut(self, up: bool) -> None:
        for ns, dev in ((f"{PREFIX}-sw-pd", "wan-pd"), (f"{PREFIX}-sw-drc", "wan-drc")):
            ipn(ns, "link", "set", dev, "up" if up else "down")

    # --- processes --------------------------------------------------------------------------

    def _spawn(self, key: str, ns: str, cmd: list[str], user: str | None = None) -> None:
        full = ["ip", "netns", "exec", ns, *(["runuser", "-u", user, "--"] if user else []), *cmd]
        log = open(self.dir / f"{key}.log", "ab")  # noqa: SIM115 - the child keeps it
        self.procs[key] = subprocess.Popen(full, stdout=log, stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL, start_new_session=True)

    def _stop(self, key: str, sig: int = signal.SIGINT, grace: float = 15) -> None:
        p = self.procs.pop(key, None)
        if p is None or p.poll() is not None:
            return
        os.killpg(p.pid, sig)
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(5)

    def _pg_conf(self, node: str) -> str:
        addr = NODES[node][0]
        return (f"listen_addresses = '*'  # {addr} and the service address when it is here\n"
                "port = 5432\nunix_socket_directories = "
                f"'{self.dir}/sock-{node}'\nwal_level = replica\nhot_standby = on\n"
                "max_wal_senders = 5\nwal_keep_size = 128MB\nwal_sender_timeout = 10s\n"
                "wal_retrieve_retry_interval = 200ms\nsynchronous_commit = on\n"
                f"simpul.node = '{node}'\nfsync = on\n")

    def _psql(self, node: str, sql: str, db: str = "postgres") -> str:
        return sh("runuser", "-u", "postgres", "--", str(PG / "psql"), "-XAtq", "-h",
                  f"{self.dir}/sock-{node}", "-d", db, "-c", sql, ns=f"{PREFIX}-{node}").stdout

    def start_pair(self) -> None:
        """A fresh primary at pd and a streaming standby at drc, keepalived on both."""
        for key in ("ka-pd", "ka-drc", "pg-pd", "pg-drc"):
            self._stop(key)
        for node in NODES:
            shutil.rmtree(self.dir / node, ignore_errors=True)
            (self.dir / f"sock-{node}").mkdir(exist_ok=True)
            shutil.chown(self.dir / f"sock-{node}", "postgres", "postgres")
        d = self.dir / "pd"
        d.mkdir()
        shutil.chown(d, "postgres", "postgres")
        sh("runuser", "-u", "postgres", "--", str(PG / "initdb"), "-D", str(d), "-A", "trust",
           "--no-sync", "-U", "postgres")
        (d / "postgresql.auto.conf").write_text(self._pg_conf("pd"))
        (d / "pg_hba.conf").write_text("local all all trust\nhost all all 10.198.0.0/16 trust\n"
                                       "host replication all 10.198.0.0/16 trust\n")
        self._spawn("pg-pd", f"{PREFIX}-pd", [str(PG / "postgres"), "-D", str(d)], user="postgres")
        self._wait_sql("pd")
        self._psql("pd", "CREATE DATABASE simpul_drill")
        from simpul.drc.loadgen import SQL_TABLE
        self._psql("pd", SQL_TABLE, db="simpul_drill")
        self._psql("pd", f"CREATE ROLE simpul_drill LOGIN PASSWORD '{SECRET}'; "
                         "GRANT ALL ON drill_writes TO simpul_drill", db="simpul_drill")
        r = self.dir / "drc"
        r.mkdir(mode=0o700)
        shutil.chown(r, "postgres", "postgres")
        sh("runuser", "-u", "postgres", "--", str(PG / "pg_basebackup"), "-h", NODES["pd"][0],
           "-U", "postgres", "-D", str(r), "-R", "-X", "stream", "-c", "fast", ns=f"{PREFIX}-drc")
        (r / "postgresql.auto.conf").write_text(
            self._pg_conf("drc") + f"primary_conninfo = 'host={NODES['pd'][0]} user=postgres'\n")
        self._spawn("pg-drc", f"{PREFIX}-drc", [str(PG / "postgres"), "-D", str(r)], user="postgres")
        self._wait_sql("drc")
        for node, (addr, _, prio) in NODES.items():
            peer = NODES["drc" if node == "pd" else "pd"][0]
            promote = self.dir / f"promote-{node}.sh"
            promote.write_text(
                "#!/bin/sh\n# keepalived notify_master: promote the local standby (the home-made way)\n"
                f"runuser -u postgres -- {PG}/pg_ctl promote -D {self.dir / node} >/dev/null 2>&1 || true\n")
            promote.chmod(0o755)
            (self.dir / f"ka-{node}.conf").write_text(
                "global_defs {\n  script_user root\n}\n"
                "vrrp_instance SIMPEG {\n  state BACKUP\n  interface eth0\n  virtual_router_id 64\n"
                f"  priority {prio}\n  advert_int 1\n  unicast_src_ip {addr}\n"
                f"  unicast_peer {{\n    {peer}\n  }}\n"
                f"  virtual_ipaddress {{\n    {VIP}/32 dev eth0\n  }}\n"
                f"  notify_master \"{promote}\"\n}}\n")
            self._spawn(f"ka-{node}", f"{PREFIX}-{node}",
                        ["keepalived", "-n", "-l", "-D", "-f", str(self.dir / f"ka-{node}.conf"),
                         "-p", str(self.dir / f"ka-{node}.pid"), "-r", str(self.dir / f"ka-{node}-vrrp.pid"),
                         "-c", str(self.dir / f"ka-{node}-chk.pid")])
        deadline = time.monotonic() + 30
        while not self._has_vip("pd"):
            if time.monotonic() > deadline:
                raise RuntimeError("keepalived never put the address on pd")
            time.sleep(0.2)

    def _wait_sql(self, node: str) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                self._psql(node, "SELECT 1")
                return
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def _has_vip(self, node: str) -> bool:
        out = sh("ip", "-o", "-4", "addr", "show", "dev", "eth0", ns=f"{PREFIX}-{node}").stdout
        return any(w.split("/")[0] == VIP for w in out.split())

    def _writable(self, node: str) -> bool:
        try:
            return self._psql(node, "SELECT NOT pg_is_in_recovery()").strip() == "t"
        except RuntimeError:
            return False

    # --- one partition under load ----------------------------------------------------------

    def partition_run(self, run_id: str, observe: float = 15.0, after: float = 8.0) -> dict[str, Any]:
        self.start_pair()
        cfg = {"host": VIP, "port": 5432, "dbname": "simpul_drill", "user": "simpul_drill",
               "password": SECRET, "run_id": run_id, "interval_ms": 20, "connect_timeout": 2,
               "query_timeout": 5, "max_seconds": 300}
        client = subprocess.Popen(["ip", "netns", "exec", f"{PREFIX}-noc", "/usr/bin/python3", "-u",
                                   str(REPO / "drc" / "loadgen.py")], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                  start_new_session=True)
        assert client.stdin is not None and client.stdout is not None
        client.stdin.write(json.dumps(cfg) + "\n")
        client.stdin.flush()
        lines: list[dict[str, Any]] = []
        reader = threading.Thread(target=lambda: lines.extend(json.loads(x) for x in client.stdout
                                                               if x.startswith("{")), daemon=True)
        reader.start()
        both_primary = False
        both_vip = False
        time.sleep(3)
        t_cut = time.time()
        self.cut(False)
        deadline = time.monotonic() + observe
        while time.monotonic() < deadline:
            both_primary |= self._writable("pd") and self._writable("drc")
            both_vip |= self._has_vip("pd") and self._has_vip("drc")
            time.sleep(0.5)
        self.cut(True)
        time.sleep(after)
        client.stdin.write("stop\n")
        client.stdin.flush()
        client.wait(30)
        reader.join(10)
        acks = [e for e in lines if e.get("ev") == "ack"]
        rows: dict[str, set[int]] = {}
        for node in NODES:
            out = self._psql(node, f"SELECT seq FROM drill_writes WHERE run_id = '{run_id}'", db="simpul_drill")
            rows[node] = {int(x) for x in out.split()}
        # the service continues on pd (keepalived's higher priority takes the address back):
        # what was acknowledged but exists only on the abandoned drc timeline is lost
        orphaned = [a["seq"] for a in acks if a["seq"] in rows["drc"] and a["seq"] not in rows["pd"]]
        by_node: dict[str, int] = {}
        for a in acks:
            if a["t"] > t_cut:
                by_node[a["node"]] = by_node.get(a["node"], 0) + 1
        return {"acks": len(acks), "acks_after_cut_by_node": by_node, "orphaned": len(orphaned),
                "two_primaries": both_primary, "vip_on_both": both_vip}

    def close(self) -> None:
        for key in list(self.procs):
            self._stop(key, signal.SIGTERM)
        for ns in self.ns:
            if Path("/run/netns", ns).exists():
                left = sh("ip", "netns", "pids", ns, check=False).stdout.split()
                for pid in left:
                    with contextlib.suppress(ProcessLookupError, ValueError):
                        os.kill(int(pid), signal.SIGKILL)
                sh("ip", "netns", "del", ns, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)
