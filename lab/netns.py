"""Small, explicit wrappers around ``ip`` for the lab: namespaces, veths, addresses, PIDs.

Everything the lab creates carries the lab prefix (``LabNames.prefix``), so ``down`` can find
and remove exactly what ``up`` made — also after a crash — and nothing else.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Self

from simpul.errors import SimpulError

log = logging.getLogger(__name__)


class LabError(SimpulError):
    """A lab step failed; the message names the step."""


def run(cmd: Sequence[str], *, check: bool = True, ns: str | None = None,
        input: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run a command (inside namespace ``ns`` if given); raise :class:`LabError` on failure."""
    full = ["ip", "netns", "exec", ns, *cmd] if ns else list(cmd)
    log.debug("run: %s", " ".join(full))
    try:
        cp = subprocess.run(full, capture_output=True, text=True, input=input, timeout=timeout,
                            check=False)
    except FileNotFoundError as e:
        raise LabError(f"{full[0]}: command not found", hint="run scripts/setup") from e
    except subprocess.TimeoutExpired as e:
        raise LabError(f"'{' '.join(full)}' timed out after {timeout:.0f} s") from e
    if check and cp.returncode != 0:
        raise LabError(f"'{' '.join(full)}' failed ({cp.returncode}): {cp.stderr.strip()[:500]}")
    return cp


def list_netns() -> list[str]:
    cp = run(["ip", "netns", "list"], check=False)
    return [line.split()[0] for line in cp.stdout.splitlines() if line.strip()]


def netns_exists(name: str) -> bool:
    return Path("/run/netns", name).exists()


def add_netns(name: str) -> None:
    if not netns_exists(name):
        run(["ip", "netns", "add", name])
    ip(["link", "set", "dev", "lo", "up"], name)


def netns_pids(name: str) -> list[int]:
    cp = run(["ip", "netns", "pids", name], check=False)
    return [int(x) for x in cp.stdout.split() if x.isdigit()]


def del_netns(name: str) -> None:
    if netns_exists(name):
        run(["ip", "netns", "del", name], check=False)


def ip(args: Sequence[str], ns: str | None = None, *, check: bool = True
       ) -> subprocess.CompletedProcess[str]:
    """``ip [-n ns] args`` — cheaper than ``ip netns exec`` (no mount namespace, no exec)."""
    return run(["ip", *(["-n", ns] if ns else []), *args], check=check)


def link_exists(name: str, ns: str | None = None) -> bool:
    return ip(["link", "show", "dev", name], ns, check=False).returncode == 0


def links(ns: str | None = None) -> list[str]:
    """Interface names in ``ns`` (root if None), without the ``@peer`` suffix."""
    cp = ip(["-o", "link", "show"], ns, check=False)
    out = []
    for line in cp.stdout.splitlines():
        parts = line.split(":", 2)
        if len(parts) >= 2:
            out.append(parts[1].strip().split("@")[0])
    return out


def del_link(name: str, ns: str | None = None) -> None:
    if link_exists(name, ns):
        ip(["link", "del", "dev", name], ns, check=False)


def add_bridge(name: str, ns: str | None = None) -> None:
    """A plain Linux bridge, STP off, forwarding at once (no 30 s learning delay)."""
    if not link_exists(name, ns):
        ip(["link", "add", "name", name, "type", "bridge", "stp_state", "0",
            "forward_delay", "0"], ns)
    ip(["link", "set", "dev", name, "up"], ns)


def set_master(dev: str, bridge: str, ns: str | None = None) -> None:
    ip(["link", "set", "dev", dev, "master", bridge, "up"], ns)


def set_isolated(dev: str, ns: str | None = None) -> None:
    """Make bridge port ``dev`` isolated: the bridge forwards nothing between isolated ports."""
    ip(["link", "set", "dev", dev, "type", "bridge_slave", "isolated", "on"], ns)


def add_veth(a: str, b: str, *, ns_a: str | None = None, ns_b: str | None = None) -> None:
    """Create veth pair ``a``/``b`` with each end born in its namespace (None = root).

    The ends are created directly in their namespaces (``ip link add ... netns``), so a name
    used inside a lab namespace (``eth0``) never collides with an interface of the host.
    Idempotent: if ``a`` exists in ``ns_a`` nothing is done.
    """
    if link_exists(a, ns_a):
        return
    cmd = ["ip", "link", "add", a]
    if ns_a:
        cmd += ["netns", ns_a]
    cmd += ["type", "veth", "peer", "name", b]
    if ns_b:
        cmd += ["netns", ns_b]
    run(cmd)


def addr_add(dev: str, cidr: str, ns: str | None = None) -> None:
    cp = ip(["addr", "add", cidr, "dev", dev], ns, check=False)
    if cp.returncode != 0 and not any(m in cp.stderr for m in ("File exists",
                                                               "already assigned")):
        raise LabError(f"ip addr add {cidr} dev {dev} ({ns or 'root'}): {cp.stderr.strip()}")


