"""Firewall family (FW-01..FW-04): what Simpul puts on a server, and the deploy that does it.

Simpul's own nftables table ``inet simpul`` (default drop, management only from the NOC
ranges), applied through the lock-out guard and loaded at every boot (Pergub Jambi 12/2022
Pasal 23(2)(b) angka 2).

The read-only checks of these controls: :mod:`simpul.deploys.checks.firewall`.
"""

from __future__ import annotations

import shlex

from pyinfra.api.deploy import deploy

from simpul.deploys.families.base import HEADER, HardenContext, boot_script, gate, name
from simpul.deploys.hostvars import HostVars
from simpul.deploys.ops import GuardedFile, ensure, guarded_files, start_at_boot

NFT_FILE = "/etc/nftables.d/simpul.nft"


def nft_ruleset(hv: HostVars) -> str:
    """Simpul's own table ``inet simpul``: default-drop inbound, the inventory's services open,
    management services only from ``noc_ranges``. Loaded with ``nft -f`` as one transaction; it
    replaces only this table and never flushes the ruleset (fail2ban keeps its own table)."""
    noc = ", ".join(str(n) for n in hv.noc_ranges)
    rules: list[str] = []
    for p in sorted(hv.ports, key=lambda p: (not p.management, p.port, p.proto)):
        who = "ip saddr @noc_v4 " if p.management else \
            f"ip saddr {{ {', '.join(p.sources)} }} " if p.sources else ""
        tag = "FW-03" if p.management else "FW-02"
        rules.append(f'{who}{p.proto} dport {p.port} accept comment "{p.service} | {tag}"')
    fwd_policy = "accept" if hv.ip_forward else "drop"
    body = "\n".join(f"\t\t{r}" for r in rules)
    return (
        f"{HEADER}"
        "# FW-01..FW-04. Applied by simpul-guard with a timed auto-revert unless a fresh SSH login\n"
        "# confirms it; established sessions (the management session) are always kept.\n"
        "table inet simpul {}\n"
        "delete table inet simpul\n"
        "table inet simpul {\n"
        "\tset noc_v4 {\n"
        "\t\ttype ipv4_addr\n"
        "\t\tflags interval\n"
        f"\t\telements = {{ {noc} }}\n"
        "\t}\n"
        "\n"
        "\tchain input {\n"
        "\t\ttype filter hook input priority filter; policy drop;\n"
        "\t\tct state established,related accept\n"
        "\t\tct state invalid drop\n"
        '\t\tiif "lo" accept\n'
        "\t\tip protocol icmp icmp type { echo-request, destination-unreachable, time-exceeded, parameter-problem } limit rate 20/second accept\n"
        "\t\tmeta l4proto ipv6-icmp accept\n"
        f"{body}\n"
        '\t\tlimit rate 5/minute log prefix "simpul-drop: " level info\n'
        "\t}\n"
        "\n"
        "\tchain forward {\n"
        f"\t\ttype filter hook forward priority filter; policy {fwd_policy};\n"
        "\t}\n"
        "}\n"
    )


NFT_LISTING = "/var/lib/simpul-guard/nft-simpul.listing"
NFT_ACTIVATE = (f"if [ -f {NFT_FILE} ]; then nft -f {NFT_FILE} && "
                f"nft list table inet simpul > {NFT_LISTING}; "
                f"else nft delete table inet simpul 2>/dev/null; rm -f {NFT_LISTING}; fi")
NFT_LIVE = f"nft list table inet simpul 2>&1 | cmp -s - {NFT_LISTING}"


@deploy("Firewall")
def host_firewall(ctx: HardenContext) -> None:
    ids = ctx.on("FW-01", "FW-02", "FW-03")
    if ids and gate(ctx, "nft"):
        guarded_files(name=name(ids, "nftables table inet simpul (nft -c, timed auto-revert)"),
                      unit="nft", files=[GuardedFile(NFT_FILE, nft_ruleset(ctx.hv), mode="600")],
                      validate="nft -c -f {}", activate=NFT_ACTIVATE, confirm=ctx.confirm,
                      timeout=ctx.guard_timeout, live_check=NFT_LIVE)
    if ctx.on("FW-04"):
        line = 'include "/etc/nftables.d/*.nft"'
        ensure(name=name(["FW-04"], "Load table inet simpul at boot (/etc/nftables.conf)"),
               check=f"grep -qxF {shlex.quote(line)} /etc/nftables.conf",
               fix=f"[ -f /etc/nftables.conf ] || printf '#!/usr/sbin/nft -f\\n' > /etc/nftables.conf; "
                   f"echo {shlex.quote(line)} >> /etc/nftables.conf")
        boot_script(ctx, "nftables", ["FW-04"], only_if_missing=True)
        start_at_boot(name=name(["FW-04"], "Start nftables at boot"), service="nftables")
