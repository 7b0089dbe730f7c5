"""Lab servers: Debian 12 booted from the shared image in their own namespaces.

A server is an overlayfs clone of the base image (``lab.image.ensure_image``) whose upper/work
dirs live under ``state_dir/servers/<name>/``, booted inside an existing network namespace
(made by the orchestrator) in new mount, pid, uts and ipc namespaces: ``lab/init/stage1.sh``
builds the root filesystem (read-only /proc/sys except /proc/sys/net, read-only /sys, a minimal
/dev, the offline apt repo at /srv/simpul-apt), pivots into it and drops the host-affecting
capabilities (``lab.image.DROPPED_CAPS``); ``lab/init/init.py`` is PID 1: it provisions the
server at its first boot, runs the rc scripts (sshd, snmpd, rsyslog, cron, ...), reaps, and
shuts the services down on SIGTERM.

All mounts live in the server's private mount namespace, so they vanish with it; stopping is
"SIGTERM the server's PID 1, wait, SIGKILL if needed". Files per server::

    state_dir/servers/<name>/
        upper/ work/     overlay dirs (the server's own changes; reset_server wipes them)
        root/            mount point of the overlay (empty when seen from the host)
        boot/            spec.json (0600), host keys and the init, copied into /run/simpul
        unshare.pid      host PID of the ``unshare`` that holds the server's namespaces
        init.pid         host PID of the server's PID 1
        image            which base image the upper dir was made for
        console.log      output of the stage-1 script and the init

Example::

    spec = ServerSpec(name="web-1", netns="slab-web-1", hostname="web-1",
                      mgmt_ip="169.254.100.21", ssh_user="simpul", authorized_key=pub,
                      host_key_dir=state / "keys/web-1", snmp_community="lab-ro",
                      snmp_user="simpul", snmp_auth="authpass123", snmp_priv="privpass123")
    start_server(spec, ensure_image(cache), state)   # returns once sshd answers on :22
    stop_server("web-1", state)
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from .image import DROPPED_CAPS_ARG, repo_dir_for
from .netns import LabError, netns_exists, pid_alive, read_pidfile, run

log = logging.getLogger(__name__)

INIT_DIR = Path(__file__).resolve().parent / "init"
BOOT_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
MGMT_RANGE = "169.254.100.0/24"


@dataclass(frozen=True)
class ServerSpec:
    """Everything needed to boot one lab server (the orchestrator fills it from the inventory).

    ``netns`` must exist, with its interfaces and ``mgmt_ip`` configured. ``host_key_dir`` holds
    ``ssh_host_ed25519_key`` and ``ssh_host_rsa_key`` (+ ``.pub``); missing keys are generated.
    ``snmp_allowed_from`` is the source range of the v2c community (the management LAN).
    """

    name: str
    netns: str
    hostname: str
    mgmt_ip: str
    ssh_user: str
    authorized_key: str
    host_key_dir: Path
    snmp_community: str
    snmp_user: str
    snmp_auth: str
    snmp_priv: str
    snmp_allowed_from: str = MGMT_RANGE


def server_dir(name: str, state_dir: Path) -> Path:
    return Path(state_dir) / "servers" / name


def start_server(spec: ServerSpec, image: Path, state_dir: Path) -> None:
    """Boot ``spec`` from the base image ``image``; return when sshd answers on mgmt_ip:22.

    Idempotent: a running server is left alone. A server whose overlay was made for another
    image is reset first (its upper dir would not match the new lower dir). Raises
    :class:`LabError` (with the tail of the console log) if the server does not come up.
    """
    _check_spec(spec)
    image = Path(image).resolve()
    repo = repo_dir_for(image)
    if not (image / "usr/bin/python3").exists() or not (repo / "Packages").exists():
        raise LabError(f"{spec.name}: {image} is not a lab image (or its -repo dir is missing)",
                       hint="use lab.image.ensure_image()")
    if not netns_exists(spec.netns):
        raise LabError(f"{spec.name}: network namespace {spec.netns} does not exist")
    d = server_dir(spec.name, state_dir)
    d.mkdir(parents=True, exist_ok=True)
    with _locked(d):
        if _find_init(spec.name, d) is not None:
            log.debug("%s: already running", spec.name)
            return
        _stop_locked(spec.name, d)  # leftovers of a crash: stale pidfiles, processes, mounts
        made_for = (d / "image").read_text().strip() if (d / "image").exists() else None
        if made_for and made_for != str(image):
            log.info("%s: image changed (%s -> %s): starting from a fresh overlay", spec.name,
                     Path(made_for).name, image.name)
            _wipe_overlay(d)
        for sub in ("upper", "work", "root"):
            (d / sub).mkdir(exist_ok=True)
        (d / "image").write_text(f"{image}\n")
        _prepare_boot_dir(spec, d)
        t0 = time.monotonic()
        unshare_pid = _spawn(spec, image, repo, d)
        try:
            init_pid = _wait_for_init(spec.name, unshare_pid, d)
            (d / "init.pid").write_text(f"{init_pid}\n")
            _wait_for_sshd(spec, unshare_pid, d)
        except LabError:
            _stop_locked(spec.name, d)
            raise
        log.info("%s: up in %.2f s (sshd on %s:22)", spec.name, time.monotonic() - t0,
                 spec.mgmt_ip)


def stop_server(name: str, state_dir: Path) -> None:
    """Stop server ``name`` (SIGTERM to its PID 1, SIGKILL after a grace time); idempotent.

    Works after a crash: stale pidfiles are ignored (a PID is only signalled if its command
    line still names this server), and leftover mounts under the server dir are unmounted.
    """
    d = server_dir(name, state_dir)
    if not d.exists():
        return
    with _locked(d):
        _stop_locked(name, d)


def server_pids(name: str, state_dir: Path) -> list[int]:
    """Host PIDs of server ``name``: its ``unshare`` holder, its PID 1 and everything inside."""
    d = server_dir(name, state_dir)
    pids: list[int] = []
    holder = _find_unshare(name, d)
    if holder is not None:
        pids.append(holder)
    init = _find_init(name, d)
    if init is not None:
        pids.extend(_pids_in_pidns(init))
    return pids


def reset_server(name: str, state_dir: Path) -> None:
    """Stop server ``name`` and wipe its overlay: the next start boots a fresh server."""
    d = server_dir(name, state_dir)
    if not d.exists():
        return
    with _locked(d):
        _stop_locked(name, d)
        _wipe_overlay(d)
    log.info("%s: reset (overlay wiped)", name)


def server_memory(name: str, state_dir: Path) -> int:
    """Proportional set size (bytes) of all processes of server ``name`` (for benchmarks)."""
    total = 0
    for pid in server_pids(name, state_dir):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
    return total


# --- internals -------------------------------------------------------------------------------

def _check_spec(spec: ServerSpec) -> None:
    for field in ("name", "hostname", "ssh_user", "snmp_community", "snmp_user"):
        value = getattr(spec, field)
        if not value or any(c.isspace() or c in "\"'/\\" for c in value):
            raise LabError(f"{spec.name}: {field} {value!r} must be a non-empty word")
    for field in ("snmp_auth", "snmp_priv"):
        value = getattr(spec, field)
        if len(value) < 8 or '"' in value or "\n" in value:
            raise LabError(f"{spec.name}: {field} must have at least 8 characters and no quotes")
    if "/" in spec.mgmt_ip:
        raise LabError(f"{spec.name}: mgmt_ip {spec.mgmt_ip!r} must be an address, no prefix")


def _prepare_boot_dir(spec: ServerSpec, d: Path) -> None:
    boot = d / "boot"
    if boot.exists():
        shutil.rmtree(boot)
    (boot / "hostkeys").mkdir(parents=True, mode=0o700)
    os.chmod(boot, 0o700)
    _ensure_host_keys(spec)
    for key in ("ssh_host_ed25519_key", "ssh_host_rsa_key"):
        for suffix in ("", ".pub"):
            src = spec.host_key_dir / f"{key}{suffix}"
            if src.exists():
                shutil.copy2(src, boot / "hostkeys" / src.name)
    data = asdict(spec) | {"host_key_dir": str(spec.host_key_dir)}
    fd = os.open(boot / "spec.json", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)
    shutil.copy2(INIT_DIR / "init.py", boot / "init.py")


def _ensure_host_keys(spec: ServerSpec) -> None:
    kd = Path(spec.host_key_dir)
    kd.mkdir(parents=True, exist_ok=True)
    for kind in ("ed25519", "rsa"):
        key = kd / f"ssh_host_{kind}_key"
        if not key.exists():
            log.info("%s: generating %s host key in %s", spec.name, kind, kd)
            run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", f"root@{spec.hostname}",
                 "-f", str(key)])
        elif not key.with_name(key.name + ".pub").exists():
            pub = run(["ssh-keygen", "-y", "-f", str(key)]).stdout
            key.with_name(key.name + ".pub").write_text(pub)


def _spawn(spec: ServerSpec, image: Path, repo: Path, d: Path) -> int:
    console = d / "console.log"
    if console.exists():
        console.replace(d / "console.log.1")
    cmd = ["ip", "netns", "exec", spec.netns,
           "unshare", "--mount", "--pid", "--uts", "--ipc", "--fork", "--kill-child",
           "--propagation", "private", "--",
           "/bin/sh", str(INIT_DIR / "stage1.sh"), spec.name, str(image), str(d), str(repo),
           spec.hostname, DROPPED_CAPS_ARG]
    log.debug("%s: %s", spec.name, " ".join(cmd))
    with console.open("ab") as out:
        # own session: the server outlives the calling process (``simpul lab up`` returns)
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
    (d / "unshare.pid").write_text(f"{proc.pid}\n")
    # ``ip netns exec`` execs unshare: proc.pid is the namespace holder
    return proc.pid


def _wait_for_init(name: str, unshare_pid: int, d: Path) -> int:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for child in _children(unshare_pid):
            return child
        if not pid_alive(unshare_pid):
            break
        time.sleep(0.01)
    raise LabError(f"{name}: the server's PID 1 did not start{_console_tail(d)}")


_PROBE = r"""
import socket, sys, time
ip, deadline = sys.argv[1], time.monotonic() + float(sys.argv[2])
while time.monotonic() < deadline:
    try:
        with socket.create_connection((ip, 22), timeout=1) as s:
            if s.recv(64).startswith(b"SSH-"):
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.05)
sys.exit(1)
"""


def _wait_for_sshd(spec: ServerSpec, unshare_pid: int, d: Path) -> None:
    """Wait for the SSH banner on mgmt_ip:22, probing from inside the server's netns."""
    deadline = time.monotonic() + BOOT_TIMEOUT
    while time.monotonic() < deadline:
        if not pid_alive(unshare_pid):
            raise LabError(f"{spec.name}: the server stopped during boot{_console_tail(d)}")
        cp = run([sys.executable, "-c", _PROBE, spec.mgmt_ip, "2"], ns=spec.netns, check=False,
                 timeout=10)
        if cp.returncode == 0:
            return
    raise LabError(f"{spec.name}: sshd did not answer on {spec.mgmt_ip}:22 within "
                   f"{BOOT_TIMEOUT:.0f} s{_console_tail(d)}")


