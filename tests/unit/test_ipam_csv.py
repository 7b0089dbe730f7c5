"""``simpul ipam import``/``export``: each CSV flavour (a spreadsheet, NetBox's and phpIPAM's
exports — fixtures in tests/unit/fixtures/ipam, see its README) against the lab plan: rows that
import, rows already in the plan, skipped rows, and conflicts named by row and existing owner."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from simpul.cli import main
from simpul.inventory import load_inventory
from simpul.network.ipam import Book
from simpul.network.ipam_csv import detect, export_csv, plan_import
from simpul.network.ipam_store import IpamStore

FIX = Path(__file__).parent / "fixtures" / "ipam"
LAB = Path(__file__).resolve().parents[2] / "inventory" / "lab"


def plan_of(name: str, inv: Path = LAB) -> dict[int, tuple[str, str]]:
    book = Book.from_inventory(load_inventory(inv))
    plan = plan_import(book, (FIX / name).read_text(encoding="utf-8-sig"), source=name)
    return {r.row: (r.action, r.detail) for r in plan.rows}


def run(inv: Path, *args: str) -> tuple[int, str]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["-i", str(inv), *args])
    return rc, buf.getvalue()


@pytest.mark.parametrize("name, flavour", [
    ("spreadsheet.csv", "spreadsheet"), ("netbox_prefixes.csv", "netbox"),
    ("netbox_ip_addresses.csv", "netbox"), ("phpipam_subnets.csv", "phpipam"),
    ("phpipam_ip_addresses.csv", "phpipam")])
def test_the_flavour_is_told_by_the_header_row(name: str, flavour: str) -> None:
    header = (FIX / name).read_text(encoding="utf-8-sig").splitlines()[0]
    assert detect(header.split(";" if ";" in header else ",")) == flavour


def test_a_spreadsheet_with_semicolons_and_indonesian_headers() -> None:
    rows = plan_of("spreadsheet.csv")
    assert rows[2][0] == "allocate"
    assert rows[3] == ("present", "already in the plan: site desa-kemloko (sites.desa-kemloko.lan)")
    assert rows[4] == ("conflict", "10.199.32.8/29 overlaps 10.199.32.0/28 of site desa-kemloko "
                                   "(sites.desa-kemloko.lan)")
    assert rows[5][0] == "reserve" and rows[6][0] == "allocate"


def test_netbox_prefixes_containers_and_deprecated_are_skipped_reserved_becomes_a_reservation() -> None:
    rows = plan_of("netbox_prefixes.csv")
    assert rows[2][0] == "skip" and "container" in rows[2][1]
    assert rows[3][0] == "present"
    assert rows[4] == ("allocate", "site 'dinsos' is not in the inventory; imported without a site")
    assert rows[5] == ("conflict", "10.199.16.32/27 overlaps 10.199.16.0/26 of site dinkes (sites.dinkes.lan)")
    assert rows[6][0] == "reserve" and rows[7] == ("skip", "deprecated")


def test_netbox_ip_addresses_with_their_mask_and_a_duplicate_of_a_server() -> None:
    rows = plan_of("netbox_ip_addresses.csv")
    assert rows[2] == ("conflict", "10.199.16.1 is already used by interface opd-dinkes:lan0 "
                                   "(devices.opd-dinkes.interfaces.lan0.address)")
    assert rows[3][0] == "allocate" and rows[4][0] == "reserve"
    assert rows[5] == ("conflict", "10.199.64.11 is already used by server pd-web (servers.pd-web.address)")


def test_phpipam_subnets_folders_skipped_and_an_overlap_named() -> None:
    rows = plan_of("phpipam_subnets.csv")
    assert rows[2][0] == "skip" and "folder" in rows[2][1]
    assert rows[3] == ("present", "already in the plan: site disdik (sites.disdik.lan)")
    assert rows[4][0] == rows[6][0] == "allocate"
    assert rows[5] == ("conflict", "10.199.32.16/29 overlaps 10.199.32.16/28 of site desa-jampiroso "
                                   "(sites.desa-jampiroso.lan)")


def test_phpipam_addresses_gateway_tag_and_a_duplicate_in_the_file() -> None:
    rows = plan_of("phpipam_ip_addresses.csv")
    assert rows[2][0] == "reserve"  # Gateway: Yes -> a gateway reservation over the router's address
    assert rows[3][0] == "allocate" and rows[4][0] == "reserve" and rows[6][0] == "reserve"
    assert rows[5] == ("conflict", "10.199.16.65 is already used by interface opd-disdik:lan0 "
                                   "(devices.opd-disdik.interfaces.lan0.address)")


def test_apply_refuses_while_a_row_conflicts_then_skip_conflicts_imports_the_rest(lab_copy: Path) -> None:
    f = str(FIX / "phpipam_subnets.csv")
    rc, out = run(lab_copy, "ipam", "import", f)
    assert rc == 6 and "CONFLICT" in out
    assert run(lab_copy, "ipam", "import", f, "--apply")[0] == 1
    assert not (lab_copy / "ipam.yaml").exists()
    rc, _ = run(lab_copy, "ipam", "import", f, "--apply", "--skip-conflicts")
    assert rc == 0
    inv = load_inventory(lab_copy)  # still valid
    assert sorted(str(a.prefix) for a in inv.allocations) == ["10.199.18.0/26", "10.199.40.0/28"]
    assert all("imported from phpipam_subnets.csv row" in a.why for a in inv.allocations)
    # importing the same file again adds nothing
    rc, out = run(lab_copy, "--json", "ipam", "import", f)
    assert json.loads(out)["counts"]["allocate"] == 0


def test_every_flavour_applied_in_turn_keeps_the_inventory_valid(lab_copy: Path) -> None:
    for name in ("spreadsheet.csv", "netbox_prefixes.csv", "netbox_ip_addresses.csv",
                 "phpipam_subnets.csv", "phpipam_ip_addresses.csv"):
        rc, _ = run(lab_copy, "ipam", "import", str(FIX / name), "--apply", "--skip-conflicts")
        assert rc == 0, name
        load_inventory(lab_copy)


def test_export_then_import_round_trips_as_present(lab_copy: Path, tmp_path: Path) -> None:
    run(lab_copy, "ipam", "import", str(FIX / "phpipam_ip_addresses.csv"), "--apply", "--skip-conflicts")
    out = tmp_path / "plan.csv"
    assert run(lab_copy, "ipam", "export", "--format", "csv", "-o", str(out))[0] == 0
    book = IpamStore(lab_copy).read().book(Book.from_inventory(load_inventory(lab_copy)))
    assert out.read_text() == export_csv(book)
    plan = plan_import(book, out.read_text(), source="plan.csv")
    assert plan.flavour == "spreadsheet"
    assert {r.action for r in plan.rows} == {"present"}, [r.to_dict() for r in plan.rows
                                                          if r.action != "present"]


def test_export_guards_cells_a_spreadsheet_would_run_as_formulas(lab_copy: Path) -> None:
    run(lab_copy, "ipam", "allocate", "--purpose", "link", "--for", "x", "--why", "=HYPERLINK(1)", "--apply")
    csv_text = run(lab_copy, "ipam", "export")[1]
    assert ",'=HYPERLINK(1)," in csv_text
