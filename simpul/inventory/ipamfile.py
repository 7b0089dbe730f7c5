"""``ipam.yaml``: the IP allocations and reservations, one entry per line, read fast.

The file lives at the top of the inventory directory and is part of the inventory (the one
source of truth): ``simpul inventory check`` validates it with everything else, and a reviewer
reads every change as one added or removed line in a git diff::

    allocations:
      - {prefix: 10.199.32.64/28, purpose: desa-lan, for: desa-ngadimulyo, by: ani@noc, at: "2026-05-04T02:10:00Z", why: SK Bupati 12/2026}
      - {address: 10.199.64.14, site: pusat-data, for: pd-web-2, by: budi@noc, at: "2026-05-04T03:00:00Z", why: second web server}
    reservations:
      - {range: 10.199.16.40-10.199.16.62, site: dinkes, kind: dhcp, by: ani@noc, at: "2026-05-04T02:00:00Z", why: DHCP pool}
    released:
      - {was: allocation, prefix: 10.199.0.32/30, purpose: link, for: core-old, by: ..., released_by: ..., released_at: ..., released_why: ...}

Why a reader of its own: PyYAML needs ~175 ms for 2,000 such lines, and ``simpul ipam
allocate --apply`` re-reads the file under the lock on every allocation. Lines written in the
canonical form (what :func:`render` writes: a flow mapping per line, plain values that YAML
reads as strings, other values JSON-quoted, which is valid YAML) are parsed here with a regex
and cached by their text; **anything else** (block style, comments between entries, an odd
value) makes :func:`read` fall back to the full YAML loader, so a hand edit is never misread —
only slower until the next ``simpul ipam`` write puts the file back in canonical form.
``tests/unit/test_ipam_file.py`` checks that both paths give the same data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from simpul.inventory.source import KeyPath, Origin, Problem, load_yaml

IPAM_FILE = "ipam.yaml"
SECTIONS = ("allocations", "reservations", "released")
KEY_ORDER = ("was", "prefix", "address", "range", "purpose", "kind", "for", "site", "by", "at", "why",
             "released_by", "released_at", "released_why")

DEFAULT_HEADER = """\
# IP allocations and reservations of the Jaringan Intra: Dinkominfo's IP numbering authority
# (Perbup Temanggung 83/2021 Pasal 21). Written by `simpul ipam` under a lock, one entry per line,
# so every change is one line in a git diff. Hand edits are fine: `simpul inventory check`
# validates them with the rest of the inventory (right supernet, no overlap, the site exists).
# Addresses already written in sites/devices/links/servers count as used without an entry here.
"""

SECTION_LINE = _SECTION = re.compile(r"^(allocations|reservations|released):[ \t]*(\[\])?[ \t]*(?:#.*)?$")
_ENTRY = re.compile(r"^  - \{(.*)\}[ \t]*$")
# One ``key: value`` pair of a flow mapping: a JSON string (also a YAML double-quoted scalar)
# or a plain scalar without the characters that mean something in a YAML flow context.
_PAIR = re.compile(
    r'[ ]?([a-z_]+): ("(?:[^"\\]|\\["\\/bfnrt]|\\u(?![dD][89abAB])[0-9a-fA-F]{4})*"'
    r"|[A-Za-z0-9_.(/][^,\[\]{}#:?\"'\\]*?)[ ]*(,|$)"
)
_PLAIN_OUT = re.compile(r"[A-Za-z0-9_.(/][^,\[\]{}#:?\"'\\]*")  # PyYAML ends flow scalars at ?
_STR_TAG = "tag:yaml.org,2002:str"
_resolver = yaml.resolver.Resolver()
_line_cache: dict[str, dict[str, str] | None] = {}


@dataclass
class Entry:
    """One entry as read: its line number, the line's text (cache key) and its data."""

    line: int
    text: str
    data: Any  # a mapping when the file is sane; anything else is reported by the loader


@dataclass
class IpamDoc:
    """The parsed file: the leading comment block and the entries of each section."""

    header: str = DEFAULT_HEADER
    sections: dict[str, list[Entry]] = field(default_factory=lambda: {s: [] for s in SECTIONS})
    origins: dict[KeyPath, Origin] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    other: dict[str, Any] = field(default_factory=dict)  # non-IPAM sections (only via YAML)
    fast: bool = True


def _plain_is_str(v: str) -> bool:
    tag: str = _resolver.resolve(yaml.ScalarNode, v, (True, False))  # type: ignore[no-untyped-call]
    return tag == _STR_TAG


def parse_line(text: str) -> dict[str, str] | None:
    """The mapping on one canonical entry line, or None if the line is not canonical."""
    if text in _line_cache:
        return _line_cache[text]
    out = _parse_line(text)
    if len(_line_cache) > 200_000:
        _line_cache.clear()
    _line_cache[text] = out
    return out


