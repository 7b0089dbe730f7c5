#!/usr/bin/python3
"""The lab routers' device helper: what a Linux+FRR router's host gives its management user.

FRR has no commit-confirm, and a management ACL typed into vtysh filters nothing (sshd and
snmpd are host daemons). Real Linux+FRR routers (Cumulus, VyOS-style) keep both on the host:
the management ACL in the host firewall, a timed rollback in a host service. This helper is the
lab's version of that host side. ``simpul lab up`` installs it as
``<state>/bin/router-helper`` (root-owned) and lets the router account run it through sudo, for
exactly these verbs, via the router login shell (``ssh router 'simpul-helper <verb> ...'``):

``facts``                      uptime of the routing daemons, ACL and armed-rollback state (JSON)
``acl-show``                   the management ACL now in force (JSON)
``acl-set CIDR...``            admit SSH (tcp/22) and SNMP (udp/161) only from these networks
``checkpoint``                 save the running FRR config, frr.conf and the ACL; print an id
``arm ID SECONDS``             restore checkpoint ID after SECONDS unless confirmed
``confirm ID``                 keep the change: only from a *different* SSH session than the one
                               that armed it (a fresh login proves management still works)
``rollback ID``                restore checkpoint ID now
``status``                     armed rollback and the last rollback (JSON)
``startup``                    print the saved config (frr.conf) — running vs startup drift
``ping ADDR [SRC]``            ping from the router (the post-check reaches the Pusat Data)

Restoring uses FRR's own ``frr-reload.py --reload`` against the saved running config (FRR's
"configure replace"), then puts frr.conf back byte for byte and reloads the saved nftables
table. The timer is a detached process in the router's namespace: it survives the SSH session
that armed it (a cut session still ends with the router restored) and ``lab down`` stops it
with every other process of the namespace.

Standalone on purpose (stdlib only, run by /usr/bin/python3 under sudo): no Simpul imports.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

PREFIX = "slab-r-"
STATE = Path(os.environ.get("SIMPUL_LAB_DIR_FOR_HELPER", "/var/lib/simpul/lab"))
TABLE = "simpul_mgmt"
FRR_RELOAD = "/usr/lib/frr/frr-reload.py"
KEEP_CHECKPOINTS = 5
_ID = re.compile(r"^[0-9]{8}T[0-9]{6}-[0-9a-f]{6}$")


class HelperError(Exception):
    pass


def _run(cmd: list[str], *, input: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, input=input, timeout=timeout, check=False)


def own_namespace() -> str:
    """The lab router namespace this helper runs in (never trusted from the caller)."""
    cp = _run(["/usr/bin/ip", "netns", "identify", str(os.getpid())])
    ns = cp.stdout.strip()
    if not ns.startswith(PREFIX):
        raise HelperError("the router helper only runs inside a lab router namespace")
    return ns


def router_dir(ns: str) -> Path:
    return STATE / "routers" / ns[len(PREFIX):]


def rb_dir(ns: str) -> Path:
    d = router_dir(ns) / "rollback"
    d.mkdir(mode=0o700, exist_ok=True)
    return d


def vtysh(ns: str, *commands: str, timeout: float = 30) -> str:
    args = ["/usr/bin/vtysh", "-N", ns]
    for c in commands:
        args += ["-c", c]
    cp = _run(args, timeout=timeout)
    if cp.returncode != 0:
        raise HelperError(f"vtysh failed: {(cp.stderr or cp.stdout).strip()[:300]}")
    return cp.stdout


# --- the management ACL (host firewall) ---------------------------------------------------------


def acl_ruleset(ranges: list[str]) -> str:
    """The nftables table that admits SSH and SNMP only from ``ranges`` (pure)."""
    nets = [str(ipaddress.IPv4Network(r, strict=True)) for r in ranges]
    lines = [f"table inet {TABLE} {{", " chain input {",
             "  type filter hook input priority 0; policy accept;",
             "  ct state established,related accept", '  iifname "lo" accept']
    if nets:
        s = ", ".join(nets)
        lines += [f"  tcp dport 22 ip saddr {{ {s} }} accept", f"  udp dport 161 ip saddr {{ {s} }} accept"]
    lines += ["  tcp dport 22 drop", "  udp dport 161 drop", " }", "}"]
    return "\n".join(lines) + "\n"


def acl_show() -> dict[str, object]:
    cp = _run(["/usr/sbin/nft", "-j", "list", "table", "inet", TABLE])
    if cp.returncode != 0:
        return {"table": TABLE, "present": False, "admit": []}
    admit: list[str] = []
    for item in json.loads(cp.stdout).get("nftables", []):
        rule = item.get("rule")
        if not rule:
            continue
        exprs = rule.get("expr", [])
        if not any("accept" in e for e in exprs):
            continue
        for e in exprs:
            right = e.get("match", {}).get("right") if isinstance(e, dict) else None
            left = e.get("match", {}).get("left", {}) if isinstance(e, dict) else {}
            if isinstance(left, dict) and left.get("payload", {}).get("field") == "saddr":
                vals = right.get("set", [right]) if isinstance(right, dict) else (right if isinstance(right, list) else [right])
                for v in vals:
                    if isinstance(v, dict) and "prefix" in v:
                        admit.append(f"{v['prefix']['addr']}/{v['prefix']['len']}")
                    elif isinstance(v, str):
                        admit.append(f"{v}/32" if "/" not in v else v)
    return {"table": TABLE, "present": True, "admit": sorted(set(admit))}


def acl_set(ranges: list[str]) -> None:
    text = acl_ruleset(ranges)
    cp = _run(["/usr/sbin/nft", "-f", "-"], input=f"table inet {TABLE} {{}}\ndelete table inet {TABLE}\n{text}")
    if cp.returncode != 0:
        raise HelperError(f"nft: {cp.stderr.strip()[:300]}")


# --- checkpoints, timer, restore --------------------------------------------------------------


def new_id() -> str:
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + os.urandom(3).hex()


def checkpoint(ns: str) -> str:
    cid = new_id()
    d = rb_dir(ns) / cid
    d.mkdir(mode=0o700)
    (d / "running.conf").write_text(vtysh(ns, "show running-config no-header"))
    frr_conf = router_dir(ns) / "frr" / "frr.conf"
    shutil.copyfile(frr_conf, d / "startup.conf")
    cp = _run(["/usr/sbin/nft", "list", "table", "inet", TABLE])
    (d / "acl.nft").write_text(cp.stdout if cp.returncode == 0 else "")
    old = sorted(p for p in rb_dir(ns).iterdir() if p.is_dir() and _ID.match(p.name))
    for p in old[:-KEEP_CHECKPOINTS]:
        shutil.rmtree(p, ignore_errors=True)
    return cid


def _armed_file(ns: str) -> Path:
    return rb_dir(ns) / "armed.json"


def _read_armed(ns: str) -> dict[str, object] | None:
    try:
        return dict(json.loads(_armed_file(ns).read_text()))
    except (OSError, ValueError):
        return None


def _session_key(session: str) -> str:
    """``SSH_CONNECTION`` = "client-ip client-port server-ip server-port": one per login."""
    return " ".join(session.split()[:2])


def arm(ns: str, cid: str, seconds: int, session: str) -> dict[str, object]:
    _check_id(ns, cid)
    if _read_armed(ns):
        raise HelperError("a rollback is already armed; confirm or roll it back first")
    if not 5 <= seconds <= 3600:
        raise HelperError("the rollback timer must be 5..3600 seconds")
    deadline = time.time() + seconds
    p = subprocess.Popen([sys.executable, os.path.realpath(__file__), "--timer", cid, str(deadline)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True, close_fds=True)
    info = {"id": cid, "deadline": deadline, "pid": p.pid, "session": _session_key(session)}
    _armed_file(ns).write_text(json.dumps(info))
    return info


def _stop_timer(info: dict[str, object]) -> None:
    pid = info.get("pid")
    if not isinstance(pid, int):
        return
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return
    if b"--timer" in cmd:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)


def confirm(ns: str, cid: str, session: str) -> None:
    info = _read_armed(ns)
    if not info or info.get("id") != cid:
        raise HelperError(f"no armed rollback {cid} (already rolled back?)")
    if _session_key(session) == info.get("session"):
        raise HelperError("confirm must come from a fresh login, not the session that armed the rollback")
    _armed_file(ns).unlink(missing_ok=True)
    _stop_timer(info)
    (rb_dir(ns) / cid / "confirmed").write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) + "\n")


def restore(ns: str, cid: str, reason: str) -> None:
    d = _check_id(ns, cid)
    acl = (d / "acl.nft").read_text()
    cp = _run(["/usr/sbin/nft", "-f", "-"], input=f"table inet {TABLE} {{}}\ndelete table inet {TABLE}\n{acl}")
    problems = [] if cp.returncode == 0 else [f"nft: {cp.stderr.strip()[:200]}"]
    cp = _run(["/usr/bin/python3", FRR_RELOAD, "--reload", "--stdout", "--log-level", "error",
               "-N", ns, "--rundir", str(rb_dir(ns)), str(d / "running.conf")], timeout=120)
    if cp.returncode != 0:
        problems.append(f"frr-reload: {(cp.stdout + cp.stderr).strip()[-300:]}")
    frr_conf = router_dir(ns) / "frr" / "frr.conf"
    with open(frr_conf, "w") as f:  # keeps owner and mode (frr:frr 0660)
        f.write((d / "startup.conf").read_text())
    rec = {"id": cid, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "reason": reason,
           "problems": problems}
    (d / "rolled-back").write_text(json.dumps(rec) + "\n")
    (rb_dir(ns) / "last-rollback.json").write_text(json.dumps(rec) + "\n")
    if problems:
        raise HelperError("; ".join(problems))


def rollback(ns: str, cid: str, reason: str) -> None:
    info = _read_armed(ns)
    if info and info.get("id") == cid:
        _armed_file(ns).unlink(missing_ok=True)
        _stop_timer(info)
    restore(ns, cid, reason)


def timer(ns: str, cid: str, deadline: float) -> None:
    while time.time() < deadline:
        time.sleep(min(0.5, max(0.0, deadline - time.time())))
    info = _read_armed(ns)
    if not info or info.get("id") != cid:
        return  # confirmed or rolled back meanwhile
    _armed_file(ns).unlink(missing_ok=True)
    restore(ns, cid, "not confirmed before the rollback timer expired")


def _check_id(ns: str, cid: str) -> Path:
    if not _ID.match(cid) or not (rb_dir(ns) / cid).is_dir():
        raise HelperError(f"unknown checkpoint {cid!r}")
    return rb_dir(ns) / cid


def uptime_seconds(ns: str) -> int | None:
    pidfile = Path("/var/run/frr") / ns / "zebra.pid"
    try:
        pid = int(pidfile.read_text().split()[0])
        start_ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
        boot = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return int(boot - start_ticks / os.sysconf("SC_CLK_TCK"))


def status(ns: str) -> dict[str, object]:
    last = rb_dir(ns) / "last-rollback.json"
    try:
        last_rb = json.loads(last.read_text())
    except (OSError, ValueError):
        last_rb = None
    return {"armed": _read_armed(ns), "last_rollback": last_rb}


def main(argv: list[str]) -> int:
    if argv[:1] == ["--timer"] and len(argv) == 3:
        timer(own_namespace(), argv[1], float(argv[2]))
        return 0
    if len(argv) < 3 or argv[0] != "--session":
        print("usage: router-helper --session SSH_CONNECTION VERB [ARGS]", file=sys.stderr)
        return 2
    session, verb, args = argv[1], argv[2], argv[3:]
    ns = own_namespace()
    if verb == "facts" and not args:
        out: object = {"uptime_seconds": uptime_seconds(ns), "acl": acl_show(), **status(ns)}
    elif verb == "acl-show" and not args:
        out = acl_show()
    elif verb == "acl-set":
        acl_set(args)
        out = acl_show()
    elif verb == "checkpoint" and not args:
        out = {"id": checkpoint(ns)}
    elif verb == "arm" and len(args) == 2 and args[1].isdigit():
        out = arm(ns, args[0], int(args[1]), session)
    elif verb == "confirm" and len(args) == 1:
        confirm(ns, args[0], session)
        out = {"confirmed": args[0]}
    elif verb == "rollback" and len(args) == 1:
        rollback(ns, args[0], "rolled back on request")
        out = {"rolled_back": args[0]}
    elif verb == "status" and not args:
        out = status(ns)
    elif verb == "startup" and not args:
        sys.stdout.write((router_dir(ns) / "frr" / "frr.conf").read_text())
        return 0
    elif verb == "ping" and 1 <= len(args) <= 2:
        addrs = [str(ipaddress.IPv4Address(a)) for a in args]
        cmd = ["/usr/bin/ping", "-n", "-q", "-c", "3", "-i", "0.2", "-W", "1", addrs[0]]
        if len(addrs) == 2:
            cmd[1:1] = ["-I", addrs[1]]
        cp = _run(cmd, timeout=15)
        out = {"address": addrs[0], "reachable": cp.returncode == 0}
    else:
        print(f"router-helper: unknown verb or wrong arguments: {verb}", file=sys.stderr)
        return 2
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except (HelperError, ValueError) as e:
        print(f"router-helper: {e}", file=sys.stderr)
        sys.exit(1)
