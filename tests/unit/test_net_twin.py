"""The pre-push twin's pure parts: which routers it boots, how it cables and renames them, what
it checks, how it judges what it saw; and that a refused push contacts no router.

Booting the twin needs root: tests/lab/test_net_lab.py proves that path on real FRR.
"""

from __future__ import annotations

import subprocess
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from simpul.inventory import load_inventory
from simpul.lab.twin import Probe, TwinError, TwinLink, TwinReport, TwinRouter, sanitize, validate
from simpul.network import preflight as pf
from simpul.network import push as push_mod
from simpul.network.push import PushOptions, push
from simpul.results import Result, Status

REPO = Path(__file__).resolve().parents[2]
LAB = load_inventory(REPO / "inventory" / "lab")
CONTOH = load_inventory(REPO / "inventory" / "contoh-kabupaten")


def test_a_desa_behind_an_opd_boots_with_its_neighbour_and_the_path_to_the_pusat_data() -> None:
    plan = pf.twin_plan(LAB, ["desa-bansari"])
    assert [r.name for r in plan.routers] == ["core-1", "opd-dinkes", "desa-bansari"]
    assert plan.context == ["core-1", "opd-dinkes"]
    assert [(x.name, x.a, x.a_if, x.b, x.b_if) for x in plan.links] == [
        ("core-dinkes", "core-1", "eth1", "opd-dinkes", "eth0"),
        ("dinkes-bansari", "opd-dinkes", "eth1", "desa-bansari", "eth0")]
    # the desa pings the core's loopback from its own
    assert plan.probes == (Probe("desa-bansari", IPv4Address("10.199.255.1"), IPv4Address("10.199.255.23")),)
    stubs = {r.name: r.stubs for r in plan.routers}
    # LANs and links to routers outside the twin still exist (addresses applied), without a peer
    assert stubs["desa-bansari"] == ("lan0",)
    assert stubs["core-1"] == ("lan0", "eth2", "eth3", "eth4", "eth5", "eth6")
    # an FRR router's twin config is its intended config (no renames)
    assert plan.renamed == {"core-1": {}, "opd-dinkes": {}, "desa-bansari": {}}


def test_a_pusat_data_router_is_checked_from_its_neighbours() -> None:
    plan = pf.twin_plan(LAB, ["core-1"])
    assert len(plan.routers) == 7  # the core and its six neighbours
    assert {p.router for p in plan.probes} == {"opd-dinkes", "opd-disdik", "opd-bappeda", "opd-dpupr",
                                               "desa-kemloko", "desa-jampiroso"}
    assert {p.target for p in plan.probes} == {IPv4Address("10.199.255.1")}
    assert set(plan.probe_for) == {"core-1"}


def test_other_platforms_boot_as_frr_with_linux_interface_names() -> None:
    plan = pf.twin_plan(CONTOH, ["r-kalilor"])
    names = [r.name for r in plan.routers]
    # both Pusat Data cores, and r-kalilor's neighbour, which is also its way to them
    assert names == ["core-pd-1", "core-pd-2", "dist-bansari", "r-kalilor"]
    validate(plan.routers, plan.links)  # every twin interface name is a Linux name
    core = next(r for r in plan.routers if r.name == "core-pd-1")
    assert "Gi0/0/0" not in core.frr_conf and "interface if0\n" in core.frr_conf
    assert plan.renamed["core-pd-1"]["if0"] == "Gi0/0/0"
    assert plan.renamed["core-pd-1"]["lo"] == "Loopback0"
    link = next(x for x in plan.links if x.name == "dist-bansari--r-kalilor")
    assert plan.renamed["r-kalilor"][link.b_if] == "ether1"
    # the FRR renderings pass FRR's own parser
    for r in plan.routers:
        f = Path(f"/tmp/simpul-twin-unit-{r.name}.conf")
        f.write_text(r.frr_conf)
        cp = subprocess.run(["vtysh", "-C", "-f", str(f)], capture_output=True, text=True, check=False)
        f.unlink()
        assert cp.returncode == 0, (r.name, cp.stdout + cp.stderr)


def test_unknown_router_or_no_pusat_data_is_a_config_error(lab_copy: Path) -> None:
    from simpul.errors import ConfigError

    with pytest.raises(ConfigError, match="nope: not a device"):
        pf.twin_plan(LAB, ["nope"])
    p = lab_copy / "devices.yaml"  # the core moves to the DRC: no router left in the Pusat Data
    p.write_text(p.read_text().replace("\n    site: pusat-data\n", "\n    site: drc\n"))
    with pytest.raises(ConfigError, match="no router of the inventory is at a site of type pusat-data"):
        pf.twin_plan(load_inventory(lab_copy), ["desa-kemloko"])


