"""Accounts family (ACC-01..ACC-07): what Simpul puts on a server, and the deploy that does it.

The deploy user and its key, sudo policy, empty passwords, system account shells, umask,
and the inventory's admin accounts (Perbup Temanggung 83/2021 Pasal 18(3)(a)-(b)).

The read-only checks of these controls: :mod:`simpul.deploys.checks.accounts`.
"""

from __future__ import annotations

import logging
import shlex

from pyinfra.api.deploy import deploy

from simpul.deploys import admins as adm
from simpul.deploys.families.base import HEADER, HardenContext, gate, name
from simpul.deploys.hostvars import SSH_GROUP
from simpul.deploys.ops import GuardedFile, ensure, guarded_files, managed_file, read_state, recorder, run_fix

log = logging.getLogger(__name__)


SUDOERS = (HEADER + "# ACC-02: every sudo command logged, run in its own pty\n"
           "Defaults use_pty\n"
           'Defaults logfile="/var/log/sudo.log"\n'
           "Defaults !visiblepw\n"
           "Defaults passwd_timeout=1\n"
           "Defaults timestamp_timeout=5\n")

PROFILE = (HEADER + "# ACC-06: default umask; SSH-04: idle interactive shells close after 15 min\n"
           "umask 027\n"
           "TMOUT=900\n"
           "readonly TMOUT\n"
           "export TMOUT\n")

# ACC-05: system accounts that keep their shell on purpose. Debian's PostgreSQL tooling and
# every DBA runbook use `su - postgres`; a nologin shell would break backups and DR drills.
SHELL_ACCOUNTS = ("root", "sync", "shutdown", "halt", "postgres")


def system_accounts_with_shell(deploy_user: str) -> str:
    """Shell snippet listing UID<1000 accounts with a login shell (except SHELL_ACCOUNTS)."""
    keep = " && ".join(f'$1!="{a}"' for a in (*SHELL_ACCOUNTS, deploy_user))
    return f"awk -F: '($3<1000 && {keep} && $7!~/(nologin|false)$/){{print $1}}' /etc/passwd"


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
    if ctx.on("ACC-02") and gate(ctx, "sudo"):
        guarded_files(name=name(["ACC-02"], "sudo policy (validated with visudo -c)"), unit="sudo",
                      files=[r_sudoers()], validate="visudo -cf {}", activate="-",
                      confirm=ctx.confirm, timeout=ctx.guard_timeout)
    if ctx.on("ACC-03"):
        empty = "awk -F: '($2==\"\"){print $1}' /etc/shadow"
        ensure(name=name(["ACC-03"], "Lock accounts with an empty password"),
               check=f"{empty} | grep . && exit 1 || exit 0",
               fix=f"for u in $({empty}); do passwd -l \"$u\"; done")
    if ctx.on("ACC-05"):
        nologin = system_accounts_with_shell(user)
        ensure(name=name(["ACC-05"], "System accounts get /usr/sbin/nologin"),
               check=f"{nologin} | grep . && exit 1 || exit 0",
               fix=f"for u in $({nologin}); do usermod -s /usr/sbin/nologin \"$u\"; done")
    ids = ctx.on("ACC-06", "SSH-04")
    if ids:
        managed_file(name=name(ids, "Login shell umask 027 and idle timeout"),
                     path="/etc/profile.d/60-simpul.sh", content=PROFILE)


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
    if not gate(ctx, "sudo-admins"):
        return
    guarded_files(name=name(["ACC-07"], "sudo for inventory admins (validated with visudo -c)"),
                  unit="sudo-admins",
                  files=[GuardedFile(adm.SUDOERS_PATH, adm.sudoers(accounts), mode="440")],
                  validate="visudo -cf {}", activate="-", confirm=ctx.confirm,
                  timeout=ctx.guard_timeout)


def r_sudoers() -> GuardedFile:
    return GuardedFile("/etc/sudoers.d/60-simpul", SUDOERS, mode="440")
