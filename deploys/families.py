"""The hardening deploys: one pyinfra ``@deploy`` per control family, plus :func:`harden_all`.

Every operation name ends in the IDs of the controls it implements (``... | SSH-01, SSH-02``);
an operation runs only for controls that are active on the host (profile, waivers, per-host
exceptions: :func:`simpul.deploys.hostvars.decide`). Changes that can lock the NOC out (sshd,
PAM, sudo, the firewall) go through :func:`simpul.deploys.ops.guarded_files`.
"""

from __future__ import annotations

import logging
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from ipaddress import IPv4Address
from typing import cast

from pyinfra.api.deploy import deploy
from pyinfra.context import host

from simpul.deploys import admins as adm
from simpul.deploys import render as r
from simpul.deploys.hostvars import SSH_GROUP, Decision, HostVars
from simpul.deploys.ops import (
    GUARD,
    ConfirmFn,
    FileText,
    GuardedFile,
    ensure,
    file_mode,
    guarded_files,
    managed_file,
    read_state,
    recorder,
    run_fix,
    service_fresh,
    sysctl_live,
)
from simpul.ssh import ServerFacts

log = logging.getLogger(__name__)


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

    def on(self, *ids: str) -> list[str]:
        return [i for i in ids if self.decisions[i].active]

    def waived_or_na(self) -> list[str]:
        return [i for i, d in self.decisions.items() if not d.active]


def name(ids: list[str], text: str) -> str:
    return f"{text} | {', '.join(ids)}" if ids else text


def guard_script() -> str:
    return (resources.files("simpul.deploys") / "files" / "simpul-guard").read_text()


# --- families -------------------------------------------------------------------------------


@deploy("Lock-out guard")
def lockout_guard(ctx: HardenContext) -> None:
    managed_file(name="Install the lock-out guard helper", path=GUARD, content=guard_script(),
                 mode="755")


@deploy("Software")
def packages(ctx: HardenContext) -> None:
    needed = " ".join(r.REQUIRED_PACKAGES)
    ids = ctx.on("LOG-01", "AUD-01", "TIME-01", "IPS-01", "PAM-01", "PKG-02", "FW-01")
    if ids:
        ensure(name=name(ids, "Install the security packages"),
               check=f"dpkg-query -W -f='${{Package}} ${{Status}}\\n' {needed} 2>&1 | "
                     "grep -v ' install ok installed$' | grep . && exit 1 || exit 0",
               fix=f"DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends {needed}",
               describe=f"apt-get install {needed} (missing ones)")
    if ctx.on("PKG-01"):
        legacy = " ".join(r.LEGACY_PACKAGES)
        installed = (f"dpkg-query -W -f='${{Package}} ${{Status}}\\n' {legacy} 2>/dev/null | "
                     "awk '/ installed$/{print $1}'")
        ensure(name=name(["PKG-01"], "Remove legacy/insecure packages"),
               check=f"{installed} | grep . && exit 1 || exit 0",
               fix=f"pkgs=$({installed}); [ -z \"$pkgs\" ] || "
                   "DEBIAN_FRONTEND=noninteractive apt-get purge -y -q $pkgs",
               describe="apt-get purge the installed legacy packages")
    if ctx.on("PKG-02"):
        managed_file(name=name(["PKG-02"], "Enable unattended security upgrades"),
                     path="/etc/apt/apt.conf.d/20auto-upgrades", content=r.AUTO_UPGRADES)


