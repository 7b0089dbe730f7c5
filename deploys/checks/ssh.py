"""SSH family (SSH-01..SSH-11): the read-only checks, ``CHECKS[id](ctx) -> (passed, detail)``.

They expect what :mod:`simpul.deploys.families.ssh` puts on a server; none changes anything.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable

from simpul.deploys.checks.base import CheckCtx, Outcome
from simpul.deploys.families.ssh import SSH_CIPHERS, SSH_KEX, SSH_MACS, SSHD_EXPECT


def sshd_values(ctx: CheckCtx) -> dict[str, str]:
    if not ctx.sshd:
        for line in ctx.out("/usr/sbin/sshd -T 2>/dev/null").splitlines():
            k, _, v = line.partition(" ")
            ctx.sshd.setdefault(k.lower(), v.strip())
    sshd: dict[str, str] = ctx.sshd
    return sshd


def _sshd(cid: str) -> Callable[[CheckCtx], Outcome]:
    def check(ctx: CheckCtx) -> Outcome:
        vals = sshd_values(ctx)
        if not vals:
            return False, "sshd -T failed (the configuration does not parse)"
        bad = [f"{k}={vals.get(k, '(unset)')} (want {v})" for k, v in SSHD_EXPECT[cid].items()
               if vals.get(k, "").lower() != v.lower()]
        extra = _sshd_outside(cid, ctx)
        if extra and not extra[0]:
            bad.append(extra[1])
        if bad:
            return False, "; ".join(bad)
        shown = ", ".join(f"{k} {vals[k]}" for k in SSHD_EXPECT[cid] if k in vals and len(vals[k]) < 40)
        return True, (shown + (f"; {extra[1]}" if extra else "")).strip("; ")
    return check


def _sshd_outside(cid: str, ctx: CheckCtx) -> Outcome | None:
    o = ctx.outside
    if cid == "SSH-01":
        if o.root_key_refused is None:
            return None
        return (o.root_key_refused, "outside: root publickey login refused" if o.root_key_refused
                else "outside: root logged in with a key")
    if cid == "SSH-02":
        if not o.auth_methods:
            return None
        ok = o.auth_methods == ["publickey"]
        return ok, f"outside: daemon offers {', '.join(o.auth_methods)}"
    if cid == "SSH-06":
        if not o.kex:
            return None
        good = (o.kex in SSH_KEX and o.cipher in SSH_CIPHERS and o.mac in SSH_MACS)
        weak = [k for k, refused in o.weak_refused.items() if not refused]
        msg = f"outside: negotiated {o.kex} / {o.cipher} / {o.mac}"
        if weak:
            msg += f"; weak {', '.join(weak)} ACCEPTED"
        else:
            msg += "; weak kex/ciphers/MACs refused"
        return good and not weak, msg
    return None


def ssh_10(ctx: CheckCtx) -> Outcome:
    files = ["/etc/ssh/sshd_config"] + [v for k, v in _hostkeys(ctx)]
    out = ctx.out("stat -c '%n %a %U' " + " ".join(shlex.quote(f) for f in files))
    bad = [ln for ln in out.splitlines() if not re.match(r"^\S+ [0-6]00 root$", ln)]
    return (not bad, "; ".join(bad) if bad else f"{len(files)} files 0600 root")


def _hostkeys(ctx: CheckCtx) -> list[tuple[str, str]]:
    return [("hostkey", ln.split(" ", 1)[1]) for ln in ctx.out("/usr/sbin/sshd -T 2>/dev/null").splitlines()
            if ln.startswith("hostkey ")]


def ssh_08(ctx: CheckCtx) -> Outcome:
    ok, detail = _sshd("SSH-08")(ctx)
    text = ctx.out("cat /etc/issue.net")
    if "PERINGATAN" not in text or "WARNING" not in text:
        return False, "banner /etc/issue.net lacks the ID/EN legal warning"
    return ok, detail + "; banner ID+EN present"


CHECKS: dict[str, Callable[[CheckCtx], Outcome]] = {
    "SSH-01": _sshd("SSH-01"),
    "SSH-02": _sshd("SSH-02"),
    "SSH-03": _sshd("SSH-03"),
    "SSH-04": _sshd("SSH-04"),
    "SSH-05": _sshd("SSH-05"),
    "SSH-06": _sshd("SSH-06"),
    "SSH-07": _sshd("SSH-07"),
    "SSH-08": ssh_08,
    "SSH-09": _sshd("SSH-09"),
    "SSH-10": ssh_10,
    "SSH-11": _sshd("SSH-11"),
}
