"""A recorded ``snmpwalk -On`` as an :class:`~simpul.monitoring.engine.SnmpEngine`.

Lets the poller, profiles and counter logic run offline against platforms the lab cannot run
(MikroTik RouterOS, Cisco IOS, Huawei VRP). Record a walk from a real device with::

    snmpwalk -v2c -c COMMUNITY -On -m '' HOST 1.3.6.1 > mikrotik_routeros.walk

Several walks of the same device (``name.walk``, ``name.2.walk`` …) replay successive polls.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from .engine import SnmpSession, SnmpTarget, SnmpTimeout, Value, VarBinds

_LINE = re.compile(r'^\.?(?P<oid>[\d.]+) = (?:(?P<type>[A-Za-z0-9-]+): ?)?(?P<val>.*)$')


def _oid_key(oid: str) -> tuple[int, ...]:
    return tuple(int(x) for x in oid.split("."))


def _unquote(body: str) -> bytes:
    """The inside of a net-snmp quoted STRING (it escapes ``"`` and ``\\``)."""
    return re.sub(r'\\(["\\])', r"\1", body).encode()


def parse_walk(text: str) -> dict[str, Value]:
    """Parse net-snmp ``-On`` output into ``{numeric_oid: value}`` (types as gufo returns them).

    A quoted STRING that spans several lines (net-snmp prints a multi-line value as it is, e.g.
    a Cisco IOS sysDescr) is read up to its closing quote with its line breaks unchanged (``\r\n``
    stays ``\r\n``): read the file with ``newline=""`` or as bytes, not in universal-newline mode.
    """
    out: dict[str, Value] = {}
    last: str | None = None
    lines = text.splitlines(keepends=True)
    i = 0
    while i < len(lines):
        raw = lines[i]
        i += 1
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        m = _LINE.match(raw.strip())
        if not m:
            prev = out.get(last) if last is not None else None
            if last is not None and isinstance(prev, bytes):  # continuation of an unquoted string
                out[last] = prev + b"\n" + raw.rstrip("\r\n").encode()
            continue
        typ = (m["type"] or "").upper()
        val = m["val"].strip()
        if typ in ("STRING", "") and val.startswith('"') and not _closed(val):
            # a quoted string with line breaks: take the raw lines up to the closing quote
            body = raw[raw.index('"', raw.index(" = ")) + 1 :]
            while i < len(lines) and not _closed('"' + body.rstrip("\r\n")):
                body += lines[i]
                i += 1
            oid = m["oid"].lstrip(".")
            out[oid] = _unquote(body.rstrip("\r\n")[:-1])
            last = oid
            continue
        oid, typ, val = m["oid"].lstrip("."), (m["type"] or "").upper(), m["val"].strip()
        v: Value
        if typ in ("STRING", ""):
            v = _unquote(val[1:-1]) if val.startswith('"') and _closed(val) else val.encode()
        elif typ == "HEX-STRING":
            v = bytes.fromhex(val.replace(" ", ""))
        elif typ == "TIMETICKS":
            mm = re.match(r"\((\d+)\)", val)
            v = int(mm.group(1)) if mm else int(val.split()[0])
        elif typ in ("INTEGER", "COUNTER32", "COUNTER64", "GAUGE32", "UNSIGNED32"):
            mm = re.search(r"-?\d+", val)
            v = int(mm.group(0)) if mm else None
        elif typ == "OID":
            v = val.lstrip(".")
        elif typ == "IPADDRESS":
            v = val
        else:
            v = val.encode()
        out[oid] = v
        last = oid
    return out


def _closed(val: str) -> bool:
    """Does a value that starts with ``"`` end with an unescaped closing ``"``?"""
    if len(val) < 2 or not val.endswith('"'):
        return False
    n = len(val) - 1 - len(val[:-1].rstrip("\\"))  # backslashes before the last quote
    return n % 2 == 0


class WalkEngine:
    """Serves GET and GETBULK from recorded walks, keyed by target name or address."""

    name = "walkfile"

    def __init__(self, walks: dict[str, list[dict[str, Value]]]) -> None:
        self._walks = walks
        self._calls: dict[str, int] = {}

    @classmethod
    def from_files(cls, mapping: dict[str, list[Path]]) -> WalkEngine:
        return cls({k: [parse_walk(p.read_bytes().decode("utf-8")) for p in ps]
                    for k, ps in mapping.items()})

    @asynccontextmanager
    async def _session(self, target: SnmpTarget) -> AsyncIterator[SnmpSession]:
        seq = self._walks.get(target.name) or self._walks.get(target.address)
        if not seq:
            raise SnmpTimeout(target.name, "no recorded walk")
        n = self._calls.get(target.name, 0)
        self._calls[target.name] = n + 1
        yield _WalkSession(seq[min(n, len(seq) - 1)])

    def session(self, target: SnmpTarget) -> AbstractAsyncContextManager[SnmpSession]:
        return self._session(target)

    async def close(self) -> None:
        return None


class _WalkSession:
    def __init__(self, data: dict[str, Value]) -> None:
        self.data = data
        self.keys = sorted(data, key=_oid_key)
        self.sorted_keys = [_oid_key(k) for k in self.keys]

    async def get(self, oids: Sequence[str]) -> dict[str, Value]:
        return {o: self.data[o] for o in oids if o in self.data}

    async def walk(self, oid: str, max_repetitions: int) -> VarBinds:
        base = _oid_key(oid)
        i = bisect.bisect_right(self.sorted_keys, base)
        out: VarBinds = []
        while i < len(self.keys) and self.sorted_keys[i][: len(base)] == base:
            out.append((self.keys[i], self.data[self.keys[i]]))
            i += 1
        return out
