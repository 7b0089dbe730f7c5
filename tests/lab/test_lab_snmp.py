"""Every lab device answers ``snmpget`` of sysUpTime with SNMPv2c and SNMPv3 authPriv."""

from __future__ import annotations

import subprocess

import pytest
from labkit import LabEnv

pytestmark = pytest.mark.lab

SYS_UPTIME, SYS_NAME = "1.3.6.1.2.1.1.3.0", "1.3.6.1.2.1.1.5.0"


def _devices(lab_env: LabEnv) -> dict[str, str]:
    out = {n: str(r.mgmt_ip) for n, r in lab_env.topo.routers.items()}
    if lab_env.servers:
        out.update({n: str(s.mgmt_ip) for n, s in lab_env.topo.servers.items()})
    return out


def _get(args: list[str], ip: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["snmpget", *args, "-m", "", "-t", "2", "-r", "2", "-Oqv", ip,
                           SYS_UPTIME, SYS_NAME], capture_output=True, text=True, timeout=20,
                          check=False)


def test_snmp_v2c_on_every_device(lab_env: LabEnv) -> None:
    community = lab_env.secret("snmp-community")
    for name, ip in _devices(lab_env).items():
        cp = _get(["-v2c", "-c", community], ip)
        assert cp.returncode == 0, f"{name}: {cp.stderr}"
        uptime, sysname = cp.stdout.splitlines()
        assert ":" in uptime and sysname.strip('"') == name


def test_snmp_v3_authpriv_on_every_device(lab_env: LabEnv) -> None:
    v3 = ["-v3", "-l", "authPriv", "-u", "simpul", "-a", "SHA", "-A",
          lab_env.secret("snmp-auth"), "-x", "AES", "-X", lab_env.secret("snmp-priv")]
    for name, ip in _devices(lab_env).items():
        cp = _get(v3, ip)
        assert cp.returncode == 0, f"{name}: {cp.stderr}"
        assert cp.stdout.splitlines()[1].strip('"') == name


def test_wrong_community_gets_no_answer(lab_env: LabEnv) -> None:
    cp = subprocess.run(["snmpget", "-v2c", "-c", "public", "-m", "", "-t", "1", "-r", "0",
                         str(lab_env.topo.routers["core-1"].mgmt_ip), SYS_UPTIME],
                        capture_output=True, text=True, timeout=10, check=False)
    assert cp.returncode != 0
