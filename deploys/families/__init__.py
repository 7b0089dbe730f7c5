"""The hardening deploys: one module per control family (as dev-sec does), and :func:`harden_all`.

Each family module holds what Simpul puts on a server for its controls (pure renderers) and the
pyinfra ``@deploy`` that does it; the read-only checks of the same controls live in the parallel
package :mod:`simpul.deploys.checks` (change code and audit code apart). What the families
share is in :mod:`.base`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from simpul.deploys.families.accounts import deploy_accounts
from simpul.deploys.families.auditd import audit_rules
from simpul.deploys.families.base import HardenContext, name
from simpul.deploys.families.files import file_permissions
from simpul.deploys.families.firewall import host_firewall
from simpul.deploys.families.guard import lockout_guard
from simpul.deploys.families.ips import intrusion_prevention
from simpul.deploys.families.kernel import kernel_params
from simpul.deploys.families.logs import log_forwarding
from simpul.deploys.families.pam import pam_policy
from simpul.deploys.families.software import packages
from simpul.deploys.families.ssh import ssh_server
from simpul.deploys.families.timesync import time_sync

__all__ = ["FAMILY_DEPLOYS", "ORDER", "HardenContext", "harden_all", "name"]


FAMILY_DEPLOYS = {"ssh": ssh_server, "accounts": deploy_accounts, "pam": pam_policy,
                  "kernel": kernel_params, "firewall": host_firewall, "logging": log_forwarding,
                  "audit": audit_rules, "time": time_sync, "ips": intrusion_prevention,
                  "software": packages, "files": file_permissions}


def harden_all(ctx: HardenContext) -> None:
    """All families in a safe order: the guard first, accounts before SSH (AllowGroups needs
    the deploy user in simpul-ssh), logging before fail2ban (it reads auth.log)."""
    for family in ORDER:
        family(ctx)


# pyinfra types @deploy functions as operations (global arguments first); they take our context.
ORDER: list[Callable[[HardenContext], None]] = cast(
    "list[Callable[[HardenContext], None]]",
    [lockout_guard, packages, deploy_accounts, pam_policy, ssh_server, kernel_params, host_firewall,
     log_forwarding, audit_rules, time_sync, intrusion_prevention, file_permissions])
