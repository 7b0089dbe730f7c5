"""The lab's wiring plan (pure: no root, no lab needed) and its safety refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from simpul.inventory.loader import load_inventory
from simpul.lab import wan
from simpul.lab.netns import LabError
from simpul.lab.topology import IFNAMSIZ, LAB_RANGE, Topology, plan

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def topo() -> Topology:
    return plan(load_inventory(REPO / "inventory" / "lab"))


def test_every_router_server_and_switch_gets_a_prefixed_namespace(topo: Topology) -> None:
    assert all(ns.startswith("slab-") for ns in topo.namespaces)
    assert len(set(topo.namespaces)) == len(topo.namespaces)
    assert set(topo.switches.values()) == {"slab-sw-pd", "slab-sw-drc", "slab-sw-noc"}


def test_interface_names_fit_the_kernel_limit(topo: Topology) -> None:
    names = [r.mgmt_root_if for r in topo.routers.values()]
    names += [s.mgmt_root_if for s in topo.servers.values()]
    names += [s.switch_port for s in topo.servers.values()]
    assert all(len(n) <= IFNAMSIZ for n in names)
    assert len(set(names)) == len(names)


def test_servers_use_core_1_as_gateway_per_site(topo: Topology) -> None:
    for s in topo.servers.values():
        if s.site == "noc":
            continue
        assert str(s.gateway) == ("10.199.64.1" if s.site == "pusat-data" else "10.199.65.1")
        assert s.switch == ("slab-sw-pd" if s.site == "pusat-data" else "slab-sw-drc")
    assert topo.routers["core-1"].lan_switch == "slab-sw-pd"


def test_the_noc_sees_each_site_on_its_own_link(topo: Topology) -> None:
    # witness and drill client: no router at the NOC, on-link routes to both sites; the sites
    # reach the NOC on-link too; the three switch links are isolated bridge ports, so PD<->DRC
    # traffic can only take the wan (cutting it is a partition, not a detour via the NOC)
    noc = [s for s in topo.servers.values() if s.site == "noc"]
    assert {s.name for s in noc} == {"noc-witness", "noc-client"}
    for s in noc:
        assert s.gateway is None and s.switch == "slab-sw-noc"
        assert {str(n) for n in s.onlink} == {"10.199.64.0/24", "10.199.65.0/24"}
    assert {str(n) for n in topo.servers["drc-db"].onlink} == {"10.199.66.0/24"}
    for name in ("wan", "noc-pd", "noc-drc"):
        assert topo.links[name].isolated
    assert (topo.links["noc-pd"].a_ns, topo.links["noc-pd"].b_ns) == ("slab-sw-noc", "slab-sw-pd")
    assert not topo.links["core-dinkes"].isolated


def test_links_follow_the_inventory_and_radio_links_start_degraded(topo: Topology) -> None:
    link = topo.links["dinkes-bansari"]
    assert (link.a_ns, link.a_if, link.b_ns, link.b_if) == (
        "slab-r-opd-dinkes", "eth1", "slab-r-desa-bansari", "eth0")
    assert wan.default_state(link) == wan.LinkState(True, 1.0, 10)
    assert wan.default_state(topo.links["core-dinkes"]) == wan.LinkState()
    assert "wan" in topo.links


def test_every_data_plane_network_lies_in_the_lab_range(topo: Topology) -> None:
    assert all(n.subnet_of(LAB_RANGE) for n in topo.used_networks())


def test_a_real_network_inventory_is_refused() -> None:
    real = REPO / "inventory" / "contoh-kabupaten"
    if not real.exists():
        pytest.skip("no example kabupaten inventory")
    with pytest.raises(LabError, match=r"outside the lab range|management|FRR"):
        plan(load_inventory(real))


@pytest.mark.parametrize(("text", "mbit"), [("10mbit", 10.0), ("512kbit", 0.512),
                                            ("1gbit", 1000.0), ("2.5Mbit", 2.5), ("1mbps", 8.0)])
def test_parse_rate(text: str, mbit: float) -> None:
    assert wan.parse_rate(text) == pytest.approx(mbit)


def test_parse_rate_rejects_nonsense() -> None:
    with pytest.raises(LabError, match="not understood"):
        wan.parse_rate("fast")
