"""``simpul ipam``: allocation on small fixture plans (first fit, sizes, alignment, exhaustion,
reservations, host addresses), the ipam.yaml record, release and history, through the library
and through the real CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from simpul.cli import main
from simpul.errors import UsageError
from simpul.inventory import InventoryInvalid, load_inventory
from simpul.network.ipam import Book, SpaceFull, find_entry, history, plan_block, plan_host, utilisation
from simpul.oplog import OpLog

ORG = {
    "name": "Dinas Kominfo Uji", "level": "kabupaten", "domain": "uji.simpul.test",
    "noc_contacts": [{"name": "NOC"}], "noc_ranges": ["10.250.0.0/24"],
}


def make_inventory(root: Path, plan: dict[str, Any], *, sites: dict[str, Any] | None = None,
                   devices: dict[str, Any] | None = None, servers: dict[str, Any] | None = None,
                   ipam: str | None = None) -> Path:
    """A small valid inventory around ``plan`` (a fixture plan), optionally with ipam.yaml."""
    inv = root / "inv"
    inv.mkdir(parents=True, exist_ok=True)
    doc: dict[str, Any] = {
        "organisation": ORG, "secrets": {"pw": {"env": "UJI_PW"}, "key": {"env": "UJI_KEY"}},
        "plan": plan, "sites": {"noc": {"type": "noc", "name": "NOC"}, **(sites or {})},
    }
    for d in (devices or {}).values():
        d.setdefault("platform", "frr")
        d.setdefault("role", "desa-edge")
        d.setdefault("credential", "pw")
    doc["devices"] = devices or {}
    for s in (servers or {}).values():
        s.setdefault("role", "app")
        s.setdefault("ssh", {"user": "simpul", "key": "key"})
    doc["servers"] = servers or {}
    (inv / "inventory.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    if ipam is not None:
        (inv / "ipam.yaml").write_text(ipam)
    return inv


def book_of(directory: Path) -> Book:
    return Book.from_inventory(load_inventory(directory))


DESA = {"supernets": {"management": "10.250.0.0/24", "desa_lan": "10.0.0.0/24", "links": "10.1.0.0/24",
                      "loopbacks": "10.2.0.0/28"},
        "sizes": {"desa": 28, "link": 30}}


def desa(name: str, lan: str) -> dict[str, Any]:
    return {name: {"type": "desa", "name": name.title(), "lan": lan}}


# --- blocks -----------------------------------------------------------------------------------


def test_first_fit_takes_the_lowest_free_block_of_the_plans_size(tmp_path: Path) -> None:
    inv = make_inventory(tmp_path, DESA, sites={**desa("desa-a", "10.0.0.0/28"),
                                                **desa("desa-c", "10.0.0.32/28")})
    p = plan_block(book_of(inv), "desa-lan", "desa-b")
    assert str(p.space) == "10.0.0.16/28"  # the gap between the two, plan.sizes.desa = /28
    assert p.existing == ""


def test_a_block_is_aligned_on_its_own_size(tmp_path: Path) -> None:
    inv = make_inventory(tmp_path, DESA, sites={**desa("desa-a", "10.0.0.0/28"),
                                                **desa("desa-c", "10.0.0.32/28")})
    # the gaps 10.0.0.16/28 and 10.0.0.48/28 are 16 addresses each, but not on a /27 boundary
    p = plan_block(book_of(inv), "desa-lan", "desa-big", size=27)
    assert str(p.space) == "10.0.0.64/27"
    assert p.notes and "/27 asked with --size" in p.notes[0]


def test_sizes_default_from_the_purpose_when_the_plan_has_none(tmp_path: Path) -> None:
    inv = make_inventory(tmp_path, {"supernets": DESA["supernets"]}, devices={
        "r-a": {"site": "noc", "mgmt_ip": "10.250.0.10", "loopback": "10.2.0.1"}})
    book = book_of(inv)
    assert str(plan_block(book, "link", "a-b").space) == "10.1.0.0/30"  # built-in /30
    # loopbacks are /32 and never the supernet's network address; .1 is taken by r-a
    assert str(plan_block(book, "loopback", "r-b").space) == "10.2.0.2/32"
    with pytest.raises(UsageError, match="no default size for desa-lan: give --size"):
        plan_block(book, "desa-lan", "desa-x")


def test_a_full_supernet_says_which_how_full_and_the_largest_free_block(tmp_path: Path) -> None:
    sites: dict[str, Any] = {}
    for i in range(15):  # 15 of the 16 /28s, the last one half used
        sites.update(desa(f"desa-{i}", f"10.0.0.{16 * i}/28"))
    sites.update(desa("desa-half", "10.0.0.240/29"))
    inv = make_inventory(tmp_path, DESA, sites=sites)
    with pytest.raises(SpaceFull) as ei:
        plan_block(book_of(inv), "desa-lan", "desa-new")
    msg = ei.value.message
    assert "no free /28 left in desa_lan (desa-lan) 10.0.0.0/24" in msg
    assert "96.9 % used" in msg and "the largest free block is /29 (10.0.0.248/29)" in msg
    assert "plan.supernets.desa_lan" in (ei.value.hint or "")


def test_an_unknown_purpose_lists_the_valid_ones(tmp_path: Path) -> None:
    inv = make_inventory(tmp_path, DESA)
    with pytest.raises(UsageError) as ei:
        plan_block(book_of(inv), "wifi", "x")
    assert "unknown purpose 'wifi'" in ei.value.message
    for valid in ("opd-lan", "desa-lan", "kelurahan-lan", "link", "loopback", "server-lan", "drc-lan",
                  "management"):
        assert valid in ei.value.message


def test_reservations_and_plan_reserved_ranges_are_skipped(tmp_path: Path) -> None:
    plan = {**DESA, "reserved": ["10.0.0.0/28"]}
    ipam = ("reservations:\n  - {prefix: 10.0.0.16/28, kind: keep-free, by: ani@noc, "
            'at: "2026-05-01T00:00:00Z", why: growth}\n')
    inv = make_inventory(tmp_path, plan, ipam=ipam)
    assert str(plan_block(book_of(inv), "desa-lan", "desa-a").space) == "10.0.0.32/28"


def test_allocating_again_for_the_same_thing_returns_what_it_has(tmp_path: Path) -> None:
    inv = make_inventory(tmp_path, DESA, sites=desa("desa-a", "10.0.0.48/28"))
    p = plan_block(book_of(inv), "desa-lan", "desa-a")
    assert str(p.space) == "10.0.0.48/28" and p.existing == "sites.desa-a.lan"


# --- host addresses ---------------------------------------------------------------------------


def test_host_addresses_skip_network_broadcast_gateway_and_reserved(tmp_path: Path) -> None:
    ipam = ("reservations:\n  - {range: 10.0.0.2-10.0.0.3, site: desa-a, kind: dhcp, by: ani@noc, "
            'at: "2026-05-01T00:00:00Z", why: DHCP pool}\n')
    inv = make_inventory(
        tmp_path, DESA, sites=desa("desa-a", "10.0.0.0/29"),
        devices={"r-a": {"site": "desa-a", "mgmt_ip": "10.250.0.10",
                         "interfaces": {"lan0": {"address": "10.0.0.1/29", "kind": "lan"}}}},
        servers={"cctv": {"site": "desa-a", "mgmt_ip": "10.250.0.20", "address": "10.0.0.4"}},
        ipam=ipam)
    book = book_of(inv)
    p = plan_host(book, "desa-a", "pc-kades")
    # .0 network, .1 the router (gateway), .2-.3 DHCP, .4 the CCTV server: .5 is next
    assert p.label == "10.0.0.5" and p.site == "desa-a"
    assert plan_host(book, "desa-a", "cctv").existing == "servers.cctv.address"


def test_a_full_lan_says_so(tmp_path: Path) -> None:
    inv = make_inventory(
        tmp_path, DESA, sites=desa("desa-a", "10.0.0.0/30"),
        devices={"r-a": {"site": "desa-a", "mgmt_ip": "10.250.0.10",
                         "interfaces": {"lan0": {"address": "10.0.0.1/30", "kind": "lan"}}}},
        servers={"s": {"site": "desa-a", "mgmt_ip": "10.250.0.20", "address": "10.0.0.2"}})
    with pytest.raises(SpaceFull, match=r"no free address left in the LAN of site desa-a \(10.0.0.0/30\)"):
        plan_host(book_of(inv), "desa-a", "pc")


def test_a_lan_without_a_declared_router_keeps_its_first_host_for_the_gateway(tmp_path: Path) -> None:
    inv = make_inventory(tmp_path, DESA, sites=desa("desa-a", "10.0.0.16/28"))
    p = plan_host(book_of(inv), "desa-a", "pc")
    assert p.label == "10.0.0.18"
    assert "10.0.0.17 kept for the gateway" in p.notes[0]


def test_host_addresses_inside_an_allocated_lan_before_the_site_exists(tmp_path: Path) -> None:
    ipam = ('allocations:\n  - {prefix: 10.0.0.64/28, purpose: desa-lan, for: desa-new, by: ani@noc, '
            'at: "2026-05-01T00:00:00Z", why: new desa}\n')
    inv = make_inventory(tmp_path, DESA, ipam=ipam)
    assert plan_host(book_of(inv), "desa-new", "ap-1").label == "10.0.0.66"


# --- utilisation ------------------------------------------------------------------------------


def test_utilisation_counts_used_reserved_free_and_the_largest_free_block(tmp_path: Path) -> None:
    inv = make_inventory(tmp_path, {**DESA, "reserved": ["10.0.0.128/25"]},
                         sites={**desa("desa-a", "10.0.0.0/26")})
    row = next(r for r in utilisation(book_of(inv)) if r.purpose == "desa_lan")
    assert (row.size, row.used, row.reserved, row.free) == (256, 64, 128, 64)
    assert str(row.largest_free) == "10.0.0.64/26" and str(row.next_free) == "10.0.0.64/28"
    assert row.percent == 75.0


# --- through the CLI (in-process, the real entry point) ------------------------------------------


def run(inv: Path, *args: str) -> tuple[int, str]:
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["-i", str(inv), *args])
    return rc, buf.getvalue()


def test_allocate_plans_by_default_and_apply_records_in_ipam_yaml_and_the_oplog(lab_copy: Path) -> None:
    rc, out = run(lab_copy, "ipam", "allocate", "--purpose", "desa-lan", "--for", "desa-baru")
    assert rc == 6 and "would allocate desa-lan 10.199.32.64/28" in out
    assert not (lab_copy / "ipam.yaml").exists()
    rc, out = run(lab_copy, "ipam", "allocate", "--purpose", "desa-lan", "--for", "desa-baru",
                  "--why", "SK Bupati 12/2026", "--apply")
    assert rc == 0 and "allocated desa-lan 10.199.32.64/28 for desa-baru" in out
    data = yaml.safe_load((lab_copy / "ipam.yaml").read_text())
    (entry,) = data["allocations"]
    assert entry["prefix"] == "10.199.32.64/28" and entry["for"] == "desa-baru"
    assert entry["why"] == "SK Bupati 12/2026" and "@" in entry["by"] and entry["at"].endswith("Z")
    load_inventory(lab_copy)  # still valid
    (rec,) = [r for r in OpLog(Path(__import__("os").environ["SIMPUL_STATE_DIR"]) / "oplog.jsonl").records()]
    assert rec["action"] == "ipam.allocate" and rec["target"] == "10.199.32.64/28"
    assert rec["params"]["for"] == "desa-baru" and "Perbup Temanggung 83/2021 Pasal 21" in rec["refs"]
    # the next one does not take the same block, and asking again for desa-baru is a no-op
    assert "10.199.32.80/28" in run(lab_copy, "ipam", "allocate", "--purpose", "desa-lan", "--for", "x")[1]
    rc, out = run(lab_copy, "ipam", "allocate", "--purpose", "desa-lan", "--for", "desa-baru")
    assert rc == 0 and "already has desa-lan 10.199.32.64/28 (ipam.yaml:" in out


def test_apply_without_a_reason_is_refused(lab_copy: Path) -> None:
    rc, _ = run(lab_copy, "ipam", "allocate", "--purpose", "link", "--for", "x", "--apply")
    assert rc == 2 and not (lab_copy / "ipam.yaml").exists()


def test_allocate_json_output(lab_copy: Path) -> None:
    rc, out = run(lab_copy, "--json", "ipam", "allocate", "--in", "dinkes", "--for", "pc-kadis")
    d = json.loads(out)
    assert rc == 6 and d["allocation"] == "10.199.16.2" and d["applied"] is False and d["kind"] == "host"


def test_inventory_check_reports_a_hand_edited_overlapping_allocation_with_file_and_line(
        lab_copy: Path) -> None:
    (lab_copy / "ipam.yaml").write_text(
        "# edited by hand\n"
        "allocations:\n"
        '  - {prefix: 10.199.32.64/28, purpose: desa-lan, for: desa-a, by: ani@noc, at: "2026-05-01T00:00:00Z", why: a}\n'
        '  - {prefix: 10.199.32.0/28, purpose: desa-lan, for: desa-lain, by: ani@noc, at: "2026-05-01T00:00:00Z", why: typo}\n'
        '  - {prefix: 10.199.32.16/28, purpose: desa-lan, for: desa-jampiroso, by: ani@noc, at: "2026-05-01T00:00:00Z", why: realised}\n'
        "  - prefix: 10.199.32.72/29\n    purpose: desa-lan\n    for: desa-b\n    by: budi@noc\n"
        '    at: "2026-05-02T00:00:00Z"\n    why: inside desa-a\n')
    with pytest.raises(InventoryInvalid) as ei:
        load_inventory(lab_copy)
    probs = [str(p) for p in ei.value.problems]
    sites_line = next(n for n, t in enumerate((lab_copy / "sites.yaml").read_text().splitlines(), 1)
                      if "desa-kemloko:" in t)
    assert (f"inv/ipam.yaml:4 allocations[1]: 10.199.32.0/28 is the same prefix as 10.199.32.0/28 of "
            f"site desa-kemloko (inv/sites.yaml:{sites_line})") in probs, probs
    assert any(p.startswith("inv/ipam.yaml:6 allocations[3]: 10.199.32.72/29 overlaps 10.199.32.64/28 of "
                            "allocation for desa-a (desa-lan) (inv/ipam.yaml:3)") for p in probs), probs
    # the allocation realised by the site it was for (desa-jampiroso's LAN) is not a conflict
    assert len(probs) == 2, probs


def test_release_moves_the_entry_to_the_history_and_frees_the_space(lab_copy: Path) -> None:
    run(lab_copy, "ipam", "allocate", "--purpose", "link", "--for", "a-b", "--why", "new link", "--apply")
    rc, out = run(lab_copy, "ipam", "release", "a-b")
    assert rc == 6 and "would release 10.199.0.32/30" in out
    rc, out = run(lab_copy, "ipam", "release", "10.199.0.32/30", "--why", "link cancelled", "--apply")
    assert rc == 0
    inv = load_inventory(lab_copy)
    assert inv.allocations == [] and inv.released[0].for_ == "a-b"
    assert inv.released[0].released_why == "link cancelled"
    book = Book.from_inventory(inv)
    assert [e.action for e in history(book, "a-b")] == ["allocated", "released"]
    assert str(plan_block(book, "link", "c-d").space) == "10.199.0.32/30"  # free again
    with pytest.raises(UsageError, match=r"nothing in ipam\.yaml is 'a-b'"):
        find_entry(book, "a-b")


def test_reserve_refuses_a_range_over_an_address_in_use(lab_copy: Path) -> None:
    rc, _ = run(lab_copy, "ipam", "reserve", "10.199.16.1-10.199.16.9", "--kind", "dhcp", "--site",
                "dinkes", "--why", "pool", "--apply")
    assert rc == 2 and not (lab_copy / "ipam.yaml").exists()
    rc, _ = run(lab_copy, "ipam", "reserve", "10.199.16.40-10.199.16.62", "--kind", "dhcp", "--site",
                "dinkes", "--why", "DHCP pool", "--apply")
    assert rc == 0
    # a gateway reservation may cover the router's own address
    rc, _ = run(lab_copy, "ipam", "reserve", "10.199.16.1", "--kind", "gateway", "--site", "dinkes",
                "--why", "router", "--apply")
    assert rc == 0
    load_inventory(lab_copy)
    rc, out = run(lab_copy, "ipam", "allocate", "--in", "dinkes", "--for", "pc")
    assert "10.199.16.2" in out


def test_a_broken_ipam_yaml_stops_allocation_with_its_file_and_line(lab_copy: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    (lab_copy / "ipam.yaml").write_text(
        "allocations:\n"
        '  - {prefix: 10.199.0.32/30, purpose: link, for: a, by: x@y, at: "2026-05-01T00:00:00Z", why: w}\n'
        '  - {prefix: 10.199.0.36/30, purpose: lnk, for: b, by: x@y, at: "2026-05-01T00:00:00Z", why: w}\n')
    before = (lab_copy / "ipam.yaml").read_text()
    rc, _ = run(lab_copy, "ipam", "allocate", "--purpose", "link", "--for", "c", "--why", "w", "--apply")
    assert rc == 3 and (lab_copy / "ipam.yaml").read_text() == before
    rc = main(["inventory", "check", str(lab_copy)])
    out = capsys.readouterr().out
    assert rc == 3 and "inv/ipam.yaml:3 allocations[1]: purpose: 'lnk' is not one of" in out, out


def test_allocations_outside_ipam_yaml_are_refused_with_their_place(lab_copy: Path) -> None:
    (lab_copy / "extra.yaml").write_text("allocations:\n  - {prefix: 10.199.0.32/30}\n")
    with pytest.raises(InventoryInvalid) as ei:
        load_inventory(lab_copy)
    assert any(str(p).startswith("inv/extra.yaml:1 allocations: belongs in ipam.yaml")
               for p in ei.value.problems), ei.value.problems


def test_the_liveness_sweep_is_refused_outside_the_running_lab(lab_copy: Path) -> None:
    # a copy of the lab inventory is not the inventory the running lab was built from (if any)
    rc, _ = run(lab_copy, "ipam", "reconcile", "--sweep", "pusat-data")
    assert rc == 2


def test_show_json_and_one_site(lab_copy: Path) -> None:
    rc, out = run(lab_copy, "--json", "ipam", "show")
    rows = {r["purpose"]: r for r in json.loads(out)["supernets"]}
    assert rc == 0 and rows["desa_lan"]["used"] == 64 and rows["servers"]["counted_by"] == "hosts"
    rc, out = run(lab_copy, "--json", "ipam", "show", "--site", "pusat-data")
    d = json.loads(out)
    assert d["gateways"] == ["10.199.64.1"] and d["next_free"] == "10.199.64.2"
    # the routers' gateway, the three servers and simpeg's DRC service address (standby.vip)
    assert {e["address"] for e in d["entries"]} == {"10.199.64.1", "10.199.64.11", "10.199.64.12",
                                                    "10.199.64.13", "10.199.64.100"}
