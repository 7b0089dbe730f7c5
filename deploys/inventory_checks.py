"""What ``simpul inventory check`` learns from the hardening catalog (entry point
``simpul.inventory_checks``: see :mod:`simpul.inventory.hooks`).

- a waiver names a control that exists (``servers.<name>.hardening.waivers[i].control``,
  also when inherited from ``defaults.servers`` or a group): a typo would otherwise waive
  nothing, silently, until ``harden apply`` refuses it.
"""

from __future__ import annotations

from simpul.inventory.hooks import Report
from simpul.inventory.models import Inventory

from .catalog import CONTROLS


def check(inv: Inventory, report: Report) -> None:
    """Report every waiver whose control ID is not in the catalog."""
    known = {c.id for c in CONTROLS}
    for name, srv in inv.servers.items():
        for i, w in enumerate(srv.hardening.waivers):
            if w.control not in known:
                close = sorted(k for k in known if k.split("-")[0] == w.control.split("-")[0])
                hint = f" (controls of {w.control.split('-')[0]}: {', '.join(close)})" if close else ""
                report(("servers", name, "hardening", "waivers", i, "control"),
                       f"unknown control '{w.control}'{hint}; 'simpul harden controls' lists them")
