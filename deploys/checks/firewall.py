"""Firewall family (FW-01..FW-04): the read-only checks, ``CHECKS[id](ctx) -> (passed, detail)``.

They expect what :mod:`simpul.deploys.families.firewall` puts on a server; none changes anything.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from simpul.deploys.checks.base import CheckCtx, Outcome, boots
from simpul.deploys.families.firewall import NFT_FILE


def _nft(ctx: CheckCtx) -> str:
    return str(ctx.out("nft list table inet simpul 2>&1"))


def fw_01(ctx: CheckCtx) -> Outcome:
    t = _nft(ctx)
    if "chain input" not in t:
        return False, "table inet simpul is not loaded"
    pol = re.search(r"hook input priority \S+; policy (\w+);", t)
    ok = bool(pol and pol.group(1) == "drop")
    o = ctx.outside
    seen = f"outside: {o.filtered_tcp} TCP ports filtered, {o.closed_tcp_refused} refused"
    return ok and o.filtered_tcp > 0, f"input policy {pol.group(1) if pol else '?'}; {seen}"


def fw_02(ctx: CheckCtx) -> Outcome:
    expected = sorted({p.port for p in ctx.hv.ports if p.proto == "tcp"})
    extra = [p for p in ctx.outside.open_tcp if p not in expected]
    return (not extra, f"open from the management LAN: {ctx.outside.open_tcp or 'none'}; "
                       f"inventory: {expected}" + (f"; UNEXPECTED {extra}" if extra else ""))


def fw_03(ctx: CheckCtx) -> Outcome:
    t = _nft(ctx)
    m = re.search(r"set noc_v4 \{[^}]*elements = \{([^}]*)\}", t, re.S)
    elements = sorted(e.strip() for e in m.group(1).split(",")) if m else []
    want = sorted(str(n) for n in ctx.hv.noc_ranges)
    bad = []
    if elements != want:
        bad.append(f"noc set {elements} (want {want})")
    for p in ctx.hv.ports:
        if p.management and not re.search(rf"ip saddr @noc_v4 {p.proto} dport {p.port} accept", t):
            bad.append(f"{p.service} {p.proto}/{p.port} not limited to the NOC")
        if p.management and re.search(rf"^\s*{p.proto} dport {p.port} accept", t, re.M):
            bad.append(f"{p.service} {p.proto}/{p.port} open to everyone")
    return (not bad, "; ".join(bad) if bad else f"management only from {', '.join(want)}")


def fw_04(ctx: CheckCtx) -> Outcome:
    """Persisted = what the next boot loads holds the table: nftables starts at boot, its
    configuration includes Simpul's file and parses (``nft -c``)."""
    inc = ctx.ok(f"grep -qxF 'include \"/etc/nftables.d/*.nft\"' /etc/nftables.conf && test -f {NFT_FILE}")
    at_boot, how = boots(ctx, "nftables")
    rc, err = ctx.sh("nft -c -f /etc/nftables.conf 2>&1")
    bad = ([] if inc else ["/etc/nftables.conf does not include /etc/nftables.d/simpul.nft"]) + \
        ([] if at_boot else [f"nftables does not start at boot ({how})"]) + \
        ([] if rc == 0 else [f"/etc/nftables.conf does not load: {err.strip()[:160]}"])
    if bad:
        return False, "not persisted: " + "; ".join(bad)
    return True, f"/etc/nftables.conf includes /etc/nftables.d/simpul.nft and parses; nftables {how}"


CHECKS: dict[str, Callable[[CheckCtx], Outcome]] = {
    "FW-01": fw_01,
    "FW-02": fw_02,
    "FW-03": fw_03,
    "FW-04": fw_04,
}
