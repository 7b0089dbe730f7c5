"""InfluxDB line protocol, built as strings (≈4× cheaper than influxdb-client ``Point`` objects).

Timestamps are whole seconds (``precision=s``) assigned when the cycle starts, so a point
delivered twice overwrites itself in InfluxDB/VictoriaMetrics instead of duplicating.

>>> line("interface", {"ifName": "ether 1", "agent_host": "10.0.0.1"}, {"ifHCInOctets": 5}, 1700000000)
'interface,agent_host=10.0.0.1,ifName=ether\\\\ 1 ifHCInOctets=5i 1700000000'

Escaping (the InfluxDB line-protocol reference, checked against influxd 1.6 and VictoriaMetrics
in ``tests/monitoring/test_lineproto_live.py``):

- measurement: ``,`` and space are backslash-escaped; tag keys, tag values and field keys:
  ``,``, ``=`` and space. String field values: ``"`` and ``\\``.
- Line protocol has **no** way to carry a line break (or another control character) in a tag or
  field: a raw newline ends the line and the store rejects the batch (HTTP 400), which would
  dead-letter a whole cycle. Such characters are written the way Telegraf writes them, as the
  two characters ``\\n``, ``\\r``, ``\\t``, or ``\\xHH`` / ``\\uHHHH``, so a multi-line Cisco
  sysDescr arrives as readable text.
- In names and tag values a backslash is literal unless it precedes ``,``, ``=``, space or
  another backslash, or ends the value: there InfluxDB 1.x and VictoriaMetrics disagree (1.x
  rejects a trailing one), so such a backslash is written ``\\x5c``. Every other string — any
  Unicode, quotes, commas, equals signs, spaces — is read back exactly.

Strings from the inventory that become tags (a server's ``role``) are checked by ``simpul
inventory check`` instead (no control characters, no backslash), so they always arrive exactly;
the rewriting above is for what devices send (``ifName``, ``ifDescr``, error texts).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

INT64_MAX = 2**63 - 1

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_NAMED = {"\n": r"\n", "\r": r"\r", "\t": r"\t"}
# a backslash that InfluxDB 1.x and VictoriaMetrics would read differently (or reject)
_BAD_BACKSLASH = re.compile(r"\\(?=[,= \\]|$)")


def _control(m: re.Match[str]) -> str:
    c = m.group(0)
    return _NAMED.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")


def _name(s: str, specials: str) -> str:
    """Escape a measurement, tag key, tag value or field key (``specials``: ``,= `` or ``, ``)."""
    if _CONTROL.search(s):  # first: it adds backslashes, always before a letter
        s = _CONTROL.sub(_control, s)
    if "\\" in s:
        s = _BAD_BACKSLASH.sub(r"\\x5c", s)
    for c in specials:
        if c in s:
            s = s.replace(c, "\\" + c)
    return s


def escape_measurement(s: str) -> str:
    return _name(s, ", ")


def escape_key(s: str) -> str:
    """A tag key, tag value or field key."""
    return _name(s, ",= ")


def escape_string_field(s: str) -> str:
    """The inside of a quoted string field value."""
    s = s.replace("\\", "\\\\").replace('"', '\\"')
    if _CONTROL.search(s):
        s = _CONTROL.sub(_control, s)
    return s


def _field_value(v: object) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        # InfluxDB 1.x integers are signed 64-bit; a Counter64 above 2^63-1 is clamped, as
        # Telegraf does without uint support.
        return f"{max(min(v, INT64_MAX), -INT64_MAX - 1)}i"
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            return None
        return repr(v)
    return f'"{escape_string_field(str(v))}"'


def line(
    measurement: str,
    tags: Mapping[str, str],
    fields: Mapping[str, object],
    timestamp: int,
) -> str | None:
    """One line, tags sorted (Influx's canonical order); ``None`` when no field has a value.

    Empty tag values are left out (line protocol has no empty tag value).
    """
    fs = []
    for k in sorted(fields):
        fv = _field_value(fields[k])
        if fv is not None:
            fs.append(f"{escape_key(k)}={fv}")
    if not fs:
        return None
    ts = "".join(
        f",{escape_key(k)}={escape_key(str(v))}" for k, v in sorted(tags.items()) if str(v) != ""
    )
    return f"{escape_measurement(measurement)}{ts} {','.join(fs)} {int(timestamp)}"
