"""What ``simpul inventory check`` learns from the hardening catalog (entry point
``simpul.inventory_checks``: see :mod:`simpul.inventory.hooks`), so problems are reported with
file and line before anything connects, and the core keeps no copy of the catalog:

- a waiver names a control that exists (``servers.<name>.hardening.waivers[i].control``,
  also when inherited from ``defaults.servers`` or a group): a typo would otherwise waive
  nothing, silently, until ``harden apply`` refuses it;
- lock-outs the inventory alone guarantees (issue 9 #3; ``harden apply`` refuses them at apply
  time too, host by host, in :mod:`simpul.deploys.lockout`):

  - ``organisation.noc_ranges`` that contain no server's management address and do not overlap
    the management supernet of the address plan: the firewall (FW-03) would admit SSH and SNMP
    only from addresses the NOC does not manage from, and fail2ban (IPS-01) would not exempt
    the NOC — apply would refuse both on every server;
  - ``ssh.user: root`` on a server where the root-login control (SSH-01, ``PermitRootLogin
    no``) is on: the deploy user would lock itself out;
  - a waiver of the deploy-user control (ACC-01, which puts the deploy user into
    ``simpul-ssh``) on a server where AllowGroups (SSH-07, ``AllowGroups simpul-ssh``) is on.
"""

from __future__ import annotations

from datetime import date

from simpul.inventory.hooks import Report
from simpul.inventory.models import Inventory, Server, Waiver

from .catalog import CONTROLS


def check(inv: Inventory, report: Report) -> None:
    """The hook: unknown waived controls, then guaranteed lock-outs."""
    unknown_waivers(inv, report)
    lockouts(inv, report)


def unknown_waivers(inv: Inventory, report: Report) -> None:
    """Report every waiver whose control ID is not in the catalog."""
    known = {c.id for c in CONTROLS}
    for name, srv in inv.servers.items():
        for i, w in enumerate(srv.hardening.waivers):
            if w.control not in known:
                close = sorted(k for k in known if k.split("-")[0] == w.control.split("-")[0])
                hint = f" (controls of {w.control.split('-')[0]}: {', '.join(close)})" if close else ""
                report(("servers", name, "hardening", "waivers", i, "control"),
                       f"unknown control '{w.control}'{hint}; 'simpul harden controls' lists them")


# The catalog's controls these rules are about (all baseline: on for every server whose
# hardening.profile is not "none"); tests/unit/test_inventory_lockout.py checks their meaning.
ROOT_LOGIN = "SSH-01"  # PermitRootLogin no
ALLOW_GROUPS = "SSH-07"  # AllowGroups simpul-ssh
DEPLOY_USER = "ACC-01"  # the deploy user in simpul-ssh, its inventory key authorised
NOC_ONLY = ("FW-03", "IPS-01")  # management only from noc_ranges; fail2ban never bans them
BASELINE = frozenset({ROOT_LOGIN, ALLOW_GROUPS, DEPLOY_USER, *NOC_ONLY})


def _waiver(s: Server, cid: str, today: date) -> tuple[int, Waiver] | None:
    for i, w in enumerate(s.hardening.waivers):
        if w.control == cid and w.expires >= today:
            return i, w
    return None


def _on(s: Server, cid: str, today: date) -> bool:
    return s.hardening.profile != "none" and _waiver(s, cid, today) is None


def lockouts(inv: Inventory, report: Report, today: date | None = None) -> None:
    """Report every lock-out the inventory guarantees (see the module docstring)."""
    day = today or date.today()
    p = report
    noc = list(inv.organisation.noc_ranges)
    mgmt_net = inv.plan.supernets.get("management")
    guarded = [s for s in inv.servers.values() if any(_on(s, c, day) for c in NOC_ONLY)]
    if guarded and noc:
        covers = any(s.mgmt_ip in n for n in noc for s in inv.servers.values())
        overlaps = mgmt_net is not None and any(n.overlaps(mgmt_net) for n in noc)
        if not covers and not overlaps:
            plan = f" and none overlaps the management supernet {mgmt_net}" if mgmt_net else ""
            p(("organisation", "noc_ranges"),
              f"{', '.join(map(str, noc))} contains no server's management address{plan}: the "
              "firewall (FW-03) and fail2ban (IPS-01) would admit SSH only from addresses the NOC "
              "does not manage from, and harden apply would refuse both on every server; list "
              "the network the NOC manages from")
    for name, s in inv.servers.items():
        if s.ssh.user == "root" and _on(s, ROOT_LOGIN, day):
            p(("servers", name, "ssh", "user"),
              f"the deploy user is root while {ROOT_LOGIN} (PermitRootLogin no) is on for this "
              f"server: Simpul would lock itself out; deploy as a user with sudo, or waive {ROOT_LOGIN}")
        acc = _waiver(s, DEPLOY_USER, day)
        if acc is not None and s.hardening.profile != "none" and _on(s, ALLOW_GROUPS, day):
            p(("servers", name, "hardening", "waivers", acc[0]),
              f"waiving {DEPLOY_USER} (the deploy user {s.ssh.user} in simpul-ssh) while "
              f"{ALLOW_GROUPS} (AllowGroups simpul-ssh) is on locks the deploy user out unless it "
              f"is already in simpul-ssh; waive {ALLOW_GROUPS} too, or drop this waiver")