def _report(plan: pf.TwinPlan, *, down: set[str] = frozenset(),  # type: ignore[assignment]
            unreachable: set[str] = frozenset(),  # type: ignore[assignment]
            errors: dict[str, list[str]] | None = None) -> TwinReport:
    adj = {x.name: ("", "") if x.name in down else ("Full/-", "Full/-") for x in plan.links}
    reach = [(p, p.router not in unreachable) for p in plan.probes]
    return TwinReport(errors or {}, adj, reach, 1.0, 2.0, 0)


def test_evaluate_passes_a_converged_twin() -> None:
    plan = pf.twin_plan(LAB, ["desa-bansari"])
    [r] = pf.evaluate(plan, _report(plan))
    assert r.status is Status.OK
    assert r.message.startswith("twin passed: 1 OSPF adjacency Full, Pusat Data reachable (10.199.255.1)")


def test_evaluate_names_the_peer_the_interface_and_the_unreachable_pusat_data() -> None:
    plan = pf.twin_plan(LAB, ["desa-kemloko"])
    [r] = pf.evaluate(plan, _report(plan, down={"core-kemloko"}, unreachable={"desa-kemloko"}))
    assert r.status is Status.FAILED
    assert r.message == ("twin: no OSPF adjacency with core-1 on eth0 within 10 s (state: none); "
                         "the Pusat Data (10.199.255.1, core-1) is not reachable from desa-kemloko")
    assert r.data["twin"]["adjacency"]["core-kemloko"] == ["", ""]


def test_evaluate_reports_inventory_interface_names_and_rejected_lines() -> None:
    plan = pf.twin_plan(CONTOH, ["r-kalilor"])
    errs = {"r-kalilor": ["line 7: % Unknown command: ip ospf bogus"]}
    [r] = pf.evaluate(plan, _report(plan, down={"dist-bansari--r-kalilor"}, errors=errs))
    assert "FRR rejects the FRR rendering of its intent: line 7: % Unknown command" in r.message
    assert "no OSPF adjacency with dist-bansari on ether1" in r.message  # not the twin's if0


def test_evaluate_blames_a_context_link_for_the_lost_path() -> None:
    plan = pf.twin_plan(LAB, ["desa-bansari"])
    [r] = pf.evaluate(plan, _report(plan, down={"core-dinkes"}, unreachable={"desa-bansari"}))
    assert r.status is Status.FAILED
    assert "not reachable from desa-bansari" in r.message
    assert "twin context: no OSPF adjacency on core-dinkes (core-1-opd-dinkes)" in r.message


def test_twin_refuses_what_it_cannot_build() -> None:
    a, b = TwinRouter("a", ""), TwinRouter("b", "")
    with pytest.raises(TwinError, match="given twice: a"):
        validate([a, a], [])
    with pytest.raises(TwinError, match="'Gi0/0/0' is not a usable Linux interface name"):
        validate([a, b], [TwinLink("x", "a", "Gi0/0/0", "b", "eth0")])
    with pytest.raises(TwinError, match="c is not a twin router"):
        validate([a, b], [TwinLink("x", "a", "eth0", "c", "eth0")])
    with pytest.raises(TwinError, match="a:eth0 is already used by stub LAN"):
        validate([TwinRouter("a", "", ("eth0",)), b], [TwinLink("x", "a", "eth0", "b", "eth0")])
    with pytest.raises(TwinError, match="'twstub0' is not a usable"):
        validate([TwinRouter("a", "", ("twstub0",))], [])


def test_host_file_lines_never_reach_the_twin() -> None:
    running = ("frr version 8.4.4\nhostname core-1\nlog file /var/lib/simpul/lab/routers/core-1/frr.log "
               "informational\n dump bgp all /tmp/x\ninterface eth0\n ip address 10.0.0.1/30\nexit\n")
    assert sanitize(running) == "frr version 8.4.4\nhostname core-1\ninterface eth0\n ip address 10.0.0.1/30\nexit\n"


def test_a_refused_push_contacts_no_router(monkeypatch: pytest.MonkeyPatch) -> None:
    verdict = [Result("desa-kemloko", Status.FAILED, "twin: no OSPF adjacency with core-1 on eth0"),
               Result("desa-bansari", Status.OK, "twin passed")]
    monkeypatch.setattr(pf, "preflight", lambda inv, names, timeout: verdict)

    def no_login(*a: object, **k: object) -> Result:
        raise AssertionError("a router was contacted although the twin refused the push")

    monkeypatch.setattr(push_mod, "push_one", no_login)
    results = push(LAB, ["desa-kemloko", "desa-bansari"], Path("/nonexistent"),
                   PushOptions(apply=True, preflight=True))
    by = {r.target: r for r in results}
    assert by["desa-kemloko"].status is Status.FAILED
    assert by["desa-kemloko"].message == ("refused by the pre-push twin, nothing sent: "
                                          "no OSPF adjacency with core-1 on eth0")
    assert by["desa-bansari"].status is Status.SKIPPED
    assert "desa-kemloko failed" in by["desa-bansari"].message
    assert all(r.data["twin_refused"] for r in results)
