"""Real daemons on loopback for the monitoring integration tests.

Every daemon here is started by the fixture (own config, own data dir, ports 19000–19999),
bound to 127.0.0.0/8 only, and stopped by the PID the fixture started.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from support.localdaemons import InfluxdProcess, SnmpdProcess, VictoriaMetricsProcess

SNMP_PORT = 19161
AGENTS = {
    # name: (address, site, kind, version)
    "core-1": ("127.0.0.21", "pusat-data", "device", "3"),
    "opd-dinkes": ("127.0.0.22", "dinkes", "device", "2c"),
    "desa-kemloko": ("127.0.0.23", "desa-kemloko", "device", "3"),
    "pd-app": ("127.0.0.24", "pusat-data", "server", "3"),
    "pd-db": ("127.0.0.25", "pusat-data", "server", "2c"),
}


def _need(binary: str) -> None:
    if shutil.which(binary) is None:
        pytest.skip(f"{binary} is not installed")


@pytest.fixture(scope="session")
def snmpd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SnmpdProcess]:
    _need("snmpd")
    d = tmp_path_factory.mktemp("snmpd")
    addrs = [a for a, *_ in AGENTS.values()]
    with SnmpdProcess(d, addresses=addrs, port=SNMP_PORT) as agent:
        yield agent


@pytest.fixture(scope="session")
def influxd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxdProcess]:
    _need("influxd")
    with InfluxdProcess(tmp_path_factory.mktemp("influxd"), port=19086, rpc_port=19088) as ix:
        yield ix


@pytest.fixture(scope="session")
def victoria(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaMetricsProcess]:
    _need("victoria-metrics")
    with VictoriaMetricsProcess(tmp_path_factory.mktemp("vm"), port=19428) as vm:
        yield vm


@pytest.fixture
def make_inventory():  # type: ignore[no-untyped-def]
    """``make_inventory(root, agent, hosts=None, services=None) -> inventory dir``."""
    return write_inventory


def write_inventory(
    root: Path,
    agent: SnmpdProcess,
    hosts: dict[str, tuple[str, str, str, str]] | None = None,
    *,
    port: int = SNMP_PORT,
    services: dict[str, dict[str, object]] | None = None,
) -> Path:
    """A small valid inventory whose hosts are the loopback agents above."""
    hosts = hosts or AGENTS
    inv = root / "inventory"
    inv.mkdir(parents=True, exist_ok=True)
    sec = root / "secrets"
    sec.mkdir(exist_ok=True)
    for name, value in (("community", agent.community), ("auth", agent.auth_key),
                        ("priv", agent.priv_key), ("pw", "unused-password")):
        (sec / name).write_text(value + "\n")
        (sec / name).chmod(0o600)
    v3 = {"version": 3, "port": port, "user": agent.v3_user, "auth_key": "t-auth", "priv_key": "t-priv"}
    v2 = {"version": "2c", "port": port, "community": "t-community"}
    doc = {
        "organisation": {
            "name": "Dinas Kominfo Uji", "level": "kabupaten", "domain": "uji.simpul.test",
            "noc_contacts": [{"name": "NOC"}], "noc_ranges": ["127.0.0.0/8"],
        },
        "secrets": {
            "t-community": {"file": str(sec / "community")},
            "t-auth": {"file": str(sec / "auth")},
            "t-priv": {"file": str(sec / "priv")},
            "t-pw": {"file": str(sec / "pw")},
            "t-key": {"file": str(sec / "pw")},
        },
        "plan": {"supernets": {"management": "127.0.0.0/8", "servers": "10.255.64.0/24"}},
        "sites": {
            "pusat-data": {"type": "pusat-data", "name": "Pusat Data"},
            "dinkes": {"type": "opd", "name": "Dinas Kesehatan", "uplink": "fiber"},
            "desa-kemloko": {"type": "desa", "name": "Desa Kemloko", "uplink": "radio"},
        },
        "devices": {},
        "servers": {},
    }
    for name, (addr, site, kind, ver) in hosts.items():
        snmp = v3 if ver == "3" else v2
        if kind == "device":
            role = "core" if site == "pusat-data" else "desa-edge" if site.startswith("desa") else "opd-edge"
            doc["devices"][name] = {"site": site, "platform": "frr", "role": role, "mgmt_ip": addr,
                                    "credential": "t-pw", "snmp": snmp}
        else:
            doc["servers"][name] = {"site": site, "role": "app", "mgmt_ip": addr,
                                    "ssh": {"user": "simpul", "key": "t-key"}, "snmp": snmp}
    if services:
        doc["services"] = services
    (inv / "inventory.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return inv