@deploy("Accounts")
def deploy_accounts(ctx: HardenContext) -> None:
    user = ctx.hv.ssh_user
    if ctx.on("ACC-01"):
        ensure(name=name(["ACC-01"], f"Group {SSH_GROUP} exists"),
               check=f"getent group {SSH_GROUP} >/dev/null", fix=f"groupadd --system {SSH_GROUP}")
        ensure(name=name(["ACC-01"], f"Deploy user {user} is in {SSH_GROUP}"),
               check=f"id -nG {user} | tr ' ' '\\n' | grep -qx {SSH_GROUP}",
               fix=f"usermod -aG {SSH_GROUP} {user}")
        key = shlex.quote(ctx.pubkey)
        b64 = shlex.quote(ctx.pubkey.split()[1])  # match the key itself, whatever its comment
        ak = f"$(getent passwd {user} | cut -d: -f6)/.ssh/authorized_keys"
        ensure(name=name(["ACC-01"], f"Inventory key authorised for {user}"),
               check=f"grep -qF {b64} {ak}",
               fix=f"d=$(getent passwd {user} | cut -d: -f6)/.ssh; mkdir -p $d && "
                   f"echo {key} >> $d/authorized_keys && chown -R {user}: $d && chmod 700 $d && "
                   "chmod 600 $d/authorized_keys",
               describe=f"add the inventory deploy key to {user}'s authorized_keys")
    if ctx.on("ACC-07"):
        admin_accounts(ctx)
    if ctx.on("ACC-02"):
        guarded_files(name=name(["ACC-02"], "sudo policy (validated with visudo -c)"), unit="sudo",
                      files=[r_sudoers()], validate="visudo -cf {}", activate="-",
                      confirm=ctx.confirm, timeout=ctx.guard_timeout)
    if ctx.on("ACC-03"):
        empty = "awk -F: '($2==\"\"){print $1}' /etc/shadow"
        ensure(name=name(["ACC-03"], "Lock accounts with an empty password"),
               check=f"{empty} | grep . && exit 1 || exit 0",
               fix=f"for u in $({empty}); do passwd -l \"$u\"; done")
    if ctx.on("ACC-05"):
        nologin = r.system_accounts_with_shell(user)
        ensure(name=name(["ACC-05"], "System accounts get /usr/sbin/nologin"),
               check=f"{nologin} | grep . && exit 1 || exit 0",
               fix=f"for u in $({nologin}); do usermod -s /usr/sbin/nologin \"$u\"; done")
    ids = ctx.on("ACC-06", "SSH-04")
    if ids:
        managed_file(name=name(ids, "Login shell umask 027 and idle timeout"),
                     path="/etc/profile.d/60-simpul.sh", content=r.PROFILE)


def admin_accounts(ctx: HardenContext) -> None:
    """ACC-07: the inventory's admins — present ones with exactly their keys, the others locked.

    One read-only probe reads every admin account (:func:`simpul.deploys.admins.state_script`);
    only the accounts that differ get an operation, whose fix is complete on its own (pyinfra
    gathers facts before it executes anything)."""
    accounts = adm.wanted(ctx.hv, ctx.today)
    if not ctx.on("ACC-01"):  # ACC-01 creates the group otherwise
        ensure(name=name(["ACC-07"], f"Group {SSH_GROUP} exists"),
               check=f"getent group {SSH_GROUP} >/dev/null",
               fix=f"getent group {SSH_GROUP} >/dev/null || groupadd --system {SSH_GROUP}")
    _, lines = read_state(adm.state_script([w.name for w in accounts]))
    state = adm.parse_state(lines)
    for d in adm.drift(accounts, state, ctx.hv.ssh_user, ctx.today):
        if not d.fix:
            msg = f"ACC-07: {'; '.join(d.problems)}"
            recorder().refusals.append(msg)
            log.error("%s: %s", ctx.hv.name, msg)
            continue
        run_fix(name=name(["ACC-07"], f"Admin account {d.account}"), fix=d.fix,
                describe=f"{d.account}: {'; '.join(d.problems)}")
    guarded_files(name=name(["ACC-07"], "sudo for inventory admins (validated with visudo -c)"),
                  unit="sudo-admins",
                  files=[GuardedFile(adm.SUDOERS_PATH, adm.sudoers(accounts), mode="440")],
                  validate="visudo -cf {}", activate="-", confirm=ctx.confirm,
                  timeout=ctx.guard_timeout)


def r_sudoers() -> GuardedFile:
    return GuardedFile("/etc/sudoers.d/60-simpul", r.SUDOERS, mode="440")


PAM_VALIDATE = ("for m in $(awk '!/^#/ && NF>=3 {print $3}' {} | grep '[.]so$'); do "
                "ls /lib/*/security/$m /usr/lib/*/security/$m >/dev/null 2>&1 || "
                "{ echo \"PAM module $m not installed\"; exit 1; }; done")


