"""The evidence pack's index.html as an assessor opens it: rendered by headless Chromium, in
Bahasa Indonesia (the default) and in English (``index.html#en``, a CSS ``:target`` switch — the
page carries no script).

After layout: only the chosen language's text is visible (no Indonesian left in the English view
and the other way round), one table row per requirement of the map, each with its verdict, every
artefact link points at a file inside the pack, and the page fits a laptop screen's width.
Screenshots are kept in the test's directory (and $SIMPUL_SCREENSHOTS if set) to be looked at.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from support.browser import chromium, measure, screenshot
from support.evidenceworld import build_pack, make_world

from simpul.evidence.model import load_map

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(chromium() is None, reason="chromium not installed (scripts/setup)")]

PROBE = """
const vis = e => { const s = getComputedStyle(e); return s.display !== 'none' && e.offsetParent !== null; };
const rows = [...document.querySelectorAll('tbody tr')];
return {
  id_visible: [...document.querySelectorAll('.id')].filter(vis).length,
  en_visible: [...document.querySelectorAll('.en')].filter(vis).length,
  id_total: document.querySelectorAll('.id').length,
  rows: rows.map(r => ({id: r.cells[0].querySelector('b').innerText.trim(),
                        verdict: (r.querySelector('.st') || {innerText: ''}).innerText.trim()})),
  links: [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href')),
  h1: document.querySelector('h1').innerText.trim(),
  scroll_width: document.documentElement.scrollWidth,
  width: window.innerWidth,
};
"""


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("evidence")
    inv = base / "inv"
    shutil.copytree(Path(__file__).resolve().parents[2] / "inventory" / "lab", inv)
    world = make_world(inv, base)
    return build_pack(world, base / "pack")


def keep(png: Path) -> None:
    dest = os.environ.get("SIMPUL_SCREENSHOTS")
    if dest:
        Path(dest).mkdir(parents=True, exist_ok=True)
        shutil.copy(png, Path(dest) / png.name)


@pytest.mark.parametrize("lang", ["id", "en"])
def test_index_shows_one_language_every_requirement_and_links_inside_the_pack(pack: Path, lang: str) -> None:
    page = pack / "index.html"
    fragment = "#en" if lang == "en" else ""
    m: dict[str, Any] = measure(page, PROBE, width=1366, height=900, fragment=fragment)
    png = screenshot(page, pack.parent / f"evidence-index-{lang}.png", width=1366, height=900, fragment=fragment)
    keep(png)
    assert png.stat().st_size > 20_000  # a rendered page, not a blank one
    if lang == "en":
        assert m["en_visible"] > 0 and m["id_visible"] == 0, m
        assert m["h1"] == "Evidence for SPBE evaluation and ICT audit"
        verdicts = {"Met", "Partial", "Gap"}
    else:
        assert m["id_visible"] > 0 and m["en_visible"] == 0, m
        assert m["h1"] == "Paket Bukti Evaluasi SPBE dan Audit TIK"
        verdicts = {"Terpenuhi", "Sebagian", "Celah"}
    ids = [r.id for r in load_map().requirements]
    assert [r["id"] for r in m["rows"]] == ids
    assert all(r["verdict"] in verdicts for r in m["rows"]), m["rows"]
    # every link is the language switch or a file of the pack (nothing points outside it)
    files = [h for h in m["links"] if not h.startswith("#")]
    assert files and all(not h.startswith(("http:", "https:", "/", "..")) for h in files), files
    missing = [h for h in files if not (pack / h).is_file()]
    assert not missing, missing
    assert m["scroll_width"] <= m["width"], "the table is wider than a 1366-pixel screen"
