"""Real daemons on loopback for tests and benchmarks: net-snmp snmpd, influxd 1.x, VictoriaMetrics.

Each helper starts its own process with its own config and data directory under ``workdir``,
binds only to 127.0.0.0/8, records the PID it started and stops exactly that PID. Nothing here
touches the system's /var/lib/snmp or the lab's ports (use 19000–19999).

Example::

    with SnmpdProcess(tmp, addresses=["127.0.0.21"], port=19161) as agent:
        ...  # agent.community, agent.v3_user, ...
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

log = logging.getLogger(__name__)


def _require_loopback(addr: str) -> None:
    if not ipaddress.ip_address(addr).is_loopback:
        raise ValueError(f"{addr}: test daemons bind to loopback addresses only")


def _wait_tcp(host: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"{host}:{port} did not open within {timeout}s")


class _Proc:
    proc: subprocess.Popen[bytes] | None = None
    name = "daemon"
    netns: str | None = None

    def _spawn(self, argv: list[str], env: dict[str, str] | None, log_path: Path) -> None:
        if self.netns:
            argv = ["ip", "netns", "exec", self.netns, *argv]
        logf = open(log_path, "ab")  # noqa: SIM115 (lives as long as the process)
        self.proc = subprocess.Popen(
            argv,
            stdout=logf,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        logf.close()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        """Stop the process this object started (by its PID only)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def __exit__(
        self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@dataclass
class SnmpdProcess(_Proc):
    """One net-snmp snmpd answering v2c and v3 authPriv (SHA/AES128) on loopback addresses."""

    workdir: Path
    addresses: Sequence[str] = ("127.0.0.11",)
    port: int = 19161
    community: str = "simpul-test"
    v3_user: str = "simpulv3"
    auth_key: str = "simpul-auth-key"
    priv_key: str = "simpul-priv-key"
    sys_name: str = "simpul-test-agent"
    extra_config: str = ""
    netns: str | None = None
    check_loopback: bool = True
    name: str = field(default="snmpd")

    def __post_init__(self) -> None:
        if self.check_loopback:
            for a in self.addresses:
                _require_loopback(a)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.conf = self.workdir / "snmpd.conf"
        self.persist = self.workdir / "persist"

    def write_config(self) -> None:
        listen = ",".join(f"udp:{a}:{self.port}" for a in self.addresses)
        self.conf.write_text(
            f"agentaddress {listen}\n"
            f"rocommunity {self.community} default\n"
            f'createUser {self.v3_user} SHA "{self.auth_key}" AES "{self.priv_key}"\n'
            f"rouser {self.v3_user} priv\n"
            f"sysName {self.sys_name}\n"
            "sysLocation simpul test\n"
            f"{self.extra_config}\n"
        )
        self.conf.chmod(0o600)

    def start(self) -> SnmpdProcess:
        self.write_config()
        self._spawn(
            [
                # No -C: that would also skip the persistent file, and snmpEngineBoots would never
                # increase across restarts. SNMPCONFPATH confines the search to workdir instead.
                "snmpd", "-f", "-Lf", str(self.workdir / "snmpd.log"),
                "-p", str(self.workdir / "snmpd.pid"), "-m", "", "-M", "/dev/null",
                "-I", "-smux,mteTrigger,mteTriggerConf",
            ],
            {"SNMP_PERSISTENT_DIR": str(self.persist),
             "SNMPCONFPATH": f"{self.workdir}:{self.persist}",
             "MIBS": ""},
            self.workdir / "stdout.log",
        )
        self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Wait until the agent answers a v2c GET of sysUpTime on its first address."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc and self.proc.poll() is not None:
                raise RuntimeError(f"snmpd exited: {(self.workdir / 'snmpd.log').read_text()[-500:]}")
            argv = [
                "snmpget", "-v2c", "-c", self.community, "-t", "0.3", "-r", "0", "-m", "",
                "-Oqv", f"{self.addresses[0]}:{self.port}", "1.3.6.1.2.1.1.3.0",
            ]
            if self.netns:
                argv = ["ip", "netns", "exec", self.netns, *argv]
            r = subprocess.run(
                argv, capture_output=True, env={**os.environ, "SNMP_PERSISTENT_DIR": str(self.persist)},
                check=False,
            )
            if r.returncode == 0:
                return
            time.sleep(0.1)
        raise TimeoutError("snmpd did not answer in time")

    def __enter__(self) -> SnmpdProcess:
        return self.start()


@dataclass
class InfluxdProcess(_Proc):
    """Debian's influxd 1.x with its own meta/data/wal dirs on 127.0.0.1:<port>."""

    workdir: Path
    port: int = 19086
    rpc_port: int = 19088
    name: str = field(default="influxd")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> InfluxdProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "influxdb.conf"
        d = self.workdir
        conf.write_text(
            f'reporting-disabled = true\nbind-address = "127.0.0.1:{self.rpc_port}"\n'
            f'[meta]\n  dir = "{d}/meta"\n'
            f'[data]\n  dir = "{d}/data"\n  wal-dir = "{d}/wal"\n  query-log-enabled = false\n'
            f'[http]\n  bind-address = "127.0.0.1:{self.port}"\n  log-enabled = false\n'
            '[monitor]\n  store-enabled = false\n'
            '[continuous_queries]\n  enabled = false\n'
        )
        self._spawn(["influxd", "-config", str(conf)], None, d / "influxd.log")
        _wait_tcp("127.0.0.1", self.port, 20)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), urllib.request.urlopen(
                f"{self.url}/ping", timeout=1
            ) as r:
                if r.status == 204:
                    return self
            time.sleep(0.1)
        raise TimeoutError("influxd did not answer /ping")

    def query(self, db: str, q: str) -> dict[str, object]:
        import json
        import urllib.parse

        url = f"{self.url}/query?" + urllib.parse.urlencode({"db": db, "q": q, "epoch": "s"})
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.loads(r.read())  # type: ignore[no-any-return]

    def __enter__(self) -> InfluxdProcess:
        return self.start()


@dataclass
class VictoriaMetricsProcess(_Proc):
    """Debian's victoria-metrics single-node on 127.0.0.1:<port> (accepts /api/v2/write)."""

    workdir: Path
    port: int = 19428
    name: str = field(default="victoria-metrics")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> VictoriaMetricsProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._spawn(
            [
                "victoria-metrics",
                f"-storageDataPath={self.workdir / 'data'}",
                f"-httpListenAddr=127.0.0.1:{self.port}",
                "-retentionPeriod=100y",
                "-search.latencyOffset=0s",
                "-search.disableCache",
                # Redelivered points (same series + timestamp) must count once: VictoriaMetrics
                # keeps duplicates unless deduplication is on (InfluxDB overwrites them).
                "-dedup.minScrapeInterval=1s",
            ],
            None,
            self.workdir / "vm.log",
        )
        _wait_tcp("127.0.0.1", self.port, 20)
        return self

    def export(self, match: str) -> list[dict[str, object]]:
        """``/api/v1/export`` as a list of series (after forcing a flush)."""
        import json
        import urllib.parse

        with contextlib.suppress(OSError), urllib.request.urlopen(
            f"{self.url}/internal/force_flush", timeout=10
        ):
            pass
        url = f"{self.url}/api/v1/export?" + urllib.parse.urlencode({"match[]": match})
        with urllib.request.urlopen(url, timeout=10) as r:
            return [json.loads(ln) for ln in r.read().decode().splitlines() if ln.strip()]

    def __enter__(self) -> VictoriaMetricsProcess:
        return self.start()
