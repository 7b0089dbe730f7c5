"""Lock-out guard: installs ``/usr/local/sbin/simpul-guard`` first (docs/hardening.md "Lock-out
guard") and its boot hook: a guarded change that a reboot left unconfirmed is rolled back at
boot, before the services start.
"""

from __future__ import annotations

from pyinfra.api.deploy import deploy

from simpul.deploys.families.base import HardenContext, boot_script, shipped
from simpul.deploys.ops import GUARD, managed_file, start_at_boot


def guard_script() -> str:
    return str(shipped("simpul-guard"))


@deploy("Lock-out guard")
def lockout_guard(ctx: HardenContext) -> None:
    managed_file(name="Install the lock-out guard helper", path=GUARD, content=guard_script(),
                 mode="755")
    # a change left unconfirmed by a reboot is rolled back at boot, before the services start
    boot_script(ctx, "simpul-guard", [])
    start_at_boot(name="Roll back unconfirmed guarded changes at boot", service="simpul-guard")