def _parse_line(text: str) -> dict[str, str] | None:
    if not text.isprintable():
        return None
    m = _ENTRY.match(text)
    if m is None:
        return None
    body = m.group(1)
    out: dict[str, str] = {}
    pos = 0
    while pos < len(body):
        pm = _PAIR.match(body, pos)
        if pm is None:
            return None
        key, raw, sep = pm.groups()
        if key in out:
            return None  # a duplicate key: let the YAML loader report it
        if raw.startswith('"'):
            try:
                val = json.loads(raw)
            except ValueError:
                return None
        else:
            val = raw.strip()
            if not val or not _plain_is_str(val):
                return None
        out[key] = val
        pos = pm.end()
        if sep == "":
            break
        if pos >= len(body):
            return None  # trailing comma
    return out if pos >= len(body) and out else None


def read(path: Path, display: str, text: str | None = None) -> IpamDoc:
    """Read ``ipam.yaml`` (or ``text``, its content): the fast line reader, or the YAML loader
    for a non-canonical file."""
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return _read_yaml(path, display)
    doc = IpamDoc(header="")
    lines = text.split("\n")
    section: str | None = None
    empty_marker = False
    header_done = False
    header: list[str] = []
    entries: list[Entry] | None = None
    origins = doc.origins
    for n, line in enumerate(lines, 1):
        if line.startswith("  - {") and entries is not None and not empty_marker:
            data = _line_cache.get(line)
            if data is None:
                data = parse_line(line)
                if data is None:
                    return _read_yaml(path, display)
            origins[(section, len(entries))] = Origin(display, n)  # type: ignore[index]
            entries.append(Entry(n, line, data))
            continue
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            if not header_done and stripped.startswith("#"):
                header.append(line)
            elif section is not None and stripped:
                return _read_yaml(path, display)  # a comment between entries: keep YAML's view
            continue
        header_done = True
        sm = _SECTION.match(line)
        if sm:
            name = sm.group(1)
            if (name,) in origins:
                return _read_yaml(path, display)  # defined twice: the YAML path reports it
            section, empty_marker = name, sm.group(2) is not None
            entries = doc.sections[name]
            origins[(name,)] = Origin(display, n)
            continue
        return _read_yaml(path, display)
    if not doc.origins:
        return _read_yaml(path, display)  # no section at all (or an empty file): YAML says why
    doc.header = "\n".join(header) + "\n" if header else ""
    return doc


def _read_yaml(path: Path, display: str) -> IpamDoc:
    data, origins, problems = load_yaml(path, display)
    doc = IpamDoc(header=_header_of(path), origins=origins, problems=problems, fast=False)
    if not isinstance(data, dict):
        if data is not None:
            doc.problems.append(Problem(display, 1, "", "the top level must be a mapping of sections "
                                        "(allocations:, reservations:, released:)"))
        return doc
    for sec, value in data.items():
        if sec not in SECTIONS:
            doc.other[sec] = value
            continue
        if value is None:
            continue
        if not isinstance(value, list):
            doc.problems.append(Problem(display, origins[(sec,)].line, sec,
                                        "must be a list of entries: - {prefix: ..., for: ..., ...}"))
            continue
        for i, item in enumerate(value):
            line = origins.get((sec, i), origins[(sec,)]).line
            doc.sections[sec].append(Entry(line, "", item))
    return doc


def _header_of(path: Path) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").split("\n")
    except OSError:
        return DEFAULT_HEADER
    head = []
    for line in lines:
        if line.strip().startswith("#"):
            head.append(line)
        elif line.strip():
            break
    return "\n".join(head) + "\n" if head else ""


# --- writing ---------------------------------------------------------------------------------


def scalar(v: Any) -> str:
    """A value as written in a canonical line: plain if YAML reads it back as the same string,
    else JSON-quoted (a valid YAML double-quoted scalar), non-printable characters escaped."""
    s = str(v)
    if _PLAIN_OUT.fullmatch(s) and s == s.strip() and s.isprintable() and _plain_is_str(s):
        return s
    q = json.dumps(s, ensure_ascii=False)
    if not q.isprintable():
        # \uXXXX is both JSON and YAML; beyond the BMP only YAML's \UXXXXXXXX is safe (a JSON
        # surrogate pair is refused by YAML), so such a line is read through YAML
        q = "".join(c if c.isprintable() else json.dumps(c)[1:-1] if ord(c) < 0x10000 else
                    f"\\U{ord(c):08x}" for c in q)
    return q


def format_entry(data: Mapping[str, Any]) -> str:
    """One canonical line: ``  - {key: value, ...}`` in :data:`KEY_ORDER`, None values left out."""
    keys = [k for k in KEY_ORDER if data.get(k) is not None]
    keys += sorted(k for k in data if k not in KEY_ORDER and data[k] is not None)
    return "  - {" + ", ".join(f"{k}: {scalar(data[k])}" for k in keys) + "}"


def render(header: str, sections: Mapping[str, list[str]]) -> str:
    """The whole file from its header and the canonical lines of each section."""
    out = [header.rstrip("\n")] if header.strip() else []
    for sec in SECTIONS:
        lines = sections.get(sec, [])
        out.append(f"{sec}:" if lines else f"{sec}: []")
        out.extend(lines)
    return "\n".join(out) + "\n"