def link_up(dev: str, ns: str | None = None) -> None:
    ip(["link", "set", "dev", dev, "up"], ns)


def link_down(dev: str, ns: str | None = None) -> None:
    ip(["link", "set", "dev", dev, "down"], ns)


def sysctl(key: str, value: str, ns: str) -> None:
    """Set a per-namespace ``net.*`` sysctl inside ``ns`` and read it back.

    ``sysctl -w`` can exit 0 on EINVAL, so the value is verified (LAB-FACTS).
    """
    if not key.startswith("net."):
        raise LabError(f"refusing to set {key} from the lab: only net.* sysctls are per namespace")
    run(["sysctl", "-qw", f"{key}={value}"], ns=ns)
    got = run(["sysctl", "-n", key], ns=ns).stdout.strip()
    if got != value:
        raise LabError(f"{ns}: {key} is {got} after setting it to {value}")


def kill_pids(pids: Sequence[int], *, grace: float = 5.0, hard: bool = False) -> None:
    """SIGTERM the given PIDs, wait up to ``grace`` seconds, then SIGKILL survivors
    (``hard``: SIGKILL at once, then wait up to ``grace`` for them to be gone)."""
    alive = []
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL if hard else signal.SIGTERM)
            alive.append(pid)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if _alive(p)]
        if alive:
            time.sleep(0.05)
    for pid in alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    """The lab's one definition of a live process: it has a /proc entry and is neither a
    zombie (Z) nor dead (X). A zombie is gone for our purposes: it holds no sockets or files."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # the command name (field 2) may contain ')' and spaces: the state follows the last ')'
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def read_pidfile(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def pid_alive(pid: int | None) -> bool:
    """True if ``pid`` runs and is not a zombie."""
    return pid is not None and pid > 0 and _alive(pid)


def pid_cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def pid_netns_inode(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


def is_mountpoint(path: Path) -> bool:
    """True if ``path`` is a mount point (listed in /proc/self/mountinfo)."""
    target = str(path)
    try:
        with open("/proc/self/mountinfo") as f:
            return any(line.split()[4] == target for line in f)
    except OSError:
        return False


def spawn(cmd: Sequence[str], *, log_file: Path, ns: str | None = None,
          hostname: str | None = None, env: dict[str, str] | None = None) -> int:
    """Start a long-running lab process detached from us; return its PID.

    The process runs inside network namespace ``ns`` and, with ``hostname``, in its own UTS
    namespace with that hostname (so prompts and sysName show the lab host, not the machine).
    Every wrapper ``exec``-s, so the returned PID is the daemon's own. It is not our child
    (a short-lived ``sh`` backgrounds it), so it survives the CLI and leaves no zombie.
    """
    inner = list(cmd)
    if hostname:
        inner = ["unshare", "--uts", "--", "sh", "-c", 'hostname "$0" && exec "$@"', hostname,
                 *inner]
    if ns:
        inner = ["ip", "netns", "exec", ns, *inner]
    script = 'log="$1"; shift; "$@" </dev/null >>"$log" 2>&1 & echo $!'
    full_env = {**os.environ, **(env or {})}
    cp = subprocess.run(["sh", "-c", script, "spawn", str(log_file), *inner], capture_output=True,
                        text=True, env=full_env, check=False, timeout=30)
    try:
        return int(cp.stdout.strip())
    except ValueError as e:
        raise LabError(f"could not start {' '.join(cmd)}: {cp.stderr.strip()}") from e


def wait_for(pred: Callable[[], bool], *, timeout: float, what: str, step: float = 0.05) -> None:
    """Poll ``pred`` until true; raise :class:`LabError` naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        if pred():
            return
        if time.monotonic() > deadline:
            raise LabError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(step)


# --- slots and lifecycles of private lab pieces (private labs, twins) ---------------------------

LOCK_DIR = Path("/run/lock")


def try_slot(kind: str, k: int) -> int | None:
    """Lock slot ``k`` of ``kind`` (``/run/lock/simpul-<kind>-<k>.lock``, flock): the open fd
    that holds it, or None if someone else holds it. Closing the fd (or dying) frees it."""
    import fcntl

    fd = os.open(LOCK_DIR / f"simpul-{kind}-{k}.lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def take_slot(kind: str, slots: int) -> tuple[int, int]:
    """The first free slot of ``kind`` among ``slots``: (slot, fd holding it)."""
    for k in range(slots):
        fd = try_slot(kind, k)
        if fd is not None:
            return k, fd
    raise LabError(f"all {slots} {kind} slots are in use", hint="wait for a running one to finish")


class UpDown:
    """``with thing as t``: ``up()`` on entry (``close()`` at once if ``up`` fails half-way),
    ``close()`` on exit."""

    def up(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        try:
            self.up()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