@deploy("PAM")
def pam_policy(ctx: HardenContext) -> None:
    files: list[GuardedFile] = []
    ids = ctx.on("PAM-01", "PAM-02", "PAM-04", "ACC-03")
    if "PAM-02" in ids or "ACC-03" in ids:
        files += [GuardedFile("/etc/pam.d/common-auth", r.PAM_COMMON_AUTH),
                  GuardedFile("/etc/pam.d/common-account", r.PAM_COMMON_ACCOUNT)]
    if "PAM-02" in ids:
        files.append(GuardedFile("/etc/security/faillock.conf", r.FAILLOCK))
    if "PAM-01" in ids or "PAM-04" in ids:
        files += [GuardedFile("/etc/pam.d/common-password", r.PAM_COMMON_PASSWORD),
                  GuardedFile("/etc/security/pwquality.conf", r.PWQUALITY)]
    if files:
        guarded_files(name=name(ids, "PAM stacks (modules checked, fresh login + sudo confirmed)"),
                      unit="pam", files=files, validate=PAM_VALIDATE, activate="-",
                      confirm=ctx.confirm, timeout=ctx.guard_timeout)
    keys = {k: v for k, v in r.LOGIN_DEFS.items()
            if r.LOGIN_DEFS_CONTROL[k] in ctx.on("PAM-03", "ACC-06", "PAM-04")}
    if keys:
        current = host.get_fact(FileText, path="/etc/login.defs") or ""
        managed_file(name=name(ctx.on("PAM-03", "ACC-06", "PAM-04"), "login.defs ageing, umask, hashing"),
                     path="/etc/login.defs", content=r.set_keys(current, keys))
    if ctx.on("PAM-03"):
        stale = ("awk -F: '($2 ~ /^[$]/ && ($5==\"\" || $5>365 || $4<1 || $6<7)){print $1}' /etc/shadow")
        ensure(name=name(["PAM-03"], "Ageing for accounts that have a password"),
               check=f"{stale} | grep . && exit 1 || exit 0",
               fix=f"for u in $({stale}); do chage --maxdays 365 --mindays 1 --warndays 7 \"$u\"; done")


@deploy("SSH")
def ssh_server(ctx: HardenContext) -> None:
    if ctx.on("SSH-08"):
        text = r.banner(ctx.hv)
        managed_file(name=name(["SSH-08"], "Legal banner /etc/issue.net"), path="/etc/issue.net",
                     content=text)
        managed_file(name=name(["SSH-08"], "Legal banner /etc/issue"), path="/etc/issue", content=text)
    if ctx.on("SSH-10"):
        for k in ctx.facts.host_keys:
            file_mode(name=name(["SSH-10"], f"Host key {k} 0600"), path=k, mode="600")
    ids = ctx.on("SSH-01", "SSH-02", "SSH-03", "SSH-04", "SSH-05", "SSH-06", "SSH-07", "SSH-08",
                 "SSH-09", "SSH-10", "SSH-11")
    if not ids:
        return
    content = r.sshd_config(ctx.hv, ctx.facts.host_keys, extra=ctx.sshd_extra,
                            waived=ctx.waived_or_na())
    guarded_files(name=name(ids, "sshd_config (sshd -t, reload, fresh login or auto-revert)"),
                  unit="sshd", files=[GuardedFile("/etc/ssh/sshd_config", content, mode="600")],
                  validate="/usr/sbin/sshd -t -f {}", activate=f"{GUARD} svc ssh reload",
                  confirm=ctx.confirm, timeout=ctx.guard_timeout)


