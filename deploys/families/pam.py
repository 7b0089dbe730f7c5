"""PAM family (PAM-01..PAM-04): what Simpul puts on a server, and the deploy that does it.

Password quality, lockout after failed logins (pam_faillock), password ageing and hashing;
the PAM stacks go through the lock-out guard.

The read-only checks of these controls: :mod:`simpul.deploys.checks.pam`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pyinfra.api.deploy import deploy
from pyinfra.context import host

from simpul.deploys.families.base import HEADER, HardenContext, gate, name
from simpul.deploys.ops import FileText, GuardedFile, ensure, guarded_files, managed_file

PWQUALITY = (HEADER + "# PAM-01\nminlen = 14\nminclass = 4\ndcredit = -1\nucredit = -1\n"
             "lcredit = -1\nocredit = -1\nmaxrepeat = 3\ndictcheck = 1\nenforce_for_root\n")

FAILLOCK = (HEADER + "# PAM-02: 5 failures within 15 min lock the account for 15 min\n"
            "deny = 5\nfail_interval = 900\nunlock_time = 900\naudit\n")

PAM_COMMON_AUTH = (HEADER + "# PAM-02 (pam_faillock), ACC-03 (no nullok: empty passwords never authenticate)\n"
                   "auth\trequired\t\t\tpam_faillock.so preauth\n"
                   "auth\t[success=1 default=ignore]\tpam_unix.so\n"
                   "auth\t[default=die]\t\t\tpam_faillock.so authfail\n"
                   "auth\tsufficient\t\t\tpam_faillock.so authsucc\n"
                   "auth\trequisite\t\t\tpam_deny.so\n"
                   "auth\trequired\t\t\tpam_permit.so\n")

PAM_COMMON_ACCOUNT = (HEADER + "# PAM-02: pam_faillock resets the counter on success\n"
                      "account\t[success=1 new_authtok_reqd=done default=ignore]\tpam_unix.so\n"
                      "account\trequisite\t\t\tpam_deny.so\n"
                      "account\trequired\t\t\tpam_permit.so\n"
                      "account\trequired\t\t\tpam_faillock.so\n")

PAM_COMMON_PASSWORD = (HEADER + "# PAM-01 (pam_pwquality), PAM-04 (yescrypt), no reuse of the last 5\n"
                       "password\trequisite\t\t\tpam_pwquality.so retry=3\n"
                       "password\t[success=1 default=ignore]\tpam_unix.so obscure use_authtok try_first_pass yescrypt remember=5\n"
                       "password\trequisite\t\t\tpam_deny.so\n"
                       "password\trequired\t\t\tpam_permit.so\n")

LOGIN_DEFS = {"PASS_MAX_DAYS": "365", "PASS_MIN_DAYS": "1", "PASS_WARN_AGE": "7",  # PAM-03
              "UMASK": "027",  # ACC-06
              "ENCRYPT_METHOD": "YESCRYPT", "YESCRYPT_COST_FACTOR": "7",  # PAM-04
              "SHA_CRYPT_MIN_ROUNDS": "65536", "SHA_CRYPT_MAX_ROUNDS": "131072"}  # PAM-04 (if SHA512)
LOGIN_DEFS_CONTROL = {"PASS_MAX_DAYS": "PAM-03", "PASS_MIN_DAYS": "PAM-03", "PASS_WARN_AGE": "PAM-03",
                      "UMASK": "ACC-06", "ENCRYPT_METHOD": "PAM-04", "YESCRYPT_COST_FACTOR": "PAM-04",
                      "SHA_CRYPT_MIN_ROUNDS": "PAM-04", "SHA_CRYPT_MAX_ROUNDS": "PAM-04"}


def set_keys(text: str, values: Mapping[str, str], *, sep: str = "\t") -> str:
    """Set ``KEY<sep>value`` lines in a login.defs-style file; keeps everything else as is.

    The first active line of a key is replaced in place, later duplicates are commented out and
    missing keys are appended under a Simpul marker. Idempotent: applying twice changes nothing.
    """
    lines = text.splitlines()
    seen: set[str] = set()
    out: list[str] = []
    for line in lines:
        m = re.match(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s+(.*)$", line)
        if m and not line.lstrip().startswith("#") and m.group(1) in values:
            key = m.group(1)
            if key in seen:
                out.append(f"# {line}  # duplicate, disabled by Simpul")
                continue
            seen.add(key)
            out.append(f"{key}{sep}{values[key]}")
        else:
            out.append(line)
    missing = [k for k in values if k not in seen]
    if missing:
        marker = "# Simpul (simpul harden apply)"
        if marker not in out:
            out.append(marker)
        out += [f"{k}{sep}{values[k]}" for k in missing]
    return "\n".join(out) + "\n"


PAM_VALIDATE = ("for m in $(awk '!/^#/ && NF>=3 {print $3}' {} | grep '[.]so$'); do "
                "ls /lib/*/security/$m /usr/lib/*/security/$m >/dev/null 2>&1 || "
                "{ echo \"PAM module $m not installed\"; exit 1; }; done")


@deploy("PAM")
def pam_policy(ctx: HardenContext) -> None:
    files: list[GuardedFile] = []
    ids = ctx.on("PAM-01", "PAM-02", "PAM-04", "ACC-03")
    if "PAM-02" in ids or "ACC-03" in ids:
        files += [GuardedFile("/etc/pam.d/common-auth", PAM_COMMON_AUTH),
                  GuardedFile("/etc/pam.d/common-account", PAM_COMMON_ACCOUNT)]
    if "PAM-02" in ids:
        files.append(GuardedFile("/etc/security/faillock.conf", FAILLOCK))
    if "PAM-01" in ids or "PAM-04" in ids:
        files += [GuardedFile("/etc/pam.d/common-password", PAM_COMMON_PASSWORD),
                  GuardedFile("/etc/security/pwquality.conf", PWQUALITY)]
    if files and gate(ctx, "pam"):
        guarded_files(name=name(ids, "PAM stacks (modules checked, fresh login + sudo confirmed)"),
                      unit="pam", files=files, validate=PAM_VALIDATE, activate="-",
                      confirm=ctx.confirm, timeout=ctx.guard_timeout)
    keys = {k: v for k, v in LOGIN_DEFS.items()
            if LOGIN_DEFS_CONTROL[k] in ctx.on("PAM-03", "ACC-06", "PAM-04")}
    if keys:
        current = host.get_fact(FileText, path="/etc/login.defs") or ""
        managed_file(name=name(ctx.on("PAM-03", "ACC-06", "PAM-04"), "login.defs ageing, umask, hashing"),
                     path="/etc/login.defs", content=set_keys(current, keys))
    if ctx.on("PAM-03"):
        stale = ("awk -F: '($2 ~ /^[$]/ && ($5==\"\" || $5>365 || $4<1 || $6<7)){print $1}' /etc/shadow")
        ensure(name=name(["PAM-03"], "Ageing for accounts that have a password"),
               check=f"{stale} | grep . && exit 1 || exit 0",
               fix=f"for u in $({stale}); do chage --maxdays 365 --mindays 1 --warndays 7 \"$u\"; done")
