"""Helpers for the lab tests: the session's lab handle and host snapshots."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from simpul.inventory.models import Inventory
from simpul.lab.state import LabState
from simpul.lab.topology import Topology

NEEDS = ("vtysh", "sshd", "snmpd", "snmpget", "influxd", "victoria-metrics", "nft", "tc", "ssh")


def snapshot() -> dict[str, set[str]]:
    """What ``down`` must restore: namespaces, links, routes, mounts, live processes."""

    def out(*cmd: str) -> list[str]:
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.splitlines()

    procs = set()
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            stat = (p / "stat").read_text()
            if stat.rsplit(")", 1)[1].split()[0] == "Z":
                continue  # already dead; PID 1 of this VM reaps orphans lazily
            cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError):
            continue
        if cmd:
            procs.add(f"{p.name} {cmd.strip()}")
    mounts = set()
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        f = line.split()
        mounts.add(f"{f[4]} {f[f.index('-') + 1]} {f[f.index('-') + 2]}")
    return {
        "netns": {line.split()[0] for line in out("ip", "netns", "list") if line.strip()},
        "links": {line.split(":")[1].strip().split("@")[0] for line in out("ip", "-o", "link")},
        "routes": set(out("ip", "-4", "route", "show", "table", "all"))
        | set(out("ip", "-6", "route", "show", "table", "all")),
        "mounts": mounts,
        "processes": procs,
    }


@dataclass
class LabEnv:
    inv: Inventory
    topo: Topology
    st: LabState
    before: dict[str, set[str]]
    servers: bool

    def ssh(self, host: str, command: str, *, timeout: float = 30
            ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ssh", "-F", str(self.st.ssh_config), "-o", "BatchMode=yes", host,
                               command], capture_output=True, text=True, timeout=timeout,
                              check=False)

    def ns_run(self, ns: str, *cmd: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ip", "netns", "exec", ns, *cmd], capture_output=True, text=True,
                              timeout=timeout, check=False)

    def secret(self, name: str) -> str:
        return self.st.secret(name)
