"""The IP plan checks of ``simpul inventory check`` (issue 9, item 9): every overlapping pair is
reported, purposes are enforced for every kind of prefix and address, ``plan.reserved`` is
kept free, and duplicate server and interface addresses are caught — each with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from simpul.inventory import InventoryInvalid, load_inventory
from simpul.inventory.addrspace import Use, conflicts


def problems_of(directory: Path) -> list[str]:
    with pytest.raises(InventoryInvalid) as ei:
        load_inventory(directory)
    return [str(p) for p in ei.value.problems]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"fixture text not found: {old!r}"
    path.write_text(text.replace(old, new, 1))


def line_of(path: Path, needle: str) -> int:
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if needle in line:
            return n
    raise AssertionError(needle)


def test_a_prefix_covering_several_others_is_reported_against_each_of_them(lab_copy: Path) -> None:
    f = lab_copy / "devices.yaml"
    edit(f, "prefix: 10.199.0.0/30", "prefix: 10.199.0.0/28")  # covers the next three /30 links
    probs = problems_of(lab_copy)
    wide = f"inv/devices.yaml:{line_of(f, '10.199.0.0/28')}"
    for link, net in (("core-disdik", "10.199.0.4/30"), ("core-bappeda", "10.199.0.8/30"),
                      ("core-dpupr", "10.199.0.12/30")):
        want = f"links.{link}.prefix: {net} overlaps 10.199.0.0/28 of link core-dinkes ({wide})"
        assert any(want in p for p in probs), (want, probs)
    assert len([p for p in probs if "overlaps 10.199.0.0/28" in p]) == 3


def test_every_pair_of_overlapping_supernets_is_named(lab_copy: Path) -> None:
    edit(lab_copy / "organisation.yaml", "links: 10.199.0.0/20", "links: 10.199.0.0/16")
    text = "\n".join(problems_of(lab_copy))
    for other in ("opd_lan", "desa_lan", "servers", "drc", "loopbacks"):
        assert f"'links' (10.199.0.0/16) and '{other}'" in text, text


def test_a_drc_lan_inside_the_opd_supernet_is_refused(lab_copy: Path) -> None:
    f = lab_copy / "sites.yaml"
    edit(f, "lan: 10.199.65.0/24", "lan: 10.199.17.0/24")
    probs = problems_of(lab_copy)
    want = (f"inv/sites.yaml:{line_of(f, '10.199.17.0/24')} sites.drc.lan: 10.199.17.0/24 is not in "
            "the drc 10.199.65.0/24 range of the address plan")
    assert want in probs, probs


def test_a_pusat_data_lan_must_come_from_the_servers_supernet(lab_copy: Path) -> None:
    edit(lab_copy / "sites.yaml", "lan: 10.199.64.0/24", "lan: 10.199.18.0/24")
    text = "\n".join(problems_of(lab_copy))
    assert "sites.pusat-data.lan: 10.199.18.0/24 is not in the servers 10.199.64.0/24 range" in text


def test_plan_reserved_ranges_are_kept_free(lab_copy: Path) -> None:
    org = lab_copy / "organisation.yaml"
    edit(org, "  sizes: {opd: 26", "  reserved: [10.199.32.0/27]\n  sizes: {opd: 26")
    probs = problems_of(lab_copy)
    where = f"inv/organisation.yaml:{line_of(org, 'reserved: [10.199.32.0/27]')}"
    for site, net in (("desa-kemloko", "10.199.32.0/28"), ("desa-jampiroso", "10.199.32.16/28")):
        want = f"sites.{site}.lan: {net} lies in the reserved range 10.199.32.0/27 (plan.reserved) ({where})"
        assert any(want in p for p in probs), (want, probs)


def test_duplicate_server_addresses_are_reported(lab_copy: Path) -> None:
    f = lab_copy / "servers.yaml"
    edit(f, "address: 10.199.64.12", "address: 10.199.64.11")
    probs = problems_of(lab_copy)
    want = (f"inv/servers.yaml:{line_of(f, 'pd-app:')} servers.pd-app.address: 10.199.64.11 is already "
            f"used by server pd-web (inv/servers.yaml:{line_of(f, 'pd-web:')})")
    assert want in probs, probs


def test_duplicate_interface_addresses_are_reported(lab_copy: Path) -> None:
    f = lab_copy / "devices.yaml"
    # the core's DRC-side secondary address set to a DRC server's address
    edit(f, "secondary: [10.199.65.1/24]", "secondary: [10.199.65.11/24]")
    # and two desa routers claiming the same LAN gateway
    edit(f, "address: 10.199.32.17/28", "address: 10.199.32.1/28")
    text = "\n".join(problems_of(lab_copy))
    assert "servers.drc-db.address: 10.199.65.11 is already used by interface core-1:lan0" in text, text
    assert ("devices.desa-jampiroso.interfaces.lan0.address: 10.199.32.1 is already used by interface "
            "desa-kemloko:lan0") in text, text


def test_an_interface_address_is_checked_against_the_purpose_of_its_kind(lab_copy: Path) -> None:
    f = lab_copy / "devices.yaml"
    edit(f, "lan0: {address: 10.199.16.1/26, kind: lan}", "lan0: {address: 10.199.255.99/26, kind: lan}")
    text = "\n".join(problems_of(lab_copy))
    assert "devices.opd-dinkes.interfaces.lan0.address: 10.199.255.99 is not in the opd_lan" in text, text


def test_a_server_address_outside_its_site_lan_is_reported(lab_copy: Path) -> None:
    edit(lab_copy / "servers.yaml", "address: 10.199.65.12", "address: 10.199.64.99")
    text = "\n".join(problems_of(lab_copy))
    assert "servers.drc-backup.address: 10.199.64.99 is not in the drc 10.199.65.0/24 range" in text, text
    assert "servers.drc-backup.address: 10.199.64.99 is not in the LAN of site drc (10.199.65.0/24)" in text


def test_hosts_inside_their_lan_and_links_are_not_conflicts() -> None:
    # the shipped lab has servers in site LANs and router addresses in LANs: all valid
    inv = load_inventory(Path(__file__).resolve().parents[2] / "inventory" / "lab")
    from simpul.inventory.addrspace import all_uses

    assert list(conflicts(all_uses(inv))) == []


def _use(first: int, last: int, kind: str, name: str) -> Use:
    return Use(first, last, kind, name, (kind, name), f"{first}-{last}", container=kind == "link")


def test_the_sweep_reports_every_pair_including_nested_chains() -> None:
    uses = [_use(0, 255, "link", "big"), _use(0, 127, "link", "half"), _use(0, 3, "link", "a"),
            _use(4, 7, "link", "b"), _use(200, 200, "server", "s1"), _use(200, 200, "server", "s2")]
    pairs = {(x.name, u.name) for x, u in conflicts(uses)}
    assert pairs == {("big", "half"), ("big", "a"), ("half", "a"), ("big", "b"), ("half", "b"),
                     ("s1", "s2")}


def test_a_services_moving_address_counts_as_used() -> None:
    # the DRC takeover (issue 14) gives a service a VIP that follows the database leader; read
    # here through a stand-in until that schema is on main
    from types import SimpleNamespace

    from simpul.inventory.addrspace import inventory_uses
    from simpul.network.ipam import Book, plan_host

    inv = load_inventory(Path(__file__).resolve().parents[2] / "inventory" / "lab")
    svc = SimpleNamespace(standby=SimpleNamespace(vip=__import__("ipaddress").IPv4Address("10.199.64.2")))
    fake = inv.model_construct(**{**dict(inv), "services": {**inv.services, "simpeg": svc}})
    uses = inventory_uses(fake)
    (vip,) = [u for u in uses if u.kind == "vip"]
    assert vip.owner == "the service address of simpeg" and list(conflicts(uses)) == []
    assert plan_host(Book.from_inventory(fake), "pusat-data", "pd-web-2").label == "10.199.64.3"
