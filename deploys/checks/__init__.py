"""Read-only checks, one per control: ``CHECKS[control_id](ctx) -> (passed, detail)``.

One module per control family, parallel to :mod:`simpul.deploys.families` (change code and
audit code apart, as dev-sec keeps its roles and its InSpec baselines); what they share is in
:mod:`.base`. No check changes anything. Every check is replayed offline against fixtures
recorded on real lab servers (``tests/facts/``, ``tests/unit/test_harden_facts.py``).
"""

from __future__ import annotations

from collections.abc import Callable

from simpul.deploys.checks import (
    accounts,
    auditd,
    files,
    firewall,
    ips,
    kernel,
    logs,
    pam,
    software,
    ssh,
    timesync,
)
from simpul.deploys.checks.base import CheckCtx, Outcome, Sh, boots

__all__ = ["CHECKS", "CheckCtx", "Outcome", "Sh", "boots"]

CHECKS: dict[str, Callable[[CheckCtx], Outcome]] = {
    **ssh.CHECKS, **accounts.CHECKS, **pam.CHECKS, **kernel.CHECKS, **firewall.CHECKS, **logs.CHECKS,
    **auditd.CHECKS, **timesync.CHECKS, **ips.CHECKS, **software.CHECKS, **files.CHECKS,
}
