"""The inventory: the single source of truth every Simpul command reads.

Public API::

    from simpul.inventory import load_inventory, select, resolve_secret
    inv = load_inventory("inventory/lab")
    hosts = select(inv, ["site=pusat-data", "role=web"])
    password = resolve_secret(inv, inv.devices["core-1"].credential)
"""

from __future__ import annotations

from simpul.inventory.loader import InventoryInvalid, load_inventory
from simpul.inventory.models import Inventory
from simpul.inventory.select import host_facts, select
from simpul.inventory.source import Problem
from simpul.secrets_ref import resolve_secret

__all__ = [
    "Inventory",
    "InventoryInvalid",
    "Problem",
    "host_facts",
    "load_inventory",
    "resolve_secret",
    "select",
]
