"""``simpul ipam reconcile``'s comparison (pure): the plan vs the addresses routers carry, on
``show interface json`` recorded from the lab's core-1 and desa-kemloko (tests/unit/
net_fixtures, parsed by the router facts collector's parser). The lab test runs it for real."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path

from simpul.inventory import load_inventory
from simpul.network.ipam import Book
from simpul.network.ipam_reconcile import compare, compare_sweep
from simpul.network.parse import frr_interfaces

REPO = Path(__file__).resolve().parents[2]
FIX = REPO / "tests" / "unit" / "net_fixtures" / "frr"


def seen_of(*routers: str) -> dict[str, dict[str, list[IPv4Interface]]]:
    out = {}
    for r in routers:
        ifs = frr_interfaces((FIX / r / "show_interface_json.txt").read_text())
        out[r] = {n: list(i["addresses"]) for n, i in ifs.items()}
    return out


def lab_book(path: Path | None = None) -> Book:
    return Book.from_inventory(load_inventory(path or REPO / "inventory" / "lab"))


def kinds(findings: list) -> list[tuple[str, str, str]]:  # type: ignore[type-arg]
    return [(f.kind, f.router, f.address) for f in findings]


def test_the_untouched_lab_routers_agree_with_the_plan() -> None:
    assert compare(lab_book(), seen_of("core-1", "desa-kemloko")) == []


def test_an_address_added_by_hand_is_in_use_but_not_allocated() -> None:
    seen = seen_of("desa-kemloko")
    seen["desa-kemloko"]["lan0"].append(IPv4Interface("10.199.40.1/28"))  # another desa's range
    seen["desa-kemloko"]["lan0"].append(IPv4Interface("10.199.32.9/28"))  # inside its own LAN
    seen["desa-kemloko"]["eth9"] = [IPv4Interface("192.0.2.1/24")]  # outside the plan
    f = compare(lab_book(), seen)
    assert sorted(kinds(f)) == [("not-in-plan", "desa-kemloko", "192.0.2.1/24"),
                                ("unallocated", "desa-kemloko", "10.199.32.9/28"),
                                ("unallocated", "desa-kemloko", "10.199.40.1/28")]
    by = {x.address: x for x in f}
    assert by["192.0.2.1/24"].kind == "not-in-plan"
    assert "inside site desa-kemloko 10.199.32.0/28" in by["10.199.32.9/28"].message
    assert "in the desa_lan supernet" in by["10.199.40.1/28"].message
    assert all(x.disagrees for x in f)


def test_an_address_the_plan_gives_to_someone_else_is_a_conflict() -> None:
    seen = seen_of("core-1")
    seen["core-1"]["lan0"].append(IPv4Interface("10.199.64.11/24"))  # pd-web's address
    (f,) = compare(lab_book(), seen)
    assert f.kind == "conflict" and "the plan gives 10.199.64.11 to server pd-web" in f.message


def test_a_wrong_prefix_length_and_a_missing_address_are_reported() -> None:
    seen = seen_of("desa-kemloko")
    seen["desa-kemloko"]["lan0"] = [IPv4Interface("10.199.32.1/24")]
    seen["desa-kemloko"]["lo"] = []
    f = compare(lab_book(), seen)
    assert sorted(kinds(f)) == [("mismatch", "desa-kemloko", "10.199.32.1/24"),
                                ("missing", "desa-kemloko", "10.199.255.21")]
    assert "the plan says /28 (devices.desa-kemloko.interfaces.lan0.address)" in f[0].message + f[1].message


def test_an_allocation_on_no_router_is_never_seen_unless_a_router_was_unreachable(lab_copy: Path) -> None:
    (lab_copy / "ipam.yaml").write_text(
        "allocations:\n"
        '  - {prefix: 10.199.0.32/30, purpose: link, for: kemloko-baru, by: a@b, at: "2026-05-01T00:00:00Z", why: w}\n'
        '  - {prefix: 10.199.255.30/32, purpose: loopback, for: desa-kemloko, by: a@b, at: "2026-05-01T00:00:00Z", why: w}\n')
    book = lab_book(lab_copy)
    seen = seen_of("core-1", "desa-kemloko")
    seen["desa-kemloko"]["lo"].append(IPv4Interface("10.199.255.30/32"))
    f = compare(book, seen)
    assert sorted(kinds(f)) == [("never-seen", "plan", "10.199.0.32/30"),
                                ("pending", "desa-kemloko", "10.199.255.30/32")]
    assert not next(x for x in f if x.kind == "pending").disagrees
    assert [x.kind for x in compare(book, seen, unreachable=["opd-dinkes"])] == ["pending"]


def test_the_sweep_flags_answering_addresses_outside_the_plan_and_notes_silent_hosts() -> None:
    book = lab_book()
    lan = IPv4Network("10.199.64.0/24")
    alive = {IPv4Address("10.199.64.1"), IPv4Address("10.199.64.11"), IPv4Address("10.199.64.12"),
             IPv4Address("10.199.64.77")}
    f = compare_sweep(book, "pusat-data", lan, alive)
    assert kinds(f) == [("alive-unallocated", "sweep pusat-data", "10.199.64.77"),
                        ("silent", "sweep pusat-data", "10.199.64.13")]
    assert f[0].disagrees and not f[1].disagrees
