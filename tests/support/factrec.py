"""Record the hardening fixtures (``tests/facts/``) from real lab servers.

Boots a private lab (:class:`simpul.lab.private.PrivateLab`: ``web`` with the baseline profile
and one inventory admin, ``app`` with the strict profile and the log host), and

1. audits both fresh servers, writing down every command the checks run and its output
   (through ``audit_host(..., wrap_sh=...)``), and runs the facts of :mod:`simpul.deploys.ops`;
2. applies the hardening (``harden apply``);
3. audits and runs the facts again on the hardened servers;
4. cuts the recordings per control and per fact: one fixture per control and server state
   (``tests/facts/<CONTROL-ID>/fresh-server.json``, ``hardened-server.json``), each holding
   only the commands that control's check runs, and its verdict.

Hand-edited fixtures (``origin`` starting with ``hand-edited``) are left alone. Run as root
from the repository (a few minutes)::

    sudo .venv/bin/python tests/support/factrec.py [--out tests/facts]
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ (for support.*)

from simpul.deploys import ops
from simpul.deploys.catalog import CONTROLS
from simpul.deploys.checks import CHECKS, CheckCtx, Sh
from support.hardening_fixtures import FACTS_DIR, context_to_json, load, write

log = logging.getLogger("factrec")

Recording = dict[str, tuple[int, str]]

# (fact class, case, args): the facts of deploys/ops.py, each run on the fresh and the hardened
# server (the case name gets the state appended)
FACTS: list[tuple[type[Any], str, dict[str, Any]]] = [
    (ops.FileState, "sshd-config", {"path": "/etc/ssh/sshd_config"}),
    (ops.FileState, "nft-file", {"path": "/etc/nftables.d/simpul.nft"}),
    (ops.FileState, "directory", {"path": "/etc/cron.d"}),
    (ops.FileText, "issue-net", {"path": "/etc/issue.net"}),
    (ops.FileText, "nft-file", {"path": "/etc/nftables.d/simpul.nft"}),
    (ops.ReadState, "sysctl-rp-filter", {"script": "cat /proc/sys/net/ipv4/conf/all/rp_filter"}),
    (ops.ReadState, "deploy-user-groups", {"script": "id -nG simpul"}),
    (ops.ReadState, "failing-script", {"script": "test -d /etc/nftables.d"}),
    (ops.ServiceState, "fail2ban", {"pidfile": "/run/fail2ban/fail2ban.pid", "configs": ["/etc/fail2ban/jail.local"]}),
    (ops.ServiceState, "rsyslog", {"pidfile": "/run/rsyslogd.pid",
                                   "configs": ["/etc/rsyslog.conf", "/etc/rsyslog.d/60-simpul.conf"]}),
    (ops.BootStart, "fail2ban", {"service": "fail2ban"}),
    (ops.BootStart, "nftables", {"service": "nftables"}),
    (ops.BootStart, "procps", {"service": "procps", "systemd_unit": "systemd-sysctl"}),
]


def recording_sh(into: Recording) -> Callable[[Sh], Sh]:
    def wrap(sh: Sh) -> Sh:
        def recorded(cmd: str) -> tuple[int, str]:
            rc, out = sh(cmd)
            into[cmd] = (rc, out)
            return rc, out
        return recorded
    return wrap


def cut(cid: str, ctx: CheckCtx, recording: Recording) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Replay control ``cid`` alone against the host's recording: its commands and verdict."""
    used: list[dict[str, Any]] = []

    def sh(cmd: str) -> tuple[int, str]:
        if cmd not in recording:
            raise KeyError(f"{cid}: not recorded during the audit: {cmd}")
        rc, out = recording[cmd]
        if not any(u["cmd"] == cmd for u in used):
            used.append({"cmd": cmd, "rc": rc, "output": out})
        return rc, out

    alone = CheckCtx(hv=ctx.hv, sh=sh, confined=ctx.confined, outside=ctx.outside, pubkey=ctx.pubkey,
                     today=ctx.today)
    passed, detail = CHECKS[cid](alone)
    return used, {"passed": passed, "detail": detail}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=FACTS_DIR)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("paramiko").setLevel(logging.WARNING)

    from simpul.deploys.audit import audit_host
    from simpul.deploys.hostvars import decide, host_vars
    from simpul.deploys.outside import Outside
    from simpul.deploys.runner import run_hosts
    from simpul.inventory import load_inventory
    from simpul.lab.private import PrivateLab
    from simpul.ssh import public_key_line, run, server_target

    today = date.today()
    with tempfile.TemporaryDirectory(prefix="factrec-") as tmp, PrivateLab(Path(tmp), ["web", "app"]) as lab:
        key = Path(tmp) / "rekam"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "rekam@factrec", "-f", str(key)],
                       check=True)
        lab.write_inventory({"app": {"profile": "strict"}},
                            admins={"rekam": {"full_name": "Rekam Fixture", "sudo": True,
                                              "public_keys": [key.with_suffix(".pub").read_text().strip()]}},
                            server_admins={"web": ["rekam"]})
        inv = load_inventory(lab.inventory_dir)
        names = {role: lab.n(role) for role in ("web", "app")}
        recordings: dict[tuple[str, str], tuple[CheckCtx, Recording]] = {}
        fact_out: dict[tuple[str, str], list[dict[str, Any]]] = {}

        def record(state: str) -> None:
            for role, name in names.items():
                rec: Recording = {}
                res = audit_host(inv, name, lab.known_hosts, today=today, wrap_sh=recording_sh(rec))
                found = res.value
                t = server_target(inv, name, lab.known_hosts)
                ctx = CheckCtx(hv=host_vars(inv, name), sh=lambda c: (0, ""), confined=found.confined,
                               outside=Outside(**found.outside), pubkey=public_key_line(t.key_file),
                               today=today)
                recordings[(role, state)] = (ctx, rec)
                log.info("%s %s: %d commands recorded", name, state, len(rec))
                rows = []
                for cls, case, kw in FACTS:
                    f = cls()
                    cmd = str(f.command(**kw))
                    rc, out, _err = run(t, cmd, sudo=True)
                    rows.append({"fact": cls.__name__, "case": case, "args": kw, "command": cmd,
                                 "output": out.splitlines(), "exit": rc})
                if state == "hardened":  # a daemon older than its configuration
                    run(t, "sleep 0.05; touch /etc/rsyslog.d/60-simpul.conf", sudo=True)
                    cls, kw = ops.ServiceState, FACTS[9][2]
                    cmd = str(cls().command(**kw))
                    rc, out, _ = run(t, cmd, sudo=True)
                    rows.append({"fact": cls.__name__, "case": "rsyslog-config-changed", "args": kw,
                                 "command": cmd, "output": out.splitlines(), "exit": rc})
                fact_out[(role, state)] = rows

        record("fresh")
        for r in run_hosts(inv, list(names.values()), "apply", lab.known_hosts):
            log.info("apply %s: %s %s", r.target, r.status, r.message)
            if r.message:
                raise SystemExit(f"apply failed on {r.target}: {r.message}")
        record("hardened")

        written = 0
        for c in CONTROLS:
            role = "web" if decide(host_vars(inv, names["web"]), today)[c.id].state == "apply" else "app"
            for state in ("fresh", "hardened"):
                ctx, rec = recordings[(role, state)]
                path = args.out / c.id / f"{state}-server.json"
                if path.exists() and load(path).get("origin", "").startswith("hand-edited"):
                    continue
                commands, expect = cut(c.id, ctx, rec)
                write(path, {
                    "subject": c.id, "kind": "check", "case": f"{state}-server",
                    "origin": (f"recorded: {state} lab server ({'before' if state == 'fresh' else 'after'} "
                               f"`harden apply`), private lab {names[role]} ({inv.servers[names[role]].role}, "
                               f"profile {inv.servers[names[role]].hardening.profile}), Debian 12 lab image, "
                               f"{today.isoformat()}, by tests/support/factrec.py"),
                    "context": context_to_json(ctx), "commands": commands, "expect": expect})
                written += 1
        for (role, state), rows in fact_out.items():
            if role != "web":
                continue
            for row in rows:
                cls = getattr(ops, row["fact"])
                case = row["case"] if row["case"].endswith("-changed") else f"{row['case']}-{state}"
                write(args.out / row["fact"] / f"{case}.json", {
                    "subject": row["fact"], "kind": "fact", "case": case,
                    "origin": (f"recorded: {state} lab server, private lab {names[role]}, Debian 12 lab image, "
                               f"{today.isoformat()}, by tests/support/factrec.py"
                               + (" (rsyslog's configuration touched after it started)"
                                  if case.endswith("-changed") else "")),
                    "args": row["args"], "command": row["command"], "output": row["output"],
                    "value": cls().process(row["output"])})
                written += 1
        log.info("%d fixtures written to %s", written, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
