"""Accounts family (ACC-01..ACC-07): the read-only checks, ``CHECKS[id](ctx) -> (passed, detail)``.

They expect what :mod:`simpul.deploys.families.accounts` puts on a server; none changes anything.
"""

from __future__ import annotations

from collections.abc import Callable

from simpul.deploys import admins as adm
from simpul.deploys.checks.base import CheckCtx, Outcome, empty_list, login_defs
from simpul.deploys.families.accounts import SHELL_ACCOUNTS, system_accounts_with_shell
from simpul.deploys.hostvars import SSH_GROUP


def acc_01(ctx: CheckCtx) -> Outcome:
    u = ctx.hv.ssh_user
    if not ctx.ok(f"getent group {SSH_GROUP}"):
        return False, f"group {SSH_GROUP} missing"
    if SSH_GROUP not in ctx.out(f"id -nG {u}").split():
        return False, f"{u} is not in {SSH_GROUP}"
    keyb64 = ctx.pubkey.split()[1]
    if not ctx.ok(f"grep -qF {keyb64} $(getent passwd {u} | cut -d: -f6)/.ssh/authorized_keys"):
        return False, f"the inventory key is not in {u}'s authorized_keys"
    return True, f"{u} in {SSH_GROUP}, inventory key authorised"


def acc_02(ctx: CheckCtx) -> Outcome:
    if not ctx.ok("visudo -c -q"):
        return False, "visudo -c fails"
    text = ctx.out("cat /etc/sudoers /etc/sudoers.d/* 2>/dev/null | grep -v '^#'")
    missing = [w for w in ("use_pty", "logfile") if w not in text]
    return (not missing, f"missing Defaults {', '.join(missing)}" if missing else "use_pty, logfile set")


def acc_07(ctx: CheckCtx) -> Outcome:
    accounts = adm.wanted(ctx.hv, ctx.today)
    state = adm.parse_state(ctx.out(adm.state_script([w.name for w in accounts])).splitlines())
    problems = [f"{d.account}: {'; '.join(d.problems)}"
                for d in adm.drift(accounts, state, ctx.hv.ssh_user, ctx.today)]
    sudo = adm.sudoers_problem(accounts, state)
    if sudo:
        problems.append(sudo)
    return (not problems, " | ".join(problems) if problems else adm.summary(accounts, state))


def acc_05(ctx: CheckCtx) -> Outcome:
    u = ctx.hv.ssh_user
    ok, detail = empty_list(system_accounts_with_shell(u), "system accounts with a login shell")(ctx)
    kept = [a for a in SHELL_ACCOUNTS[4:] if ctx.ok(f"getent passwd {a} | grep -qv nologin")]
    return ok, detail + (f"; kept on purpose: {', '.join(kept)}" if kept else "")


def acc_06(ctx: CheckCtx) -> Outcome:
    ld = login_defs(ctx).get("UMASK", "")
    prof = ctx.ok("grep -qx 'umask 027' /etc/profile.d/60-simpul.sh")
    return (ld == "027" and prof, f"login.defs UMASK {ld or '(unset)'}; profile umask 027: {prof}")


CHECKS: dict[str, Callable[[CheckCtx], Outcome]] = {
    "ACC-01": acc_01,
    "ACC-02": acc_02,
    "ACC-03": empty_list("awk -F: '($2==\"\"){print $1}' /etc/shadow", "accounts with an empty password"),
    "ACC-04": empty_list("cut -d: -f3 /etc/passwd | sort | uniq -d", "duplicate UIDs"),
    "ACC-05": acc_05,
    "ACC-06": acc_06,
    "ACC-07": acc_07,
}
