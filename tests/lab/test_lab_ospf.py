"""Jaringan Intra: OSPF full adjacency everywhere, every desa LAN reaches the Pusat Data."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from labkit import LabEnv

from simpul.lab import routers

pytestmark = pytest.mark.lab


def test_every_router_has_full_adjacency_on_every_link(lab_env: LabEnv) -> None:
    missing = {}
    for name, r in lab_env.topo.routers.items():
        want = sum(1 for i in r.interfaces if i.kind == "link")
        full = [rid for rid, state in routers.ospf_neighbors(r).items() if state == "Full"]
        if len(full) != want:
            missing[name] = f"{len(full)} of {want} neighbours Full"
    assert not missing


def test_every_router_knows_every_lan_and_loopback(lab_env: LabEnv) -> None:
    # the NOC LAN has no router: its hosts reach the Pusat Data and the DRC on-link, on their
    # own switch links (docs/lab.md "The NOC site"), so no router carries it
    noc = {str(s.address.network) for s in lab_env.topo.servers.values() if s.site == "noc"}
    assert noc, "the lab has a NOC site with servers"
    wanted = {str(n) for n in lab_env.topo.used_networks()} - noc
    for name, r in lab_env.topo.routers.items():
        table = json.loads(routers.vtysh(r, "show ip route json"))
        assert not wanted - set(table), f"{name} lacks routes {sorted(wanted - set(table))}"


def _ping(lab_env: LabEnv, ns: str, src: str, dst: str, tries: int = 3) -> bool:
    # radio links drop ~1 % each way on purpose: one answer out of a few is reachability
    for _ in range(tries):
        cp = lab_env.ns_run(ns, "ping", "-n", "-q", "-c", "3", "-i", "0.2", "-W", "1", "-I",
                            src, dst)
        if cp.returncode == 0:
            return True
        time.sleep(0.5)
    return False


def test_every_desa_lan_reaches_the_pusat_data(lab_env: LabEnv) -> None:
    targets = [str(i.addresses[0].ip) for i in lab_env.topo.routers["core-1"].interfaces
               if i.name == "lan0"]
    if lab_env.servers:
        targets += [str(s.address.ip) for s in lab_env.topo.servers.values()
                    if s.site == "pusat-data"]
    failed = []
    for name, r in lab_env.topo.routers.items():
        if lab_env.inv.devices[name].role != "desa-edge":
            continue
        src = str(next(i for i in r.interfaces if i.name == "lan0").addresses[0].ip)
        failed += [f"{name} ({src}) -> {t}" for t in targets
                   if not _ping(lab_env, r.netns, src, t)]
    assert not failed


def test_routers_never_forward_between_management_and_data_plane(lab_env: LabEnv) -> None:
    # a probe on the management LAN that uses core-1 as its gateway into the data plane
    ns, root_if = "slab-probe", "slm-probe"
    core = lab_env.topo.routers["core-1"]
    target = str(next(i for i in core.interfaces if i.name == "lan0").addresses[0].ip)
    run = lambda *c: subprocess.run(c, capture_output=True, text=True, check=False)  # noqa: E731
    try:
        run("ip", "netns", "add", ns)
        run("ip", "link", "add", root_if, "type", "veth", "peer", "name", "mgmt0", "netns", ns)
        run("ip", "link", "set", root_if, "master", "slab-mgmt", "up")
        run("ip", "-n", ns, "addr", "add", "169.254.100.250/24", "dev", "mgmt0")
        run("ip", "-n", ns, "link", "set", "mgmt0", "up")
        run("ip", "-n", ns, "route", "add", "10.199.0.0/16", "via", str(core.mgmt_ip))
        assert lab_env.ns_run(ns, "ping", "-n", "-q", "-c", "1", "-W", "1",
                              str(core.mgmt_ip)).returncode == 0
        # core-1's own lan0 address answers locally (not forwarded) ...
        # ... but anything behind it must not: the guard drops mgmt0 <-> data plane forwarding
        behind = str(lab_env.topo.routers["opd-dinkes"].loopback)
        cp = lab_env.ns_run(ns, "ping", "-n", "-q", "-c", "2", "-i", "0.2", "-W", "1", behind)
        assert cp.returncode != 0, f"{behind} reachable from the management LAN via core-1"
        assert target
    finally:
        run("ip", "link", "del", root_if)
        run("ip", "netns", "del", ns)


def test_lab_range_is_unreachable_from_the_root_namespace(lab_env: LabEnv) -> None:
    from simpul.lab.topology import LAB_RANGE

    for target in (lab_env.topo.routers["core-1"].loopback, LAB_RANGE.network_address + 1):
        cp = subprocess.run(["ip", "route", "get", str(target)], capture_output=True, text=True,
                            check=False)
        assert cp.returncode != 0 or "unreachable" in cp.stdout, cp.stdout
