"""Gauge files: other Simpul jobs hand the poller a few numbers to store beside SNMP data.

A job that knows something the NOC should graph and alert on — e.g. ``simpul backup status``
(the age of the newest backup against its RPO) — writes one JSON file into
``<state_dir>/gauges/`` and the poller turns it into line protocol at every cycle. The
monitoring domain does not import the job (domains stay independent); the file is the
contract (docs/drc.md, "Freshness in the NOC"):

.. code-block:: json

    {"format": "simpul-gauges/1", "measurement": "backup", "generated": 1760000000.0,
     "expires": 1760086400.0,
     "points": [{"tags": {"policy": "simpeg-db", "host": "pd-db"},
                 "fields": {"target_s": 900, "ok": 1},
                 "ages": {"age_s": 1759999100.5}}]}

``ages`` are UNIX timestamps that become *ages in seconds at poll time* (``now - t``), so a
freshness alert keeps rising between two runs of the job. A file past ``expires`` (its job
stopped running) yields nothing but the field ``stale=1`` per point, so the silence is seen.
Unreadable or malformed files are skipped with a warning; they never stop a poll cycle.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from .lineproto import line

log = logging.getLogger(__name__)

FORMAT = "simpul-gauges/1"


def gauge_lines(directory: Path, now: float) -> list[str]:
    """Line protocol for every ``*.json`` gauge file in ``directory`` (missing dir: none)."""
    if not directory.is_dir():
        return []
    out: list[str] = []
    for f in sorted(directory.glob("*.json")):
        try:
            doc = json.loads(f.read_text())
            out += document_lines(doc, now)
        except (OSError, ValueError, KeyError, TypeError) as e:
            log.warning("gauge file %s skipped: %s", f, e)
    return out


def document_lines(doc: dict[str, Any], now: float) -> list[str]:
    """The lines of one gauge document (pure)."""
    if doc.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} document")
    meas = str(doc["measurement"])
    expired = bool(doc.get("expires")) and now > float(doc["expires"])
    out = []
    for p in doc.get("points", []):
        tags = {str(k): str(v) for k, v in (p.get("tags") or {}).items()}
        if expired:
            fields: dict[str, object] = {"stale": 1}
        else:
            fields = dict(p.get("fields") or {})
            for name, t in (p.get("ages") or {}).items():
                fields[name] = round(now - float(t), 1)
        ln = line(meas, tags, fields, int(now))
        if ln:
            out.append(ln)
    return out
