"""Small, explicit wrappers around ``ip`` for the lab: namespaces, veths, addresses, PIDs.

Everything the lab creates carries the lab prefix (``LabNames.prefix``), so ``down`` can find
and remove exactly what ``up`` made — also after a crash — and nothing else.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

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
    run(["ip", "link", "set", "lo", "up"], ns=name)


def netns_pids(name: str) -> list[int]:
    cp = run(["ip", "netns", "pids", name], check=False)
    return [int(x) for x in cp.stdout.split() if x.isdigit()]


def del_netns(name: str) -> None:
    if netns_exists(name):
        run(["ip", "netns", "del", name], check=False)


def link_exists(name: str, ns: str | None = None) -> bool:
    return run(["ip", "link", "show", name], ns=ns, check=False).returncode == 0


def add_veth(a: str, b: str, *, ns_a: str | None = None, ns_b: str | None = None) -> None:
    """Create veth pair ``a``/``b`` and move each end to its namespace (None = root)."""
    if link_exists(a, ns_a):
        return
    run(["ip", "link", "add", a, "type", "veth", "peer", "name", b])
    if ns_a:
        run(["ip", "link", "set", a, "netns", ns_a])
    if ns_b:
        run(["ip", "link", "set", b, "netns", ns_b])


def addr_add(dev: str, cidr: str, ns: str | None = None) -> None:
    cp = run(["ip", "addr", "add", cidr, "dev", dev], ns=ns, check=False)
    if cp.returncode != 0 and "File exists" not in cp.stderr:
        raise LabError(f"ip addr add {cidr} dev {dev} ({ns or 'root'}): {cp.stderr.strip()}")


def link_up(dev: str, ns: str | None = None) -> None:
    run(["ip", "link", "set", dev, "up"], ns=ns)


def kill_pids(pids: Sequence[int], *, grace: float = 5.0) -> None:
    """SIGTERM the given PIDs, wait up to ``grace`` seconds, then SIGKILL survivors."""
    alive = []
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
            alive.append(pid)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if _alive(p)]
        if alive:
            time.sleep(0.05)
    for pid in alive:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone for our purposes
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def read_pidfile(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None
