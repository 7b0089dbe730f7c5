"""Topology diagrams at kabupaten scale: the A3 overview, one page per site, the PDF bundle."""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path

import pytest

from simpul.cli import main
from simpul.inventory import load_inventory
from simpul.inventory.graph import (
    A3_PT,
    bundle_sites,
    fit_overview,
    measure_svg,
    overview_blocks,
    render_bytes,
    site_dot,
)
from simpul.inventory.models import Inventory

REPO = Path(__file__).resolve().parents[2]
KAB = REPO / "inventory" / "contoh-kabupaten"
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz not installed (scripts/setup)")


@pytest.fixture(scope="module")
def kab() -> Inventory:
    return load_inventory(KAB)


def test_overview_groups_every_desa_under_the_router_it_hangs_off(kab: Inventory) -> None:
    hubs, blocks = overview_blocks(kab)
    assert hubs == ["core-drc-1", "core-pd-1", "core-pd-2"]
    dist = [b for b in blocks if b.head]
    assert len(dist) == 20 and all(b.head and b.head.startswith("dist-") for b in dist)
    groups = [b for b in blocks if not b.head]
    assert sorted(b.key for b in groups) == ["edges-core-pd-1", "edges-core-pd-2"]
    # every OPD/desa/kelurahan router is in exactly one cell of one block
    cells = [c for b in blocks for c in b.cells]
    assert len(cells) == len(kab.devices) - len(hubs) - len(dist)
    desa = sum(1 for s in kab.sites.values() if s.type in ("desa", "kelurahan"))
    assert sum(1 for *_x, t in cells if t in ("desa", "kelurahan")) == desa == 266
    bansari = next(b for b in dist if b.head == "dist-bansari")
    assert bansari.title == "Kecamatan Bansari" and bansari.parent == "core-pd-1"
    assert ("Kalilor", "radio", "desa") in bansari.cells
    # a kelurahan on fiber keeps its medium (drawn solid, not dashed)
    parakan = next(b for b in dist if b.head == "dist-parakan")
    assert ("Kel. Ngadiasri", "fiber", "kelurahan") in parakan.cells


@needs_dot
def test_contoh_kabupaten_overview_fits_a3_at_6_pt(kab: Inventory) -> None:
    dot, size = fit_overview(kab, today=date(2026, 10, 1))
    svg = render_bytes(dot, "svg").decode()
    again = measure_svg(svg)
    assert again == size
    w, h = sorted((size.width_pt, size.height_pt))
    assert w <= A3_PT[1] and h <= A3_PT[0], size  # 297 × 420 mm
    assert size.min_font_pt >= 6.0, size
    assert size.fits()
    # every desa is printed: its name appears as text on the page
    texts = set(re.findall(r"<text[^>]*>([^<]+)</text>", svg))
    names = {s.name.removeprefix("Desa ").replace("Kelurahan ", "Kel. ")
             for s in kab.sites.values() if s.type in ("desa", "kelurahan")}
    assert names <= texts, sorted(names - texts)[:5]


def test_site_page_shows_uplink_addresses_and_lan(kab: Inventory) -> None:
    dot = site_dot(kab, "desa-kalilor", today=date(2026, 10, 1))
    assert "Perbup Temanggung 83/2021 Pasal 22" in dot
    assert '"dist-bansari" -- "r-kalilor"' in dot  # the uplink, from the upstream router
    assert "GE0/0/1 ↔ ether1\\n10.251.0.232/30\\nradio 20 Mb/s" in dot
    assert "LAN 10.110.0.0/26" in dot and "10.250.0.59" in dot
    busy = site_dot(kab, "kec-bansari", today=date(2026, 10, 1))
    assert "Melayani / serves 13 situs" in busy and busy.count("<TR><TD ALIGN=\"LEFT\">GE0/0/") == 13
    with pytest.raises(Exception, match="no such site"):
        site_dot(kab, "atlantis")


def test_bundle_has_every_opd_and_desa_once(kab: Inventory) -> None:
    sites = bundle_sites(kab)
    assert len(sites) == len(set(sites)) == 35 + 20 + 266
    assert sites[0] == "bagbarjas" and sites[-1].startswith(("desa-", "kelurahan-"))


@needs_dot
def test_cli_per_site_bundle_and_formats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pypdf import PdfReader

    lab = str(REPO / "inventory" / "lab")
    out = tmp_path / "lan.pdf"
    assert main(["-i", lab, "inventory", "graph", "--per-site", "-o", str(out)]) == 0
    reader = PdfReader(str(out))
    assert len(reader.pages) == 1 + 8  # the overview, 4 OPD, 4 desa
    texts = [p.extract_text() for p in reader.pages]
    assert "Ikhtisar" in texts[0]
    inv = load_inventory(Path(lab))
    for page, site in zip(texts[1:], bundle_sites(inv), strict=True):
        assert inv.sites[site].name in page, (site, page[:200])
    assert main(["-i", lab, "inventory", "graph", "--site", "dinkes", "-o", str(tmp_path / "d.png")]) == 0
    assert (tmp_path / "d.png").read_bytes().startswith(b"\x89PNG")
    capsys.readouterr()
    assert main(["-i", lab, "inventory", "graph", "--per-site", "--format", "svg"]) == 2
    assert "--per-site" in capsys.readouterr().err
    assert main(["-i", lab, "inventory", "graph", "-o", str(tmp_path / "no" / "x.svg")]) == 2
