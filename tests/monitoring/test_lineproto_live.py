"""Line protocol against the real stores on loopback: influxd 1.x (Debian's) and VictoriaMetrics.

Every string the inventory or a device can put in a tag or a field — commas, equals signs,
spaces, quotes, Unicode, newlines, tabs, NULs, trailing backslashes — goes out in ONE batch
through the same sinks ``simpul poll`` uses: the batch is accepted (no HTTP 400, nothing
dead-lettered) and every value is read back exactly (the ones line protocol cannot carry, as
the visible text documented in simpul.monitoring.lineproto).
"""

from __future__ import annotations

import json
import random
import re
import time
import urllib.parse
import urllib.request
from typing import Any

import pytest

from simpul.monitoring.lineproto import line
from simpul.monitoring.sinks import InfluxV1Sink, InfluxV2Sink

pytestmark = pytest.mark.slow

FIXED = [
    "plain", "web server, lantai 2", "a=b", "with space", 'say "hi"', "it's", "é€🙂 ñ ü",
    "Dinas Komunikasi dan Informatika", "x,y=z w", "#not-a-comment", "-", "ends with space ",
    "a\\b", "C:\\path\\to", "\\leading",
    # what line protocol cannot carry, written as visible text
    "line1\nline2", "Cisco IOS Software, C2960\r\nCopyright (c) 1986-2010", "tab\there",
    "trailing\\", "back\\,slash", "double\\\\", "nul\x00end", "bell\x07",
]
VISIBLE = {  # tag value as stored, for the strings above that cannot be carried as they are
    "line1\nline2": "line1\\nline2",
    "Cisco IOS Software, C2960\r\nCopyright (c) 1986-2010":
        "Cisco IOS Software, C2960\\r\\nCopyright (c) 1986-2010",
    "tab\there": "tab\\there",
    "trailing\\": "trailing\\x5c",
    "back\\,slash": "back\\x5c,slash",
    "double\\\\": "double\\x5c\\x5c",
    "nul\x00end": "nul\\x00end",
    "bell\x07": "bell\\x07",
}
FIELD_VISIBLE = {k: v for k, v in VISIBLE.items() if "\\x5c" not in v} | {
    "trailing\\": "trailing\\", "back\\,slash": "back\\,slash", "double\\\\": "double\\\\"}


def representable(t: str) -> bool:
    """No control character, no backslash before a backslash/special or at the end."""
    return not re.search(r"[\x00-\x1f\x7f-\x9f]", t) and not re.search(r"\\([\\,= ]|$)", t)


def strings() -> list[str]:
    # plus a fixed pseudo-random sample of printable ASCII and some Unicode
    rnd = random.Random(20260901)
    chars = [chr(c) for c in (*range(0x20, 0x7F), 0xE9, 0x20AC, 0x1F642, 0x4E2D, 0x0627)]
    extra: set[str] = set()
    while len(extra) < 60:
        t = "".join(rnd.choice(chars) for _ in range(rnd.randint(1, 20)))
        if representable(t) and t.strip():
            extra.add(t)
    return [*FIXED, *sorted(extra)]


def expected_tag(s: str) -> str:
    assert s in VISIBLE or representable(s), s
    return VISIBLE.get(s, s)


def _query(url: str, db: str, q: str) -> list[Any]:
    u = f"{url}/query?" + urllib.parse.urlencode({"db": db, "q": q, "epoch": "s"})
    with urllib.request.urlopen(u, timeout=10) as r:
        res = json.loads(r.read())["results"][0]
    assert "error" not in res, res
    return list(res.get("series", [{"values": []}])[0]["values"])


def _batch(texts: list[str]) -> list[str]:
    out = []
    for i, s in enumerate(texts):
        ln = line("lp_check", {"device": "core-1", "role": s, "ifName": s}, {"k": i, "s": s},
                  1_700_000_000 + i)
        assert ln is not None
        out.append(ln)
    return out


def test_influxd_accepts_the_batch_and_reads_every_value_back(influxd) -> None:  # type: ignore[no-untyped-def]
    texts = strings()
    db = f"lp_{int(time.time())}"
    InfluxV1Sink(influxd.url, db).write(_batch(texts))  # raises SinkError on HTTP 400
    rows = _query(influxd.url, db, "SELECT k, s, role, ifName FROM lp_check")
    got = {k: (s, role, ifname) for _t, k, s, role, ifname in rows}
    assert len(got) == len(texts)
    for i, text in enumerate(texts):
        s, role, ifname = got[i]
        want = expected_tag(text)
        assert (role, ifname) == (want, want), (text, role)
        # string fields carry backslashes and quotes exactly; control characters as text
        field = FIELD_VISIBLE.get(text, text)
        assert s == field, (text, s)


def test_victoriametrics_accepts_the_batch_and_reads_every_tag_back(victoria) -> None:  # type: ignore[no-untyped-def]
    texts = strings()
    bucket = f"lp_{int(time.time())}"
    sink = InfluxV2Sink(victoria.url, bucket)
    try:
        sink.write(_batch(texts))
    finally:
        sink.close()
    deadline = time.monotonic() + 15
    while True:
        series = victoria.export('{__name__="lp_check_k"}')
        if len(series) >= len(texts) or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    got = {int(s["values"][0]): s["metric"] for s in series}
    assert len(got) == len(texts)
    for i, text in enumerate(texts):
        want = expected_tag(text)
        assert got[i]["role"] == want and got[i]["ifName"] == want, (text, got[i])
