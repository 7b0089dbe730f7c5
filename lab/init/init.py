#!/usr/bin/python3
"""Simpul lab init: PID 1 of a lab server (runs with the image's own python3, stdlib only).

stage1.sh execs it with the host-affecting capabilities already dropped. It

1. provisions the server at its first boot (hostname, machine-id, the deploy user with its key
   and sudo NOPASSWD, sshd host keys, snmpd v2c/v3 config) from /run/simpul/spec.json, and
   refreshes the host keys at every boot (they are the server's identity in known_hosts);
2. runs the start scripts of /etc/rcS.d and /etc/rc2.d like sysvinit's ``rc`` does, so what
   ``update-rc.d enable|disable`` (pyinfra's sysvinit backend) says is what starts at boot;
3. reaps orphaned children;
4. on SIGTERM/SIGINT stops the rc2.d services in reverse order, then terminates whatever is
   left in the server and exits 0.

Provisioning runs once (marker /etc/simpul/provisioned) so that reboots keep what deploys
changed; ``reset_server`` wipes the overlay for a fresh server. Output goes to the console log
(``state_dir/servers/<name>/console.log`` on the host). Secrets are never printed.
"""

from __future__ import annotations

import json
import os
import pwd
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

BOOT = Path("/run/simpul")
MARKER = Path("/etc/simpul/provisioned")
RC_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
          "LANG": "C.UTF-8", "RUNLEVEL": "2", "PREVLEVEL": "N", "TERM": "linux"}
SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGCHLD, signal.SIGHUP}
NAME = sys.argv[1] if len(sys.argv) > 1 else "server"


def say(msg: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} simpul-init[{NAME}]: {msg}", flush=True)


def _unblock() -> None:  # runs in each child before exec: children get a normal signal mask
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    for s in SIGNALS:
        signal.signal(s, signal.SIG_DFL)


def sh(cmd: list[str], timeout: float = 60, check: bool = True,
       input: str | None = None) -> subprocess.CompletedProcess[str]:
    cp = subprocess.run(cmd, env=RC_ENV, preexec_fn=_unblock, capture_output=True, text=True,
                        timeout=timeout, check=False, input=input)
    if check and cp.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({cp.returncode}): {cp.stderr.strip()[:300]}")
    return cp


def write(path: str | Path, text: str, mode: int = 0o644, owner: str | None = None) -> None:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.simpul-tmp")
    tmp.write_text(text)
    os.chmod(tmp, mode)
    if owner:
        pw = pwd.getpwnam(owner)
        os.chown(tmp, pw.pw_uid, pw.pw_gid)
    tmp.replace(p)


def install_host_keys() -> None:
    src = BOOT / "hostkeys"
    for key in sorted(src.glob("ssh_host_*")):
        dst = Path("/etc/ssh") / key.name
        data = key.read_bytes()
        if not dst.exists() or dst.read_bytes() != data:
            dst.write_bytes(data)
        os.chmod(dst, 0o644 if key.name.endswith(".pub") else 0o600)
        os.chown(dst, 0, 0)


def provision(spec: dict[str, str]) -> None:
    host, user, ip = spec["hostname"], spec["ssh_user"], spec["mgmt_ip"]
    write("/etc/hostname", f"{host}\n")
    write("/etc/hosts", f"127.0.0.1\tlocalhost\n127.0.1.1\t{host}\n{ip}\t{host}\n\n"
          "::1\tlocalhost ip6-localhost ip6-loopback\nff02::1\tip6-allnodes\n"
          "ff02::2\tip6-allrouters\n")
    write("/etc/machine-id", uuid.uuid4().hex + "\n", 0o444)

    # the deploy user: key login, sudo without password. '*' = no password, but not "locked"
    # (sshd refuses locked accounts for every auth method when UsePAM is off).
    try:
        pwd.getpwnam(user)
    except KeyError:
        sh(["useradd", "--create-home", "--shell", "/bin/bash", "--groups", "sudo",
            "--comment", "Simpul deploy user", user])
    sh(["usermod", "-p", "*", user])
    pw = pwd.getpwnam(user)
    ssh_dir = Path(pw.pw_dir) / ".ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    os.chown(ssh_dir, pw.pw_uid, pw.pw_gid)
    write(ssh_dir / "authorized_keys", spec["authorized_key"].strip() + "\n", 0o600, user)
    sudoers = f"# Simpul lab: the deploy user\n{user} ALL=(ALL:ALL) NOPASSWD: ALL\n"
    write("/etc/sudoers.d/90-simpul-deploy", sudoers, 0o440)
    sh(["visudo", "-cqf", "/etc/sudoers.d/90-simpul-deploy"])

    # sshd: stock Debian config; only the host keys the lab publishes in known_hosts.
    keys = sorted(k.name for k in (BOOT / "hostkeys").glob("ssh_host_*_key"))
    write("/etc/ssh/sshd_config.d/00-simpul-lab-hostkeys.conf",
          "# Simpul lab: the host keys of this server (the lab's known_hosts pins them)\n"
          + "".join(f"HostKey /etc/ssh/{k}\n" for k in keys))

    # snmpd: v2c read-only from the management LAN, v3 authPriv SHA/AES, on the mgmt address.
    write("/etc/snmp/snmpd.conf",
          "# Simpul lab snmpd (provisioned at first boot)\n"
          f"agentAddress udp:{ip}:161\n"
          f"sysLocation Simpul lab, {host}\n"
          "sysContact NOC Dinas Kominfo <noc@lab.invalid>\n"
          "sysServices 72\n"
          f"rocommunity {spec['snmp_community']} {spec['snmp_allowed_from']}\n"
          f"rouser {spec['snmp_user']} priv\n"
          "dontLogTCPWrappersConnects yes\n", 0o600)
    # createUser lines in the persistent file are turned into usmUser entries at start
    write("/var/lib/snmp/snmpd.conf",
          f'createUser {spec["snmp_user"]} SHA "{spec["snmp_auth"]}" AES "{spec["snmp_priv"]}"\n',
          0o600, "Debian-snmp")
    write(MARKER, json.dumps({"name": NAME, "hostname": host, "at": time.time()}) + "\n")
    say(f"provisioned {host} (deploy user {user})")


