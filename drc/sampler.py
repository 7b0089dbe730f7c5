"""The failover drill's observer on each database server (runs there, as root, stdlib only).

:mod:`simpul.drc.failover` sends this file over SSH — through the management network, which the
drill never cuts — to every database member and reads one JSON line per sample:

``{"t": ..., "node": "pd-db", "vip": true, "role": "master", "state": "running", "writable": true}``

- ``vip``: the service address is on the member's interface (the VIP must never be on two sites);
- ``role``/``state``: what the member's Patroni says of itself (``GET /patroni``);
- ``writable``: PostgreSQL on this member accepts writes (``NOT pg_is_in_recovery()`` over the
  local socket) — how the drill sees an isolated primary stop accepting writes.

The first stdin line is JSON (node, vip, interface, api, interval, max_seconds); a line ``stop``
or EOF ends it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.request
from typing import Any


def sample(cfg: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"t": time.time(), "node": cfg["node"]}
    try:
        cp = subprocess.run(["ip", "-o", "-4", "addr", "show", "dev", cfg["interface"]],
                            capture_output=True, text=True, timeout=2, check=False)
        out["vip"] = any(w.split("/")[0] == cfg["vip"] for w in cp.stdout.split())
    except (OSError, subprocess.TimeoutExpired):
        out["vip"] = None
    try:
        with urllib.request.urlopen(cfg["api"], timeout=0.8) as r:  # noqa: S310 - http://<member>:8008
            body = json.loads(r.read().decode() or "{}")
    except Exception as e:  # 503 on a replica still carries the JSON body
        body = {}
        read = getattr(e, "read", None)
        if callable(read):
            try:
                body = json.loads(read().decode() or "{}")
            except ValueError:
                body = {}
        if not body:
            out["api_error"] = type(e).__name__
    out["role"] = body.get("role")
    out["state"] = body.get("state")
    out["timeline"] = body.get("timeline")
    try:
        cp = subprocess.run(["runuser", "-u", "postgres", "--", "psql", "-X", "-Atq", "-h",
                             "/var/run/postgresql", "-p", str(cfg.get("port", 5432)), "-d", "postgres",
                             "-c", "SELECT NOT pg_is_in_recovery()"],
                            capture_output=True, text=True, timeout=1.5, check=False)
        out["writable"] = cp.stdout.strip() == "t" if cp.returncode == 0 else False
    except (OSError, subprocess.TimeoutExpired):
        out["writable"] = False
    return out


def main() -> int:
    cfg = json.loads(sys.stdin.readline())
    stop = threading.Event()

    def watch() -> None:
        for line in sys.stdin:
            if line.strip() == "stop":
                break
        stop.set()

    threading.Thread(target=watch, daemon=True).start()
    end = time.monotonic() + float(cfg.get("max_seconds", 900))
    interval = float(cfg.get("interval", 0.5))
    while not stop.is_set() and time.monotonic() < end:
        t0 = time.monotonic()
        sys.stdout.write(json.dumps(sample(cfg), separators=(",", ":")) + "\n")
        sys.stdout.flush()
        stop.wait(max(0.0, interval - (time.monotonic() - t0)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
