"""PAM family (PAM-01..PAM-04): the read-only checks, ``CHECKS[id](ctx) -> (passed, detail)``.

They expect what :mod:`simpul.deploys.families.pam` puts on a server; none changes anything.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from simpul.deploys.checks.base import CheckCtx, Outcome, login_defs


def pam_01(ctx: CheckCtx) -> Outcome:
    m = re.search(r"^\s*minlen\s*=\s*(\d+)", ctx.out("cat /etc/security/pwquality.conf"), re.M)
    minlen = int(m.group(1)) if m else 0
    stack = ctx.ok("grep -Eq '^password\\s+\\S+\\s+pam_pwquality.so' /etc/pam.d/common-password")
    return (minlen >= 14 and stack, f"pwquality minlen={minlen}, in common-password: {stack}")


def pam_02(ctx: CheckCtx) -> Outcome:
    auth = ctx.out("grep -v '^#' /etc/pam.d/common-auth")
    m = re.search(r"^\s*deny\s*=\s*(\d+)", ctx.out("cat /etc/security/faillock.conf"), re.M)
    deny = int(m.group(1)) if m else 0
    ok = "pam_faillock.so preauth" in auth and "pam_faillock.so authfail" in auth and 0 < deny <= 5
    return ok, f"pam_faillock preauth/authfail in common-auth: {'preauth' in auth}; deny={deny or '(unset)'}"


def pam_03(ctx: CheckCtx) -> Outcome:
    ld = login_defs(ctx)
    try:
        mx, mn, warn = int(ld.get("PASS_MAX_DAYS", "99999")), int(ld.get("PASS_MIN_DAYS", "0")), \
            int(ld.get("PASS_WARN_AGE", "0"))
    except ValueError:
        return False, "login.defs ageing values are not numbers"
    stale = ctx.out("awk -F: '($2 ~ /^[$]/ && ($5==\"\" || $5>365 || $4<1 || $6<7)){print $1}' /etc/shadow").split()
    ok = mx <= 365 and mn >= 1 and warn >= 7 and not stale
    return ok, (f"PASS_MAX_DAYS {mx}, PASS_MIN_DAYS {mn}, PASS_WARN_AGE {warn}"
                + (f"; accounts without ageing: {', '.join(stale)}" if stale else ""))


def pam_04(ctx: CheckCtx) -> Outcome:
    enc = login_defs(ctx).get("ENCRYPT_METHOD", "")
    stack = ctx.ok("grep -Eq '^password.*pam_unix.so.*(yescrypt|sha512)' /etc/pam.d/common-password")
    return (enc.upper() in ("YESCRYPT", "SHA512") and stack, f"ENCRYPT_METHOD {enc or '(unset)'}; pam_unix hashing set: {stack}")


CHECKS: dict[str, Callable[[CheckCtx], Outcome]] = {
    "PAM-01": pam_01,
    "PAM-02": pam_02,
    "PAM-03": pam_03,
    "PAM-04": pam_04,
}