def ensure_mtab() -> None:
    """/etc/mtab → /proc/self/mounts, as systemd-tmpfiles makes it on every Debian boot (the
    image has no systemd). snmpd's HOST-RESOURCES-MIB reads the mounted filesystems from
    /etc/mtab: without it a server reports no disk at all (hrStorage lists only memory)."""
    mtab = Path("/etc/mtab")
    if not mtab.is_symlink() and not mtab.exists():
        mtab.symlink_to("../proc/self/mounts")


def rc_scripts(level: str) -> list[Path]:
    d = Path(f"/etc/rc{level}.d")
    return sorted(p for p in d.glob("S*") if os.access(p, os.X_OK)) if d.is_dir() else []


def run_reaping(cmd: list[str], timeout: float) -> tuple[int | None, str]:
    """Run ``cmd`` while reaping every other child: a daemon killed by a stop script is our
    child (orphans are re-parented to PID 1); start-stop-daemon waits until it is reaped."""
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, env=RC_ENV, preexec_fn=_unblock, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT)
        rc: int | None = None
        deadline = time.monotonic() + timeout
        while rc is None and time.monotonic() < deadline:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == proc.pid:
                rc = os.waitstatus_to_exitcode(status)
                proc.returncode = rc
            elif pid == 0:
                time.sleep(0.01)
        if rc is None:
            proc.kill()
        out.seek(0)
        return rc, out.read().decode(errors="replace")


def run_rc(script: Path, action: str) -> None:
    t0 = time.monotonic()
    rc, out = run_reaping([str(script), action], timeout=60)
    out = out.strip().replace("\n", " | ")
    status = "timed out after 60 s" if rc is None else "ok" if rc == 0 else f"exit {rc}"
    say(f"{script.name} {action}: {status} ({time.monotonic() - t0:.2f} s)"
        f"{': ' + out if out else ''}")


def reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def shutdown() -> None:
    say("stopping services")
    for script in reversed(rc_scripts("2")):
        run_rc(script, "stop")
    for sig, grace in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 2.0)):
        try:
            os.kill(-1, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    time.sleep(0.05)
            except ChildProcessError:
                break
    say("halted")


def main() -> int:
    # PID 1 only receives signals it has a handler for; block them and wait synchronously.
    for s in SIGNALS:
        signal.signal(s, lambda *_: None)
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    spec = json.loads((BOOT / "spec.json").read_text())
    install_host_keys()
    if not MARKER.exists():
        provision(spec)
    ensure_mtab()
    os.umask(0o022)
    say("starting services")
    for level in ("S", "2"):
        for script in rc_scripts(level):
            run_rc(script, "start")
    (BOOT / "booted").write_text(f"{time.time()}\n")
    say("boot finished")
    while True:
        info = signal.sigtimedwait(SIGNALS, 5.0)
        reap()
        if info is not None and info.si_signo in (signal.SIGTERM, signal.SIGINT):
            break
    shutdown()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # PID 1 must say why it died; the console log is all there is
        say(f"fatal: {type(e).__name__}: {e}")
        raise
