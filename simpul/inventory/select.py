"""Host selectors: ``--limit`` values such as ``core-1``, ``desa-edge``, ``site=drc``.

A selector is a host name, a group name, or ``key=value`` on a host fact (``site``,
``site_type``, ``role``, ``platform``, ``kind``, ``os``). ``key!=value`` excludes. Several
selectors are ANDed; a comma inside one selector ORs (``role=core,role=opd-edge``).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable

from simpul.errors import UsageError
from simpul.inventory.models import Inventory

FACT_KEYS = ("name", "kind", "site", "site_type", "role", "platform", "os", "group")


def host_facts(inv: Inventory, name: str) -> dict[str, object]:
    """The facts a selector can match for one device or server."""
    if name in inv.devices:
        d = inv.devices[name]
        site = inv.sites.get(d.site)
        return {"name": name, "kind": "device", "site": d.site,
                "site_type": site.type if site else "", "role": d.role, "platform": d.platform,
                "os": "", "group": list(d.groups), "mgmt_ip": str(d.mgmt_ip)}
    s = inv.servers[name]
    site = inv.sites.get(s.site)
    return {"name": name, "kind": "server", "site": s.site, "site_type": site.type if site else "",
            "role": s.role, "platform": "linux", "os": s.os, "group": list(s.groups),
            "mgmt_ip": str(s.mgmt_ip)}


def _match_one(inv: Inventory, name: str, term: str) -> bool:
    facts = host_facts(inv, name)
    if "!=" in term or "=" in term:
        neg = "!=" in term
        key, _, val = term.partition("!=" if neg else "=")
        key = key.strip()
        if key not in FACT_KEYS:
            raise UsageError(f"unknown selector key '{key}' (use one of: {', '.join(FACT_KEYS)})")
        fv = facts.get(key)
        hit = any(fnmatch.fnmatch(v, val) for v in fv) if isinstance(fv, list) else \
            fnmatch.fnmatch(str(fv), val)
        return hit != neg
    if term in inv.groups:
        return term in facts["group"]  # type: ignore[operator]
    return fnmatch.fnmatch(name, term)


def select(inv: Inventory, limits: Iterable[str] = (), *, kind: str | None = None) -> list[str]:
    """Names of devices/servers matching every selector (all hosts when ``limits`` is empty).

    Raises :class:`UsageError` when a selector matches nothing, and when one term of an OR
    (``role=core,nosuch``) matches no host of the inventory, so a typo never silently means
    "no hosts" or "fewer hosts".
    """
    names = [*inv.devices, *inv.servers]
    if kind == "device":
        names = list(inv.devices)
    elif kind == "server":
        names = list(inv.servers)
    universe = list(names)
    what = kind or "host"
    for sel in limits:
        terms = [t.strip() for t in sel.split(",") if t.strip()]
        if not terms:
            raise UsageError(f"--limit {sel!r}: empty selector")
        hits = {t: {n for n in universe if _match_one(inv, n, t)} for t in terms}
        if len(terms) > 1:
            for t in terms:
                if not hits[t]:
                    raise UsageError(f"--limit {sel}: '{t}' matches no {what} in the inventory "
                                     "(a typo?)")
        matched = [n for n in names if any(n in hits[t] for t in terms)]
        if not matched:
            raise UsageError(f"--limit {sel}: matches no {what} in the inventory")
        names = matched
    return names
