"""Drill links: cut the WAN (DRC unreachable, then back), degrade a radio link."""

from __future__ import annotations

import time

import pytest
from labkit import LabEnv

from simpul.lab import orchestrate, wan

pytestmark = pytest.mark.lab


def _reach(lab_env: LabEnv, ns: str, src: str, dst: str) -> bool:
    cp = lab_env.ns_run(ns, "ping", "-n", "-q", "-c", "2", "-i", "0.2", "-W", "1", "-I", src, dst)
    return cp.returncode == 0


def _wait(pred: object, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():  # type: ignore[operator]
            return True
        time.sleep(0.3)
    return False


def test_cutting_the_wan_makes_the_drc_unreachable_and_up_brings_it_back(
        lab_env: LabEnv) -> None:
    if not lab_env.servers:
        pytest.skip("servers are not available")
    core = lab_env.topo.routers["core-1"]
    drc = [str(s.address.ip) for s in lab_env.topo.servers.values() if s.site == "drc"]
    pd = [str(s.address.ip) for s in lab_env.topo.servers.values() if s.site == "pusat-data"]
    gw = "10.199.65.1"
    assert all(_reach(lab_env, core.netns, gw, ip) for ip in drc)
    try:
        wan.set_up(lab_env.st, lab_env.topo, "wan", False)
        assert not any(_reach(lab_env, core.netns, gw, ip) for ip in drc)
        assert all(_reach(lab_env, core.netns, "10.199.64.1", ip) for ip in pd)
        # the DRC servers are still managed out of band
        assert lab_env.ssh("drc-db", "hostname").stdout.strip() == "drc-db"
    finally:
        wan.set_up(lab_env.st, lab_env.topo, "wan", True)
    assert _wait(lambda: all(_reach(lab_env, core.netns, gw, ip) for ip in drc))


def test_cutting_a_radio_link_isolates_the_desa_and_up_restores_it(lab_env: LabEnv) -> None:
    desa = lab_env.topo.routers["desa-kemloko"]
    src = str(next(i for i in desa.interfaces if i.name == "lan0").addresses[0].ip)
    try:
        wan.set_up(lab_env.st, lab_env.topo, "core-kemloko", False)
        assert not _reach(lab_env, desa.netns, src, "10.199.64.1")
    finally:
        wan.set_up(lab_env.st, lab_env.topo, "core-kemloko", True)
    assert _wait(lambda: _reach(lab_env, desa.netns, src, "10.199.64.1"))
    orchestrate.wait_ospf(lab_env.topo)


def test_degrade_sets_loss_and_rate_on_both_ends(lab_env: LabEnv) -> None:
    link = lab_env.topo.links["dinkes-bansari"]
    default = wan.default_state(link)
    try:
        state = wan.degrade(lab_env.st, lab_env.topo, "dinkes-bansari", loss=5,
                            rate_mbit=wan.parse_rate("2mbit"))
        assert state.loss == 5 and state.rate_mbit == 2
        for ns, ifname in ((link.a_ns, link.a_if), (link.b_ns, link.b_if)):
            qdisc = lab_env.ns_run(ns, "tc", "qdisc", "show", "dev", ifname).stdout
            assert "tbf" in qdisc and "rate 2Mbit" in qdisc
            rules = lab_env.ns_run(ns, "nft", "list", "ruleset").stdout
            assert "numgen random mod 10000 < 500" in rules
        # 100 % loss really drops traffic
        wan.degrade(lab_env.st, lab_env.topo, "dinkes-bansari", loss=100, rate_mbit=None)
        bansari = lab_env.topo.routers["desa-bansari"]
        assert not _reach(lab_env, bansari.netns, "10.199.0.26", "10.199.0.25")
    finally:
        wan.apply(lab_env.st, link, default)
    assert _wait(lambda: _reach(lab_env, lab_env.topo.routers["desa-bansari"].netns,
                                "10.199.0.26", "10.199.0.25"))
    orchestrate.wait_ospf(lab_env.topo)


def test_unknown_link_is_a_clear_error(lab_env: LabEnv) -> None:
    from simpul.lab.netns import LabError

    with pytest.raises(LabError, match="no lab link named 'nope'"):
        wan.set_up(lab_env.st, lab_env.topo, "nope", False)
