"""What every hardening family shares: the per-host context, operation names, the lock-out gate.

Every operation name ends in the IDs of the controls it implements (``... | SSH-01, SSH-02``);
an operation runs only for controls that are active on the host (profile, waivers, per-host
exceptions: :func:`simpul.deploys.hostvars.decide`). Changes that can lock the NOC out (sshd,
PAM, sudo, the firewall, fail2ban) pass :func:`gate` (:mod:`simpul.deploys.lockout`) and then go
through :func:`simpul.deploys.ops.guarded_files`.
"""

from __future__ import annotations

import logging
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from importlib import resources

from pyinfra.context import host

from simpul.deploys import lockout
from simpul.deploys.hostvars import Decision, HostVars
from simpul.deploys.ops import ConfirmFn, FileState, managed_file, read_state, recorder
from simpul.ssh import ServerFacts

log = logging.getLogger(__name__)

HEADER = "# Managed by Simpul (simpul harden apply). Local edits are reported as drift and reverted.\n"


@dataclass
class HardenContext:
    hv: HostVars
    decisions: Mapping[str, Decision]
    facts: ServerFacts
    pubkey: str
    confirm: ConfirmFn | None
    sshd_extra: Mapping[str, str] = field(default_factory=dict)
    guard_timeout: int = 90
    today: date = field(default_factory=date.today)
    refused: dict[str, str] | None = None  # lock-out pre-checks, decided once per host

    def on(self, *ids: str) -> list[str]:
        return [i for i in ids if self.decisions[i].active]

    def active(self, cid: str) -> bool:
        return bool(self.decisions[cid].active)

    @property
    def systemd(self) -> bool:
        return self.facts.init == "systemd"

    def waived_or_na(self) -> list[str]:
        return [i for i, d in self.decisions.items() if not d.active]


def name(ids: list[str], text: str) -> str:
    return f"{text} | {', '.join(ids)}" if ids else text


def shipped(name: str) -> str:
    """A file shipped in ``deploys/files`` (the guard, init scripts, systemd units)."""
    return (resources.files("simpul.deploys") / "files" / name).read_text()


def gate(ctx: HardenContext, unit: str) -> bool:
    """Whether the lock-out-prone ``unit`` may be applied on this host (:mod:`..lockout`).

    The pre-checks of every unit are decided once, before the first of them; a refusal is
    recorded (the host fails with its cause) and the unit is left as it is."""
    if ctx.refused is None:
        groups = None
        if lockout.needs_groups(ctx.hv, ctx.active):
            rc, out = read_state(f"id -nG {shlex.quote(ctx.hv.ssh_user)}")
            groups = frozenset(" ".join(out).split()) if rc == 0 else frozenset()
        ctx.refused = lockout.prechecks(ctx.hv, ctx.active, lockout.Session(ctx.facts.client_ip, groups))
    why = ctx.refused.get(unit)
    if why:
        if why not in recorder().refusals:
            recorder().refusals.append(why)
            log.error("%s: %s", ctx.hv.name, why)
        return False
    return True


def boot_script(ctx: HardenContext, service: str, ids: list[str], *, only_if_missing: bool = False) -> None:
    """Install what starts ``service`` at boot: Simpul's systemd unit or init.d script.

    ``only_if_missing``: a distribution service (rsyslog, nftables) whose init.d script Debian 12
    does not ship — installed only where there is none (a systemd host has the unit)."""
    if ctx.systemd:
        if not only_if_missing:
            managed_file(name=name(ids, f"Start {service} at boot (systemd unit)"),
                         path=f"/etc/systemd/system/{service}.service",
                         content=shipped(f"systemd/{service}.service"))
        return
    path = f"/etc/init.d/{service}"
    if only_if_missing and host.get_fact(FileState, path=path) is not None:
        return
    managed_file(name=name(ids, f"Start {service} at boot (init.d script)"), path=path,
                 content=shipped(f"init.d/{service}"), mode="755")
