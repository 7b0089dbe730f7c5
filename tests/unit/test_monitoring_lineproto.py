"""Line protocol encoding (tags escaped, integers typed, Counter64 clamped, fixed timestamps)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simpul.monitoring.lineproto import INT64_MAX, escape_key, escape_string_field, line


def test_escapes_and_types() -> None:
    got = line(
        "interface",
        {"ifName": "Gi0/0, uplink=BTS", "agent_host": "10.0.0.1", "empty": ""},
        {"ifHCInOctets": 5, "ifAlias": 'say "hi"', "rate": 1.5, "flag": True},
        1_700_000_000,
    )
    assert got == (
        r"interface,agent_host=10.0.0.1,ifName=Gi0/0\,\ uplink\=BTS "
        r'flag=true,ifAlias="say \"hi\"",ifHCInOctets=5i,rate=1.5 1700000000'
    )


def test_counter64_above_int64_is_clamped() -> None:
    got = line("interface", {}, {"c": 2**64 - 1}, 1)
    assert got == f"interface c={INT64_MAX}i 1"


def test_no_fields_no_line() -> None:
    assert line("m", {"a": "b"}, {"x": None, "y": float("nan")}, 1) is None


# --- the grammar (issue 9 #8) -------------------------------------------------------------------
# An independent reader of line protocol, written from the InfluxDB line-protocol reference:
# measurement escapes ',' and ' '; tag keys/values and field keys escape ',', '=' and ' '; string
# field values escape '"' and '\'. It is strict where InfluxDB 1.x and VictoriaMetrics disagree: a
# backslash before another backslash or at the end of a name is refused, and so is any raw control
# character (a newline ends the line; the reference allows none in tags or fields).


class Unreadable(Exception):
    pass


def _read_name(s: str, i: int, specials: str, stops: str) -> tuple[str, int]:
    out = []
    while i < len(s) and s[i] not in stops:
        c = s[i]
        if c == "\\":
            nxt = s[i + 1] if i + 1 < len(s) else ""
            if nxt in specials and nxt:
                out.append(nxt)
                i += 2
                continue
            if nxt == "\\" or nxt == "" or nxt in stops:
                raise Unreadable(f"ambiguous backslash at {i} in {s!r}")
        out.append(c)
        i += 1
    return "".join(out), i


def read_line(s: str) -> tuple[str, dict[str, str], dict[str, object], int]:
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in s):
        raise Unreadable(f"raw control character in {s!r}")
    meas, i = _read_name(s, 0, ", ", ", ")
    tags: dict[str, str] = {}
    while i < len(s) and s[i] == ",":
        k, i = _read_name(s, i + 1, ",= ", ",= ")
        if s[i : i + 1] != "=":
            raise Unreadable("tag without '='")
        v, i = _read_name(s, i + 1, ",= ", ", ")
        if not k or not v:
            raise Unreadable("empty tag key or value")
        tags[k] = v
    if s[i : i + 1] != " ":
        raise Unreadable("no field set")
    fields: dict[str, object] = {}
    i += 1
    while True:
        k, i = _read_name(s, i, ",= ", ",= ")
        if s[i : i + 1] != "=":
            raise Unreadable("field without '='")
        i += 1
        if s[i : i + 1] == '"':
            j, val = i + 1, []
            while s[j] != '"':
                if s[j] == "\\" and s[j + 1] in '"\\':
                    val.append(s[j + 1])
                    j += 2
                else:
                    val.append(s[j])
                    j += 1
            fields[k], i = "".join(val), j + 1
        else:
            m = re.match(r"(-?\d+)i|(true|false)|(-?[0-9.e+-]+|inf|nan)", s[i:])
            if not m:
                raise Unreadable(f"bad field value at {i}")
            fields[k] = int(m.group(1)) if m.group(1) else (m.group(2) == "true") if m.group(2) \
                else float(m.group(3))
            i += m.end()
        if s[i : i + 1] == ",":
            i += 1
            continue
        break
    if not re.fullmatch(r" -?\d+", s[i:]):
        raise Unreadable("no timestamp")
    return meas, tags, fields, int(s[i + 1 :])


# Strings that line protocol carries exactly: anything without control characters (and, in names
# and tag values, where no backslash comes before a backslash, a special character or the end).
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def exact_in_name(t: str) -> bool:
    # InfluxDB 1.x and VictoriaMetrics read a backslash before ',', '=', ' ' or '\\', or at the
    # end, differently (or not at all): such a name is not carried exactly
    return not CONTROL.search(t) and not re.search(r"\\([\\,= ]|$)", t)


field_text = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=25)
exact_text = field_text.filter(exact_in_name)
any_text = st.text(st.characters(), min_size=1, max_size=25)
field_values = st.one_of(field_text, st.integers(-(2**63), 2**63 - 1), st.booleans(),
                         st.floats(allow_nan=False, allow_infinity=False))


@settings(max_examples=400, deadline=None)
@given(tags=st.dictionaries(exact_text, exact_text, max_size=4),
       fields=st.dictionaries(exact_text, field_values, min_size=1, max_size=4),
       meas=exact_text)
def test_representable_strings_are_read_back_exactly(
    meas: str, tags: dict[str, str], fields: dict[str, object]
) -> None:
    ln = line(meas, tags, fields, 1_700_000_000)
    assert ln is not None
    assert read_line(ln) == (meas, tags, fields, 1_700_000_000)


@settings(max_examples=400, deadline=None)
@given(tags=st.dictionaries(any_text, any_text, max_size=4),
       fields=st.dictionaries(any_text, any_text, min_size=1, max_size=4), meas=any_text)
def test_any_string_gives_one_readable_line(meas: str, tags: dict[str, str], fields: dict[str, str]) -> None:
    # newlines, trailing backslashes, NULs, lone surrogates: never a broken line or a 400
    ln = line(meas, tags, fields, 1)
    assert ln is not None and "\n" not in ln and "\r" not in ln
    ln.encode("utf-8")  # what the sinks send
    _m, t, f, _ = read_line(ln)
    assert len(t) == len(tags) and len(f) == len(fields)
    for k, v in fields.items():
        if exact_in_name(k) and not CONTROL.search(v):
            assert f[k] == v  # any backslashes and quotes in a string field arrive as they are
    for k, v in tags.items():
        if exact_in_name(k) and exact_in_name(v):
            assert t[k] == v


@pytest.mark.parametrize(("raw", "tag", "field"), [
    ("line1\nline2", r"line1\nline2", r"line1\nline2"),  # Telegraf's convention
    ("a\r\nb\tc", r"a\r\nb\tc", r"a\r\nb\tc"),
    ("role\\", r"role\x5c", "role\\"),  # a trailing backslash (influxd 1.x answers 400)
    ("a\\,b", r"a\x5c,b", "a\\,b"),
    ("a\\b", "a\\b", "a\\b"),
    ("nul\x00", r"nul\x00", r"nul\x00"),
])
def test_what_cannot_be_carried_is_written_as_visible_text(raw: str, tag: str, field: str) -> None:
    ln = line("m", {"t": raw}, {"s": raw}, 1)
    assert ln is not None
    _, tags, fields, _ = read_line(ln)
    assert tags == {"t": tag} and fields == {"s": field}
    assert escape_key(raw) == ln.split(",t=", 1)[1].split(" ", 1)[0]
    assert '"' + escape_string_field(raw) + '"' in ln
