"""What the built-in lab publishes for the rest of Simpul: a file contract, not an import.

``simpul lab up`` writes ``<lab dir>/published.json`` (``$SIMPUL_LAB_DIR``, default
``/var/lib/simpul/lab``): the inventory it was built from, the NOC *probe point* (the network
namespace from which the lab's data plane is reachable, where a NOC host would stand), the
sinks of the lab's own time-series stores, and the ssh_config / known_hosts it wrote.
``simpul lab down`` removes it. Domains read it here instead of importing ``simpul.lab``
(domains import only the core; see docs/architecture.md).

Example::

    info = for_inventory(Path("inventory/lab"))
    if info:
        netns = info["probe_netns"]
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FILE = "published.json"


def lab_dir() -> Path:
    """The lab's state directory (``$SIMPUL_LAB_DIR``, default ``/var/lib/simpul/lab``)."""
    return Path(os.environ.get("SIMPUL_LAB_DIR") or "/var/lib/simpul/lab")


def published() -> dict[str, Any] | None:
    """The lab's published facts, or ``None`` when the lab is not up (or unreadable)."""
    path = lab_dir() / FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        log.warning("%s: unreadable (%s); ignoring the lab's published facts", path, e)
        return None
    if not isinstance(data, dict):
        return None
    ns = data.get("probe_netns")
    if ns and not Path("/run/netns", str(ns)).exists():
        return None  # stale: the lab is down (crashed without 'lab down')
    return data


def for_inventory(inventory: Path) -> dict[str, Any] | None:
    """The published facts when ``inventory`` is the inventory the running lab was built from."""
    data = published()
    if not data or not data.get("inventory"):
        return None
    try:
        same = Path(inventory).resolve() == Path(str(data["inventory"])).resolve()
    except OSError:
        return None
    return data if same else None


def write(data: dict[str, Any]) -> Path:
    """Publish ``data`` atomically (used by ``simpul lab up``)."""
    path = lab_dir() / FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return path


def remove() -> None:
    """Withdraw the published facts (used by ``simpul lab down``)."""
    (lab_dir() / FILE).unlink(missing_ok=True)
