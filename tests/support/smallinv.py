"""A small valid inventory on loopback addresses, for command tests that must not depend on
whether the shared lab is up (its 169.254.100.0/24 management addresses are judged by
simpul.netguard; 127.0.0.0/8 is not)."""

from __future__ import annotations

from pathlib import Path

import yaml


def write_small_inventory(root: Path, secrets: dict[str, dict[str, str]]) -> Path:
    """One SNMPv3 router ``core-1`` at 127.0.0.41 whose secrets are ``secrets`` (name → ref):
    ``snmp-auth``, ``snmp-priv`` and ``login`` must be given."""
    inv = root / "small-inventory"
    inv.mkdir(parents=True, exist_ok=True)
    doc = {
        "organisation": {"name": "Dinas Kominfo Uji", "level": "kabupaten",
                         "domain": "uji.simpul.test", "noc_contacts": [{"name": "NOC"}],
                         "noc_ranges": ["127.0.0.0/8"]},
        "secrets": secrets,
        "plan": {"supernets": {"management": "127.0.0.0/8"}},
        "sites": {"pusat-data": {"type": "pusat-data", "name": "Pusat Data"}},
        "devices": {"core-1": {
            "site": "pusat-data", "platform": "frr", "role": "core", "mgmt_ip": "127.0.0.41",
            "credential": "login",
            "snmp": {"version": 3, "port": 19999, "user": "simpul", "auth_key": "snmp-auth",
                     "priv_key": "snmp-priv"}}},
    }
    (inv / "inventory.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return inv
