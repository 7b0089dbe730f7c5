"""File permissions family (FILE-01..FILE-05): the read-only checks, ``CHECKS[id](ctx) -> (passed, detail)``.

They expect what :mod:`simpul.deploys.families.files` puts on a server; none changes anything.
"""

from __future__ import annotations

from collections.abc import Callable

from simpul.deploys.checks.base import CheckCtx, Outcome, empty_list
from simpul.deploys.families.files import FILE_MODES, SUID_ALLOW


def _modes(cid: str) -> Callable[[CheckCtx], Outcome]:
    def check(ctx: CheckCtx) -> Outcome:
        rows = [x for x in FILE_MODES if x[4] == cid]
        out = ctx.out("stat -c '%n %a %U %G' " + " ".join(p for p, *_ in rows) + " 2>/dev/null")
        got = {ln.split()[0]: ln.split()[1:] for ln in out.splitlines() if ln.strip()}
        bad = []
        for path, mode, user, group, _ in rows:
            if path not in got:
                continue
            m, u, g = got[path]
            if int(m, 8) & ~int(mode, 8) or (u, g) != (user, group):
                bad.append(f"{path} {m} {u}:{g} (want {mode} {user}:{group} or stricter)")
        return (not bad, "; ".join(bad) if bad else f"{len(got)} paths ok")
    return check


def file_03(ctx: CheckCtx) -> Outcome:
    return empty_list("find / -xdev -type f -perm -0002 ! -path '/proc/*' ! -path '/sys/*' 2>/dev/null | head -50",
                       "world-writable files")(ctx)


def file_04(ctx: CheckCtx) -> Outcome:
    found = ctx.out("find / -xdev -type f -perm /6000 2>/dev/null").split()
    unexpected = sorted(f for f in found if f not in SUID_ALLOW)
    return (not unexpected, f"SUID/SGID not on the allow-list: {', '.join(unexpected)}" if unexpected
            else f"{len(found)} SUID/SGID files, all on the allow-list")


CHECKS: dict[str, Callable[[CheckCtx], Outcome]] = {
    "FILE-01": _modes("FILE-01"),
    "FILE-02": _modes("FILE-02"),
    "FILE-03": file_03,
    "FILE-04": file_04,
    "FILE-05": empty_list("awk -F: '($3>=1000 && $3<65534 && $6 ~ /^\\/home\\//){print $6}' /etc/passwd | "
                           "while read -r d; do [ -d \"$d\" ] && find \"$d\" -maxdepth 0 -perm /027 -print; done",
                           "home directories open to group/others"),
}
