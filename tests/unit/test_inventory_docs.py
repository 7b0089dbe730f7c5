"""The annotated example in inventory/README.md is a valid inventory (docs stay true)."""

from __future__ import annotations

import re
from pathlib import Path

from simpul.inventory import load_inventory

REPO = Path(__file__).resolve().parents[2]


def test_readme_example_is_valid(tmp_path: Path) -> None:
    text = (REPO / "inventory" / "README.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
    assert len(blocks) == 1
    (tmp_path / "example.yaml").write_text(blocks[0])
    inv = load_inventory(tmp_path)
    assert inv.devices["r-sidorejo"].platform == "mikrotik_routeros"
    assert inv.devices["r-sidorejo"].snmp is not None and inv.devices["r-sidorejo"].snmp.version == "2c"
    assert inv.servers["pd-db-01"].hardening.waivers[0].control == "SSH-05"
