"""Lock-out pre-checks: may each lock-out-prone change be applied on this host? (pure)

Five changes can cut the NOC off a server. Each goes through the same two gates: this
pre-check, decided for all of them at once before anything is applied, and then the lock-out
guard (``simpul-guard``: validated candidate, timed auto-revert, confirmed by a fresh SSH login).

============  ======================================  ===========================================
unit          what                                     pre-check (refused when ...)
============  ======================================  ===========================================
``nft``       firewall table (FW-01..03)               the management session comes from outside
                                                       ``organisation.noc_ranges`` (SSH would only
                                                       be admitted from addresses the NOC does not
                                                       use)
``fail2ban``  sshd jail (IPS-01)                       the same: ``ignoreip`` comes from the same
                                                       ranges, so the NOC itself could be banned
``sshd``      sshd_config (SSH-01..11)                 the deploy user is ``root`` while SSH-01
                                                       (``PermitRootLogin no``) is on; or SSH-07
                                                       (``AllowGroups simpul-ssh``) is on, ACC-01
                                                       (which puts the deploy user in the group)
                                                       is not, and the deploy user is not in it
``pam``       PAM stacks (PAM-01/02/04, ACC-03)        (guard only: every module installed)
``sudo``      sudoers drop-ins (ACC-02, ACC-07)        (guard only: ``visudo -c``)
============  ======================================  ===========================================

A unit that is refused is not applied, and neither is any unit that :data:`DEPENDS` on it
(fail2ban's ``ignoreip`` and the firewall's NOC set are the same ``noc_ranges``: when the
firewall is refused, fail2ban is too). Every refusal names its cause and what to change.
What the inventory alone can tell is also reported earlier, by ``simpul inventory check``
(:mod:`simpul.deploys.inventory_checks`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

from simpul.deploys.hostvars import SSH_GROUP, HostVars

UNITS: dict[str, tuple[str, ...]] = {  # unit → the controls it implements
    "sudo": ("ACC-02",), "sudo-admins": ("ACC-07",), "pam": ("PAM-01", "PAM-02", "PAM-04", "ACC-03"),
    "sshd": tuple(f"SSH-{i:02d}" for i in range(1, 12)), "nft": ("FW-01", "FW-02", "FW-03"),
    "fail2ban": ("IPS-01",),
}
DEPENDS: dict[str, tuple[str, ...]] = {"fail2ban": ("nft",)}
WHAT = {"nft": "firewall", "fail2ban": "fail2ban", "sshd": "sshd_config", "pam": "PAM stacks",
        "sudo": "sudo policy", "sudo-admins": "sudo for inventory admins"}


@dataclass(frozen=True)
class Session:
    """How Simpul reaches the host: the source address it sees, and the deploy user's groups
    (None when not read because no pre-check needs them)."""

    client_ip: str
    deploy_groups: frozenset[str] | None = None


def noc_problem(client_ip: str, noc_ranges: Iterable[IPv4Network]) -> str:
    """Why a management session from ``client_ip`` would be cut off by rules admitting only
    ``noc_ranges`` (``""`` when it would not)."""
    ranges = list(noc_ranges)
    inside = False
    if client_ip and ":" not in client_ip:
        addr = IPv4Address(client_ip)
        inside = any(addr in n for n in ranges)
    if inside:
        return ""
    return (f"this session comes from {client_ip or 'an unknown address'}, outside "
            f"organisation.noc_ranges ({', '.join(map(str, ranges))}); applying would lock the NOC "
            "out: put the network the NOC manages from into organisation.noc_ranges")


def needs_groups(hv: HostVars, active: Callable[[str], bool]) -> bool:
    """Whether :func:`prechecks` needs the deploy user's groups (read them from the host)."""
    return active("SSH-07") and not active("ACC-01")


def prechecks(hv: HostVars, active: Callable[[str], bool], session: Session) -> dict[str, str]:
    """unit → the reason it must not be applied on this host (units that may are absent).

    ``active(control_id)``: whether the control is applied on this host (not waived/na).
    """
    out: dict[str, str] = {}

    def on(unit: str) -> bool:
        return any(active(c) for c in UNITS[unit])

    noc = noc_problem(session.client_ip, hv.noc_ranges)
    if noc and on("nft"):
        out["nft"] = f"firewall not applied: {noc}"
    if noc and on("fail2ban"):
        out["fail2ban"] = f"fail2ban not applied (its ignoreip is organisation.noc_ranges): {noc}"
    user = hv.ssh_user
    sshd: list[str] = []
    if user == "root" and active("SSH-01"):
        sshd.append("PermitRootLogin no (SSH-01) would lock out the deploy user root "
                    f"(servers.{hv.name}.ssh.user): deploy as a user with sudo, or waive SSH-01")
    if active("SSH-07") and not active("ACC-01") and session.deploy_groups is not None \
            and SSH_GROUP not in session.deploy_groups:
        sshd.append(f"AllowGroups {SSH_GROUP} (SSH-07) would lock out the deploy user {user}, who "
                    f"is not in {SSH_GROUP}, and ACC-01 (which adds it) is waived or not applicable "
                    "on this host: remove the ACC-01 waiver, or waive SSH-07 as well")
    if sshd:
        out["sshd"] = "sshd_config not applied: " + "; ".join(sshd)
    return with_dependents(out, on)


def with_dependents(refused: dict[str, str], on: Callable[[str], bool]) -> dict[str, str]:
    """``refused`` plus every unit (in use on the host: ``on``) that depends on a refused one."""
    out = dict(refused)
    changed = True
    while changed:  # dependencies of dependencies
        changed = False
        for unit in UNITS:
            for dep in DEPENDS.get(unit, ()):
                if dep in out and unit not in out and on(unit):
                    out[unit] = (f"{WHAT[unit]} not applied: it depends on the {WHAT[dep]}, which "
                                 f"was refused ({out[dep]})")
                    changed = True
    return out
