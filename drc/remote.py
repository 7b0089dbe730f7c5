"""Calling ``simpul-backup`` on a server over SSH and reading its one JSON answer.

The NOC never runs restic itself: every repository operation happens on the server that owns
it (the DRC for checks, retention and restores; the source for backups), through the program
``simpul backup deploy`` installed (:data:`simpul.deploys.backup_spec.SCRIPT`). Arguments are
names, IDs and paths only — never a secret.
"""

from __future__ import annotations

import json
import logging
import shlex
from pathlib import Path
from typing import Any

from simpul.deploys.backup_spec import SCRIPT
from simpul.errors import SimpulError
from simpul.inventory.models import Inventory
from simpul.ssh import Target, run, server_target

log = logging.getLogger(__name__)


class RemoteError(SimpulError):
    """``simpul-backup`` on a server reported an error (its message names what)."""


def call(t: Target, *args: str, timeout: float = 3600) -> dict[str, Any]:
    """``sudo simpul-backup ARGS --json`` on ``t``; the parsed JSON document.

    Raises :class:`RemoteError` with the program's own message when it fails, and
    :class:`~simpul.errors.UnreachableError` when the server cannot be reached.
    """
    cmd = " ".join(shlex.quote(a) for a in (SCRIPT, *args, "--json"))
    rc, out, err = run(t, cmd, sudo=True, timeout=timeout)
    doc: Any = None
    for line in reversed(out.strip().splitlines()):
        try:
            doc = json.loads(line)
            break
        except ValueError:
            continue
    if isinstance(doc, dict) and "error" in doc and len(doc) <= 2:
        raise RemoteError(f"{t.name}: {doc['error']}")
    if doc is None or not isinstance(doc, dict):
        if rc == 127 or "No such file" in err or "not found" in err:
            raise RemoteError(f"{t.name}: {SCRIPT} is not installed",
                              hint="run 'simpul backup deploy --apply' first")
        raise RemoteError(f"{t.name}: {args[0]} failed (exit {rc}): {(err or out).strip()[-300:]}")
    doc.setdefault("_rc", rc)
    return doc


def target(inv: Inventory, name: str, known_hosts: Path) -> Target:
    return server_target(inv, name, known_hosts)
