"""Audit family (AUD-01..AUD-03): what Simpul puts on a server, and the deploy that does it.

auditd and its rules (identity, sudoers, sshd, time, logins, modules, firewall); immutable
rules in the strict profile. Kernel-global: configuration only inside a namespace.

The read-only checks of these controls: :mod:`simpul.deploys.checks.auditd`.
"""

from __future__ import annotations

from pyinfra.api.deploy import deploy

from simpul.deploys.families.base import HEADER, HardenContext, name
from simpul.deploys.ops import managed_file, service_fresh, start_at_boot


def audit_rules_file(strict: bool) -> str:
    """AUD-02: identity, privilege, sshd, time, logins, kernel modules, firewall."""
    rules = [
        HEADER.rstrip("\n"), "# AUD-02",
        "-w /etc/passwd -p wa -k identity", "-w /etc/group -p wa -k identity",
        "-w /etc/shadow -p wa -k identity", "-w /etc/gshadow -p wa -k identity",
        "-w /etc/security/opasswd -p wa -k identity",
        "-w /etc/sudoers -p wa -k scope", "-w /etc/sudoers.d/ -p wa -k scope",
        "-w /var/log/sudo.log -p wa -k actions",
        "-w /etc/ssh/sshd_config -p wa -k sshd",
        "-a always,exit -F arch=b64 -S adjtimex,settimeofday,clock_settime -k time-change",
        "-a always,exit -F arch=b32 -S adjtimex,settimeofday,clock_settime -k time-change",
        "-w /etc/localtime -p wa -k time-change",
        "-w /var/log/lastlog -p wa -k logins", "-w /var/run/faillock/ -p wa -k logins",
        "-w /sbin/insmod -p x -k modules", "-w /sbin/rmmod -p x -k modules",
        "-w /sbin/modprobe -p x -k modules",
        "-a always,exit -F arch=b64 -S init_module,finit_module,delete_module -k modules",
        "-w /etc/nftables.conf -p wa -k firewall", "-w /etc/nftables.d/ -p wa -k firewall",
    ]
    if strict:
        rules += ["# AUD-03 (strict): rules immutable until reboot", "-e 2"]
    return "\n".join(rules) + "\n"


@deploy("Audit")
def audit_rules(ctx: HardenContext) -> None:
    ids = ctx.on("AUD-02", "AUD-03")
    if ids:
        managed_file(name=name(ids, "Audit rules"), path="/etc/audit/rules.d/60-simpul.rules",
                     content=audit_rules_file("AUD-03" in ids), mode="640")
    if ctx.on("AUD-01") and not ctx.facts.confined:
        service_fresh(name=name(["AUD-01"], "auditd running with the current rules"),
                      service="auditd", pidfile="/run/auditd.pid",
                      configs=["/etc/audit/rules.d/60-simpul.rules", "/etc/audit/auditd.conf"])
        start_at_boot(name=name(["AUD-01"], "Start auditd at boot"), service="auditd")