@deploy("Kernel")
def kernel_params(ctx: HardenContext) -> None:
    active = ctx.on("SYS-01", "SYS-02", "SYS-03", "SYS-04", "SYS-05", "SYS-06", "SYS-07", "SYS-08")
    values = r.sysctls(ctx.hv, active)
    if values:
        managed_file(name=name(active, "sysctl settings file"), path="/etc/sysctl.d/60-simpul.conf",
                     content=r.sysctl_conf(values))
        for key, (value, cid) in values.items():
            if r.is_live_key(key) or not ctx.facts.confined:
                sysctl_live(name=name([cid], f"Set {key}={value}"), key=key, value=value)
    if ctx.on("SYS-08"):
        managed_file(name=name(["SYS-08"], "No core dumps (limits)"),
                     path="/etc/security/limits.d/60-simpul.conf", content=r.CORE_LIMITS)
        if ctx.facts.init == "systemd":
            managed_file(name=name(["SYS-08"], "No core dumps (systemd-coredump)"),
                         path="/etc/systemd/coredump.conf.d/60-simpul.conf", content=r.COREDUMP_CONF)
    mods = ctx.on("SYS-09", "SYS-10")
    if mods:
        managed_file(name=name(mods, "Disable unused filesystems, storage drivers and protocols"),
                     path="/etc/modprobe.d/60-simpul.conf", content=r.modprobe_conf(mods))


NFT_LISTING = "/var/lib/simpul-guard/nft-simpul.listing"
NFT_ACTIVATE = (f"if [ -f {r.NFT_FILE} ]; then nft -f {r.NFT_FILE} && "
                f"nft list table inet simpul > {NFT_LISTING}; "
                f"else nft delete table inet simpul 2>/dev/null; rm -f {NFT_LISTING}; fi")
NFT_LIVE = f"nft list table inet simpul 2>&1 | cmp -s - {NFT_LISTING}"


@deploy("Firewall")
def host_firewall(ctx: HardenContext) -> None:
    ids = ctx.on("FW-01", "FW-02", "FW-03")
    if ids:
        ip = ctx.facts.client_ip
        inside = bool(ip) and any(IPv4Address(ip) in n for n in ctx.hv.noc_ranges) \
            if ip and ":" not in ip else False
        if not inside:
            msg = (f"firewall not applied: this session comes from {ip or 'an unknown address'}, "
                   f"outside organisation.noc_ranges ({', '.join(map(str, ctx.hv.noc_ranges))}); "
                   "applying would lock the NOC out")
            recorder().refusals.append(msg)
            log.error("%s: %s", ctx.hv.name, msg)
        else:
            guarded_files(name=name(ids, "nftables table inet simpul (nft -c, timed auto-revert)"),
                          unit="nft", files=[GuardedFile(r.NFT_FILE, r.nft_ruleset(ctx.hv), mode="600")],
                          validate="nft -c -f {}", activate=NFT_ACTIVATE, confirm=ctx.confirm,
                          timeout=ctx.guard_timeout, live_check=NFT_LIVE)
    if ctx.on("FW-04"):
        line = 'include "/etc/nftables.d/*.nft"'
        ensure(name=name(["FW-04"], "Load table inet simpul at boot (/etc/nftables.conf)"),
               check=f"grep -qxF {shlex.quote(line)} /etc/nftables.conf",
               fix=f"[ -f /etc/nftables.conf ] || printf '#!/usr/sbin/nft -f\\n' > /etc/nftables.conf; "
                   f"echo {shlex.quote(line)} >> /etc/nftables.conf")


@deploy("Logging")
def log_forwarding(ctx: HardenContext) -> None:
    ids = ctx.on("LOG-02", "LOG-03", "LOG-04")
    if ids:
        if "LOG-03" in ids:
            ensure(name=name(["LOG-03"], "Directory for received logs"),
                   check="test -d /var/log/remote", fix="mkdir -p -m 750 /var/log/remote")
        managed_file(name=name(ids, "rsyslog forwarding and file modes"),
                     path="/etc/rsyslog.d/60-simpul.conf", content=r.rsyslog_conf(ctx.hv, ids))
    if ctx.on("LOG-01"):
        service_fresh(name=name(["LOG-01"], "rsyslog running on its current configuration"),
                      service="rsyslog", pidfile="/run/rsyslogd.pid",
                      configs=["/etc/rsyslog.conf", "/etc/rsyslog.d/60-simpul.conf"])
    if ctx.on("LOG-04"):
        loose = r"find /var/log -type f \( -perm /o+rwx -o -perm /g+wx \)"
        ensure(name=name(["LOG-04"], "Log files not world-readable"),
               check=f"{loose} | grep . && exit 1 || exit 0",
               fix=f"{loose} -exec chmod g-wx,o-rwx {{}} +")


