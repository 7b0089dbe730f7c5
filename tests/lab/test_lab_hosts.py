"""Lab servers by inventory name: key-based SSH lands inside the server, not on the host."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from labkit import LabEnv

pytestmark = pytest.mark.lab


def test_ssh_to_every_server_lands_inside_it(lab_env: LabEnv) -> None:
    if not lab_env.servers:
        pytest.skip("servers are not available (simpul.lab.servers missing)")
    host_init = Path("/proc/1/comm").read_text().strip()
    for name, s in lab_env.topo.servers.items():
        cp = lab_env.ssh(name, "hostname; ip -o -4 addr show dev eth0; cat /proc/1/comm; "
                               "sudo -n true && echo sudo-ok")
        assert cp.returncode == 0, f"{name}: {cp.stderr}"
        lines = cp.stdout.splitlines()
        assert lines[0] == name != socket.gethostname()
        assert str(s.address.ip) in lines[1]
        assert lines[-1] == "sudo-ok"
        # same kernel (namespaces, not a VM), but its own PID 1
        assert lines[2] != host_init


def test_published_ssh_config_names_every_host(lab_env: LabEnv) -> None:
    text = lab_env.st.ssh_config.read_text()
    names = set(lab_env.topo.routers) | (set(lab_env.topo.servers) if lab_env.servers else set())
    for n in names:
        assert f"Host {n}\n" in text
    kh = lab_env.st.known_hosts.read_text()
    for n in names:
        assert any(line.startswith(f"{n},") for line in kh.splitlines())


def test_status_reports_every_host_answering(lab_env: LabEnv) -> None:
    from simpul.lab import orchestrate

    data = orchestrate.status(lab_env.inv, st=lab_env.st)
    hosts = [h for h in data["hosts"] if h["kind"] == "router" or lab_env.servers]
    bad = [h["name"] for h in hosts if not (h["ssh"] and h["snmp"])]
    assert data["up"] and not bad
    assert all(s["healthy"] for s in data["services"])


def test_up_twice_is_harmless(lab_env: LabEnv) -> None:
    from simpul.lab import orchestrate

    before = {n: orchestrate.nx.read_pidfile(lab_env.st.router_dir(n) / "sshd.pid")
              for n in lab_env.topo.routers}
    rep = orchestrate.up(lab_env.inv, st=lab_env.st, servers=lab_env.servers)
    after = {n: orchestrate.nx.read_pidfile(lab_env.st.router_dir(n) / "sshd.pid")
             for n in lab_env.topo.routers}
    assert before == after  # nothing restarted
    assert rep.seconds < 30
