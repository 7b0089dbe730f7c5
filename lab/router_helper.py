#!/usr/bin/python3 -IS
"""The lab routers' device helper: what a Linux+FRR router's host gives its management user.

FRR has no commit-confirm, and a management ACL typed into vtysh filters nothing (sshd and
snmpd are host daemons). Real Linux+FRR routers (Cumulus, VyOS-style) keep both on the host:
the management ACL in the host firewall, a timed rollback in a host service. This helper is the
lab's version of that host service. ``simpul lab up`` installs it as
``<state>/bin/router-helper`` (root-owned) and starts it in every router's namespace as a
resident service (``--serve``, see :func:`serve`); the router login shell relays
``ssh router 'simpul-helper <verb> ...'`` to it over the router's own abstract socket:

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
``checkpoint-arm SECONDS [DIGEST]``  ``checkpoint`` and ``arm`` in one step (``DIGEST``: of the
                               running config the caller found saved; see :func:`checkpoint`)
``confirm-if ID WAIT RIDS PINGS``  the push's post-check on the router (OSPF neighbours RIDS
                               Full again within WAIT s, ``ADDR/SRC`` pings answered; ``-`` for
                               none), then ``confirm ID`` only if it passed (JSON)

Several verbs can go in one call, separated by ``+`` (``acl-show + startup + ping ADDR``): the
answer is a JSON list, one entry per verb.

Restoring uses FRR's own ``frr-reload.py --reload`` against the saved running config (FRR's
"configure replace"), then puts frr.conf back byte for byte and reloads the saved nftables
table. The timer is a detached process in the router's namespace: it survives the SSH session
that armed it (a cut session still ends with the router restored) and ``lab down`` stops it
with every other process of the namespace.

Standalone on purpose (stdlib only, run by /usr/bin/python3 as root): no Simpul imports.
``-I -S``: isolated from the caller's environment (a root helper) and without ``site`` — it
needs only the standard library. Run by hand as root inside a router's namespace,
``router-helper --session S VERB ...`` answers one call without the service.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from contextlib import suppress
from pathlib import Path

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs every call ~2 ms
if TYPE_CHECKING:
    import subprocess

# ipaddress, shutil, subprocess, signal: imported where a verb needs them (a call by hand is a
# new interpreter; the imports a verb does not use cost it CPU for nothing)

PREFIX = "slab-r-"
STATE = Path(os.environ.get("SIMPUL_LAB_DIR_FOR_HELPER", "/var/lib/simpul/lab"))
TABLE = "simpul_mgmt"
FRR_RELOAD = "/usr/lib/frr/frr-reload.py"
KEEP_CHECKPOINTS = 5
_ID = re.compile(r"^[0-9]{8}T[0-9]{6}-[0-9a-f]{6}$")


class HelperError(Exception):
    pass


def _run(cmd: list[str], *, input: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    import subprocess

    return subprocess.run(cmd, capture_output=True, text=True, input=input, timeout=timeout, check=False)


def own_namespace() -> str:
    """The lab router namespace this helper runs in (never trusted from the caller): the
    ``/run/netns`` entry that is our own network namespace (what ``ip netns identify`` does,
    without starting it)."""
    me = os.stat("/proc/self/ns/net")
    try:
        names = sorted(n for n in os.listdir("/run/netns") if n.startswith(PREFIX))
    except OSError:
        names = []
    for name in names:
        try:
            st = os.stat(f"/run/netns/{name}")
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == (me.st_dev, me.st_ino):
            return name
    raise HelperError("the router helper only runs inside a lab router namespace")


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
    import ipaddress

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


def config_digest(text: str) -> str:
    """A config's digest, blind to what ``show running-config`` adds to the saved file (its
    header, the closing ``end``, blank and ``!`` lines): equal digests, equal configs (the client's
    running = startup check in ``simpul.network.drivers`` is this digest too)."""
    import hashlib

    body = [ln.rstrip() for ln in text.splitlines()
            if ln.strip() not in ("", "!", "end", "Building configuration...", "Current configuration:")]
    return "sha256:" + hashlib.sha256("\n".join(body).encode()).hexdigest()


def checkpoint(ns: str, running_digest: str | None = None) -> str:
    """Save the way back: the running config, frr.conf and the ACL; return the checkpoint id.

    ``running_digest``: the digest of the running config the caller has just read and found
    equal to the saved one. If frr.conf still has that digest, frr.conf *is* the running
    config the router had, and it is copied instead of asked of vtysh (a vtysh start costs
    ~20 ms of the router's CPU); otherwise — unsaved changes, frr.conf changed meanwhile, no
    digest — vtysh is asked, as always."""
    import shutil

    cid = new_id()
    d = rb_dir(ns) / cid
    d.mkdir(mode=0o700)
    frr_conf = router_dir(ns) / "frr" / "frr.conf"
    saved = frr_conf.read_text()
    if running_digest is not None and config_digest(saved) == running_digest:
        (d / "running.conf").write_text(saved)
    else:
        (d / "running.conf").write_text(vtysh(ns, "show running-config no-header"))
    (d / "startup.conf").write_text(saved)
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
    pid = _spawn_timer(ns, cid, deadline)
    info = {"id": cid, "deadline": deadline, "pid": pid, "start": _start_time(pid),
            "session": _session_key(session)}
    _armed_file(ns).write_text(json.dumps(info))
    return info


def _spawn_timer(ns: str, cid: str, deadline: float) -> int:
    """The revert timer: this process, forked twice into a session of its own (it outlives the
    SSH session and this call), stdio on /dev/null (the caller's channel ends now), no new
    interpreter to start (a fork of a running Python costs ~1 ms; a new one ~20 ms of CPU)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: a new session, then the timer as its child (re-parented to init)
        code = 1
        try:
            os.setsid()
            grandchild = os.fork()
            if grandchild:
                os.write(w, str(grandchild).encode())
                code = 0
            else:
                null = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(null, fd)
                os.closerange(3, 1 << 16)
                try:
                    timer(ns, cid, deadline)
                    code = 0
                finally:
                    os._exit(code)
        finally:
            os._exit(code)
    os.close(w)
    try:
        answer = os.read(r, 32)
    finally:
        os.close(r)
        os.waitpid(pid, 0)
    if not answer:
        raise HelperError("could not start the rollback timer")
    return int(answer)


def _start_time(pid: int) -> int | None:
    """A process's start time (clock ticks since boot): with the pid, it names that process
    (a pid alone may be reused by another process after the timer ended)."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _stop_timer(info: dict[str, object]) -> None:
    pid = info.get("pid")
    if not isinstance(pid, int):
        return
    if "start" in info:
        if info["start"] is None or _start_time(pid) != info["start"]:
            return  # ended already (and the pid may be another process's now)
    else:  # armed by an older helper: a timer process of its own, known by its command line
        try:
            if b"--timer" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                return
        except OSError:
            return
    import signal

    with suppress(ProcessLookupError):
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


def _list(arg: str) -> list[str]:
    return [] if arg == "-" else arg.split(",")


def _full_neighbors(ns: str) -> set[str]:
    try:
        data = json.loads(vtysh(ns, "show ip ospf neighbor json") or "{}")
    except (HelperError, ValueError):
        return set()
    out = set()
    for rid, entries in data.get("neighbors", {}).items():
        for e in entries if isinstance(entries, list) else [entries]:
            if str(e.get("nbrState") or e.get("state") or "").startswith("Full"):
                out.add(rid)
    return out


def _reachable(addr: str, src: str | None) -> bool:
    import ipaddress

    # an echo every 0.2 s until the first answer, for up to 3 s (radio links lose some packets;
    # a first echo may also be lost while a hop resolves its next hop): one ping process, and a
    # lost echo costs 0.2 s, not a 1-s wait and a new process
    cmd = ["/usr/bin/ping", "-n", "-q", "-c", "1", "-i", "0.2", "-w", "3", str(ipaddress.IPv4Address(addr))]
    if src:
        cmd[1:1] = ["-I", str(ipaddress.IPv4Address(src))]
    return _run(cmd, timeout=10).returncode == 0


def confirm_if(ns: str, session: str, cid: str, wait: float, neighbors: list[str],
               pings: list[str]) -> dict[str, object]:
    """The push's post-check on the router, then the confirm — only if it passed: every OSPF
    neighbour in ``neighbors`` is Full again within ``wait`` s and every ``ADDR[/SRC]`` in
    ``pings`` answers. Otherwise nothing is confirmed (the caller rolls back, or the timer
    does). One call instead of several (each is a login shell, sudo and a Python start)."""
    deadline = time.monotonic() + min(wait, 120)
    missing = set(neighbors)
    while missing:  # no neighbours to check (the caller checked them): no vtysh at all
        missing = set(neighbors) - _full_neighbors(ns)
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    unreachable: list[str] = []
    if not missing:
        for p in pings:
            addr, _, src = p.partition("/")
            if not _reachable(addr, src or None):
                unreachable.append(addr)
    ok = not missing and not unreachable
    if ok:
        confirm(ns, cid, session)
    return {"confirmed": ok, "missing": sorted(missing), "unreachable": unreachable}


def settle_stale_arm(ns: str) -> dict[str, object] | None:
    """At the service's start: a rollback still armed whose timer process is gone means the
    router restarted (a reboot, ``lab down``/``up``) before the change was confirmed. The timer
    did not survive, and the router came back with the config it boots with — never the
    unconfirmed change, which is saved only after the confirm. Record that as the checkpoint's
    rollback (what a pushing client that lost the router will read) and clear the armed state,
    which would otherwise refuse every later push ("a rollback is already armed"). A timer
    still running (only the service restarted) keeps its job. The record, or None."""
    info = _read_armed(ns)
    if not info:
        return None
    pid, start = info.get("pid"), info.get("start")
    if isinstance(pid, int) and start is not None and _start_time(pid) == start:
        return None
    cid = str(info.get("id"))
    _armed_file(ns).unlink(missing_ok=True)
    rec: dict[str, object] = {"id": cid, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "reason": "the router restarted before the change was confirmed; it came back with "
                     "the config it boots with (the unconfirmed change was never saved)",
           "problems": []}
    if _ID.match(cid) and (rb_dir(ns) / cid).is_dir():
        (rb_dir(ns) / cid / "rolled-back").write_text(json.dumps(rec) + "\n")
    (rb_dir(ns) / "last-rollback.json").write_text(json.dumps(rec) + "\n")
    return rec


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


class UsageError(HelperError):
    pass


def dispatch(ns: str, session: str, verb: str, args: list[str]) -> object:
    """Run one verb; its JSON-able answer (``startup``: the text)."""
    if verb == "facts" and not args:
        return {"uptime_seconds": uptime_seconds(ns), "acl": acl_show(), **status(ns)}
    if verb == "acl-show" and not args:
        return acl_show()
    if verb == "acl-set":
        acl_set(args)
        return acl_show()
    if verb == "checkpoint" and not args:
        return {"id": checkpoint(ns)}
    if verb == "arm" and len(args) == 2 and args[1].isdigit():
        return arm(ns, args[0], int(args[1]), session)
    if verb == "checkpoint-arm" and 1 <= len(args) <= 2 and args[0].isdigit():
        return arm(ns, checkpoint(ns, args[1] if len(args) == 2 else None), int(args[0]), session)
    if verb == "confirm" and len(args) == 1:
        confirm(ns, args[0], session)
        return {"confirmed": args[0]}
    if verb == "confirm-if" and len(args) == 4:
        return confirm_if(ns, session, args[0], float(args[1]), _list(args[2]), _list(args[3]))
    if verb == "rollback" and len(args) == 1:
        rollback(ns, args[0], "rolled back on request")
        return {"rolled_back": args[0]}
    if verb == "status" and not args:
        return status(ns)
    if verb == "startup" and not args:
        return (router_dir(ns) / "frr" / "frr.conf").read_text()
    if verb == "ping" and 1 <= len(args) <= 2:
        import ipaddress

        return {"address": str(ipaddress.IPv4Address(args[0])),
                "reachable": _reachable(args[0], args[1] if len(args) == 2 else None)}
    raise UsageError(f"unknown verb or wrong arguments: {verb}")


def answer(ns: str, session: str, words: list[str]) -> tuple[int, str]:
    """Run the verbs in ``words`` (several separated by ``+``: one JSON list answers them);
    (exit code, stdout text or the error message)."""
    calls: list[list[str]] = [[]]
    for w in words:
        if w == "+":
            calls.append([])
        else:
            calls[-1].append(w)
    try:
        outs = [dispatch(ns, session, c[0], c[1:]) for c in calls if c]
    except UsageError as e:
        return 2, f"router-helper: {e}\n"
    except (HelperError, ValueError, OSError) as e:
        return 1, f"router-helper: {e}\n"
    if not outs:
        return 2, "router-helper: no verb\n"
    if len(calls) == 1 and isinstance(outs[0], str):
        return 0, outs[0]  # 'startup' alone: the config as it is
    return 0, json.dumps(outs if len(calls) > 1 else outs[0]) + "\n"


SOCKET = "\0simpul-router-helper"
"""The device helper's socket: an *abstract* unix socket, which belongs to the network
namespace it is bound in — each lab router has its own, reachable only from inside it."""
MAX_REQUEST = 64 * 1024


def serve(user: str) -> None:
    """The device helper as the router's resident host service (``--serve USER``): started by
    ``simpul lab up`` in the router's namespace, it answers the router login shell's
    ``simpul-helper VERB ...`` over :data:`SOCKET` (the shell relays with ``socat``).

    Why resident: a helper started per call (login shell, ``sudo``, a Python start and its
    imports) cost ~35 ms of the router's CPU per call, three calls per pushed router. Here each
    request is a ``fork`` of this running process (~1 ms; the request runs apart, as a started
    process did, and the revert timer is forked from it as before). Only root and ``user`` (the
    router account) may ask (``SO_PEERCRED``). Request: the login's ``SSH_CONNECTION`` on the
    first line, the words on the second; answer: the exit code on the first line, then the
    verb's output (or the error).
    """
    import pwd
    import socket
    import struct

    ns = own_namespace()
    allowed = {0, pwd.getpwnam(user).pw_uid}
    stale = settle_stale_arm(ns)
    if stale:
        print(f"router-helper: {stale['id']}: {stale['reason']}", file=sys.stderr, flush=True)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(SOCKET)
    srv.listen(128)
    pidfile = router_dir(ns) / "helper.pid"
    pidfile.write_text(f"{os.getpid()}\n")  # written once the socket is bound: 'ready'
    while True:
        conn, _ = srv.accept()
        while True:  # reap the requests that ended (no zombies)
            try:
                pid, _status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
        try:
            child = os.fork()
        except OSError:
            conn.close()
            continue
        if child:
            conn.close()
            continue
        code = 1
        try:
            srv.close()
            cred = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            uid = struct.unpack("3i", cred)[1]
            conn.settimeout(10)
            data = bytearray()  # read first, also from a caller to refuse (it sees the answer)
            while len(data) <= MAX_REQUEST and (chunk := conn.recv(65536)):
                data += chunk
            conn.settimeout(None)
            if uid not in allowed:
                conn.sendall(b"1\nrouter-helper: not allowed\n")
            else:
                session, _, line = data.decode(errors="replace").partition("\n")
                rc, out = answer(ns, session.strip(), line.split())
                conn.sendall(f"{rc}\n".encode() + out.encode())
            code = 0
        except Exception as e:  # the request's own process: report, never take the service down
            with suppress(OSError):
                conn.sendall(f"1\nrouter-helper: {type(e).__name__}: {e}\n".encode())
        finally:
            with suppress(OSError):
                conn.close()
            os._exit(code)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--timer"] and len(argv) == 3:
        timer(own_namespace(), argv[1], float(argv[2]))
        return 0
    if argv[:1] == ["--serve"] and len(argv) == 2:
        serve(argv[1])
        return 0
    if len(argv) < 3 or argv[0] != "--session":
        print("usage: router-helper --session SSH_CONNECTION VERB [ARGS] [+ VERB [ARGS] ...]\n"
              "       router-helper --serve USER   (the router's resident helper)", file=sys.stderr)
        return 2
    rc, out = answer(own_namespace(), argv[1], argv[2:])
    (sys.stdout if rc == 0 else sys.stderr).write(out)
    return rc


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except (HelperError, ValueError) as e:
        print(f"router-helper: {e}", file=sys.stderr)
        sys.exit(1)