@deploy("Audit")
def audit_rules(ctx: HardenContext) -> None:
    ids = ctx.on("AUD-02", "AUD-03")
    if ids:
        managed_file(name=name(ids, "Audit rules"), path="/etc/audit/rules.d/60-simpul.rules",
                     content=r.audit_rules("AUD-03" in ids), mode="640")
    if ctx.on("AUD-01") and not ctx.facts.confined:
        service_fresh(name=name(["AUD-01"], "auditd running with the current rules"),
                      service="auditd", pidfile="/run/auditd.pid",
                      configs=["/etc/audit/rules.d/60-simpul.rules", "/etc/audit/auditd.conf"])


@deploy("Time")
def time_sync(ctx: HardenContext) -> None:
    if ctx.on("TIME-01"):
        managed_file(name=name(["TIME-01"], "chrony to the Dinas NTP servers"),
                     path="/etc/chrony/chrony.conf", content=r.chrony_conf(ctx.hv))
        if not ctx.facts.confined:
            service_fresh(name=name(["TIME-01"], "chronyd running on its current configuration"),
                          service="chrony", pidfile="/run/chrony/chronyd.pid",
                          configs=["/etc/chrony/chrony.conf"])


@deploy("Intrusion prevention")
def intrusion_prevention(ctx: HardenContext) -> None:
    if not ctx.on("IPS-01"):
        return
    managed_file(name=name(["IPS-01"], "fail2ban sshd jail"), path="/etc/fail2ban/jail.local",
                 content=r.fail2ban_jail(ctx.hv, ctx.facts.init))
    if ctx.facts.init != "systemd":
        ensure(name=name(["IPS-01"], "auth.log exists for fail2ban"), check="test -f /var/log/auth.log",
               fix="touch /var/log/auth.log && chown root:adm /var/log/auth.log && chmod 640 /var/log/auth.log")
    service_fresh(name=name(["IPS-01"], "fail2ban running on its current configuration"),
                  service="fail2ban", pidfile="/run/fail2ban/fail2ban.pid",
                  configs=["/etc/fail2ban/jail.local"])


@deploy("File permissions")
def file_permissions(ctx: HardenContext) -> None:
    for path, mode, user, group, cid in r.FILE_MODES:
        if ctx.on(cid):
            file_mode(name=name([cid], f"{path} {mode} {user}:{group}"), path=path, mode=mode,
                      user=user, group=group)
    if ctx.on("FILE-03"):
        ww = "find / -xdev -type f -perm -0002 ! -path '/proc/*' ! -path '/sys/*' 2>/dev/null"
        ensure(name=name(["FILE-03"], "Remove world-write from files"),
               check=f"{ww} | head -50 | grep . && exit 1 || exit 0",
               fix=f"{ww} -exec chmod o-w {{}} +")
    if ctx.on("FILE-05"):
        loose = ("awk -F: '($3>=1000 && $3<65534 && $6 ~ /^\\/home\\//){print $6}' /etc/passwd | "
                 "while read -r d; do [ -d \"$d\" ] && find \"$d\" -maxdepth 0 -perm /027 -print; done")
        ensure(name=name(["FILE-05"], "Home directories 0750 or stricter"),
               check=f"({loose}) | grep . && exit 1 || exit 0",
               fix=f"for d in $({loose}); do chmod g-w,o-rwx \"$d\"; done")
    if ctx.on("FILE-04"):
        deny = " ".join(r.SUID_DENY)
        found = f"for f in {deny}; do [ -u $f ] || [ -g $f ] && echo $f; done; true"
        ensure(name=name(["FILE-04"], "Drop SUID/SGID from binaries a server does not need"),
               check=f"({found}) | grep . && exit 1 || exit 0",
               fix=f"for f in $({found}); do chmod u-s,g-s $f; done")


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