def _stop_locked(name: str, d: Path) -> None:
    init = _find_init(name, d)
    holder = _find_unshare(name, d)
    if init is not None:
        t0 = time.monotonic()
        with contextlib.suppress(ProcessLookupError):
            os.kill(init, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while pid_alive(init) and time.monotonic() < deadline:
            time.sleep(0.05)
        if pid_alive(init):
            log.warning("%s: PID 1 (%d) ignored SIGTERM for %.0f s: killing the server", name,
                        init, STOP_TIMEOUT)
            with contextlib.suppress(ProcessLookupError):
                os.kill(init, signal.SIGKILL)  # the kernel kills the whole pid namespace
        log.info("%s: stopped in %.2f s", name, time.monotonic() - t0)
    if holder is not None:
        deadline = time.monotonic() + 5
        while pid_alive(holder) and time.monotonic() < deadline:
            time.sleep(0.05)
        if pid_alive(holder):
            with contextlib.suppress(ProcessLookupError):
                os.kill(holder, signal.SIGKILL)
    _unmount_below(d)
    for f in ("init.pid", "unshare.pid"):
        (d / f).unlink(missing_ok=True)


def _find_unshare(name: str, d: Path) -> int | None:
    pid = read_pidfile(d / "unshare.pid")
    if pid is None or not pid_alive(pid):
        return None
    cmdline = _cmdline(pid)
    if "unshare" in cmdline and str(INIT_DIR / "stage1.sh") in cmdline and name in cmdline:
        return pid
    return None


def _find_init(name: str, d: Path) -> int | None:
    """Host PID of the server's PID 1, if it is alive and really ours."""
    candidates = []
    pid = read_pidfile(d / "init.pid")
    if pid is not None:
        candidates.append(pid)
    holder = _find_unshare(name, d)
    if holder is not None:
        candidates.extend(_children(holder))
    for pid in candidates:
        if not pid_alive(pid):
            continue
        cmdline = _cmdline(pid)
        is_ours = (cmdline[-2:] == ["/run/simpul/init.py", name]
                   or (str(INIT_DIR / "stage1.sh") in cmdline and name in cmdline))
        if is_ours and _nspid(pid) == 1:
            return pid
    return None


def _pids_in_pidns(init: int) -> list[int]:
    try:
        target = os.stat(f"/proc/{init}/ns/pid").st_ino
    except OSError:
        return []
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if os.stat(f"/proc/{entry}/ns/pid").st_ino == target:
                    pids.append(int(entry))
    return sorted(pids)


def _children(pid: int) -> list[int]:
    out: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            text = Path(f"/proc/{pid}/task/{task}/children").read_text()
            out.extend(int(x) for x in text.split())
    return out


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def _nspid(pid: int) -> int | None:
    """The PID of ``pid`` in its innermost pid namespace."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("NSpid:"):
                return int(line.split()[-1])
    except OSError:
        return None
    return None


def _unmount_below(d: Path) -> None:
    """Unmount anything mounted under ``d`` in our mount namespace (older layouts, debris)."""
    prefix = str(d.resolve()) + "/"
    mounts = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            mp = line.split()[4].replace("\\040", " ")
            if mp.startswith(prefix):
                mounts.append(mp)
    for mp in sorted(mounts, key=len, reverse=True):
        log.warning("unmounting leftover %s", mp)
        run(["umount", "-l", mp], check=False)


def _wipe_overlay(d: Path) -> None:
    for sub in ("upper", "work"):
        p = d / sub
        if p.exists():
            # --one-file-system: never follow into something mounted below (there should be
            # nothing, but a wrong path must not become `rm -rf` of the host)
            run(["rm", "-rf", "--one-file-system", "--", str(p)], timeout=300)
    (d / "image").unlink(missing_ok=True)


def _console_tail(d: Path, lines: int = 15) -> str:
    try:
        tail = (d / "console.log").read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return ""
    return "; console.log:\n  " + "\n  ".join(tail) if tail else ""


@contextlib.contextmanager
def _locked(d: Path) -> Iterator[None]:
    with (d / "lock").open("w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
