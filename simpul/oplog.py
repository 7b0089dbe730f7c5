"""The operations log: an append-only, hash-chained JSONL of every state change.

Every deploy, push, allocation, waiver and drill appends one record: who, what, target,
parameters (secrets removed), result, and the SHA-256 of the previous record. A small ``.head``
file beside the log holds the number of records and the last hash, so removing records at the
end is detected too. ``verify`` recomputes the chain and reports the first broken record.

Traceability: Pergub DKI 68/2022 Pasal 25 and Perbup Temanggung 83/2021 Pasal 28–36 (change
and asset management); ISO/IEC 27001:2022 A.8.15 (logging), A.8.32 (change management).
"""

from __future__ import annotations

import dataclasses
import fcntl
import getpass
import hashlib
import json
import logging
import os
import re
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretBytes, SecretStr

from simpul.errors import OplogError

log = logging.getLogger(__name__)

GENESIS = "0" * 64
_UNREADABLE = object()
_SECRET_KEY = re.compile(
    r"(pass(word|phrase|wd)?|secret|token|community|priv|auth_key|api_key|psk|authoriz|cookie|"
    r"bearer|key$)", re.I)


def _empty(value: Any) -> bool:
    """Nothing to hide: ``None``, an empty string/bytes or an empty container."""
    if value is None:
        return True
    if isinstance(value, str | bytes | Mapping | list | tuple | set | frozenset):
        return len(value) == 0
    return False


def redact(value: Any, key: str = "") -> Any:
    """Return ``value`` as JSON-able data with every secret replaced by ``"***"``.

    Redaction by key covers *everything* under a secret-shaped key (``password``, ``community``,
    ``auth_key``, ...), whatever its type: a list of passwords, a number, a nested mapping, bytes.
    ``SecretStr``/``SecretBytes`` are redacted anywhere. Pydantic models and dataclasses are
    turned into mappings first, so their secret fields are found by name too (``str()`` of such
    an object would print them).

    >>> redact({"snmp": {"auth_key": 12345}, "passwords": ["hunter2"], "n": 3})
    {'snmp': {'auth_key': '***'}, 'passwords': '***', 'n': 3}
    """
    if isinstance(value, SecretStr | SecretBytes):
        return "***"
    if key and _SECRET_KEY.search(key):
        return value if _empty(value) else "***"
    if isinstance(value, BaseModel):
        return redact(value.model_dump(mode="python"), key)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return redact({f.name: getattr(value, f.name) for f in dataclasses.fields(value)}, key)
    if isinstance(value, Mapping):
        return {str(k): redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def _canonical(record: Mapping[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_hash(record: Mapping[str, Any]) -> str:
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(_canonical(body)).hexdigest()


@dataclass(frozen=True)
class Head:
    """The number of records and the last record's hash (what ``.head`` and the witness hold)."""

    records: int
    hash: str


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    records: int
    problems: list[str]
    head: str = GENESIS
    """Hash of the last record: the anchor to keep off the machine (``verify --head``)."""
    notes: list[str] = field(default_factory=list)
    """Warnings that are not failures (no witness copy yet, nothing to verify, ...)."""


def default_witness(path: Path) -> Path:
    """Where the second copy of the head lives: beside the state directory, not in it.

    ``/var/lib/simpul/oplog.jsonl`` → ``/var/lib/.simpul-oplog.jsonl.witness``. Removing the
    state directory (or the log and its ``.head``) leaves this copy, so ``verify`` can say
    that records were written and are gone.
    """
    path = Path(path).absolute()
    return path.parent.parent / f".{path.parent.name or 'root'}-{path.name}.witness"


def _read_head(path: Path) -> tuple[Head | None, str | None]:
    """``(head, None)``, ``(None, None)`` when the file does not exist, or ``(None, problem)``."""
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return None, None
    except (OSError, ValueError) as e:
        return None, f"{path}: cannot read ({getattr(e, 'strerror', None) or e})"
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None, f"{path}: not valid JSON (edited or truncated)"
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("records"), int)
        or isinstance(data.get("records"), bool)
        or data["records"] < 0
        or not isinstance(data.get("hash"), str)
    ):
        return None, (f"{path}: malformed; expected {{\"records\": <count>, \"hash\": <sha256>}} "
                      "(edited?)")
    return Head(int(data["records"]), str(data["hash"])), None


def _write_head(path: Path, head: Head) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"records": head.records, "hash": head.hash}))
    os.replace(tmp, path)


class OpLog:
    """Append-only operations log at ``path`` (created on first append).

    Beside the log, ``<log>.head`` holds the record count and last hash; a second copy of it,
    the *witness*, lives outside the state directory (:func:`default_witness`, or ``witness``).
    """

    def __init__(self, path: Path, witness: Path | None = None) -> None:
        self.path = Path(path)
        self.head_path = self.path.with_name(self.path.name + ".head")
        self.witness_path = Path(witness) if witness else default_witness(self.path)

    def append(
        self,
        *,
        action: str,
        target: str,
        result: str,
        params: Mapping[str, Any] | None = None,
        refs: list[str] | None = None,
        who: str | None = None,
    ) -> dict[str, Any]:
        """Append one record and return it. Raises :class:`OplogError` if the log is unusable."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o640)
        except OSError as e:
            raise OplogError(
                f"operations log {self.path}: cannot open ({e.strerror})",
                hint="set SIMPUL_STATE_DIR or oplog_path to a writable place",
            ) from e
        with os.fdopen(fd, "r+b") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                seq, prev = self._tail(f)
                rec: dict[str, Any] = {
                    "seq": seq + 1,
                    "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
                    "who": who or f"{_user()}@{socket.gethostname()}",
                    "action": action,
                    "target": target,
                    "params": redact(dict(params or {})),
                    "refs": list(refs or []),
                    "result": result,
                    "prev": prev,
                }
                rec["hash"] = record_hash(rec)
                f.write(_canonical(rec) + b"\n")
                f.flush()
                os.fsync(f.fileno())
                head = Head(rec["seq"], rec["hash"])
                _write_head(self.head_path, head)
                self._witness(head)
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)
        return rec

    def _witness(self, head: Head) -> None:
        """Update the witness copy of the head, unless it shows a longer log than this one."""
        old, _ = _read_head(self.witness_path)
        if old is not None and old.records >= head.records:
            # The witness remembers more records than the log now has: the log was deleted or
            # truncated. Keep that evidence for 'oplog verify' instead of overwriting it.
            log.warning("operations log %s: the witness %s remembers %d records, the log has %d: "
                        "records were removed (run 'simpul oplog verify')", self.path,
                        self.witness_path, old.records, head.records - 1)
            return
        try:
            self.witness_path.parent.mkdir(parents=True, exist_ok=True)
            _write_head(self.witness_path, head)
        except OSError as e:
            log.warning("operations log %s: cannot keep the witness copy of its head at %s (%s): "
                        "deleting both the log and its head would go unnoticed; set oplog_witness "
                        "in simpul.toml to a writable place outside the state directory",
                        self.path, self.witness_path, e.strerror)

    def _tail(self, f: Any) -> tuple[int, str]:
        f.seek(0)
        last = None
        for line in f:
            if line.strip():
                last = line
        if last is None:
            return 0, GENESIS
        try:
            rec = json.loads(last)
            return int(rec["seq"]), str(rec["hash"])
        except (ValueError, KeyError, TypeError, IndexError, RecursionError) as e:
            raise OplogError(
                f"operations log {self.path}: last record is unreadable",
                hint="run 'simpul oplog verify' and restore the log from backup",
            ) from e

    def records(self) -> Iterator[dict[str, Any]]:
        """Every record, oldest first. Raises :class:`OplogError` naming an unreadable line."""
        if not self.path.exists():
            return
        try:
            f = self.path.open("rb")
        except OSError as e:
            raise OplogError(f"operations log {self.path}: cannot read ({e.strerror})") from e
        with f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except (ValueError, RecursionError) as e:
                    raise OplogError(f"{self.path}:{n}: not valid JSON",
                                     hint="run 'simpul oplog verify'") from e
                if not isinstance(rec, dict):
                    raise OplogError(f"{self.path}:{n}: not a record (a JSON object)",
                                     hint="run 'simpul oplog verify'")
                yield rec

    def verify(self, anchor: str | None = None) -> VerifyReport:
        """Recompute the chain; list every problem (edited, removed, reordered, truncated).

        ``anchor`` is a record hash kept off the machine (printed by an earlier verify): the
        log must still contain that record, so a log rewritten from the start with a new,
        self-consistent chain is caught too.
        """
        problems: list[str] = []
        notes: list[str] = []
        prev = GENESIS
        expected_seq = 1
        count = 0
        good_hashes: dict[str, int] = {}  # hash → position, for records whose hash is right
        by_position: dict[int, str] = {}
        if anchor is not None:
            anchor = anchor.strip().lower()
            if not re.fullmatch(r"[0-9a-f]{12,64}", anchor):
                problems.append(f"--head {anchor!r}: not a record hash (12 to 64 hex digits, as "
                                "printed by 'simpul oplog verify')")
                anchor = None
        head, head_problem = _read_head(self.head_path)
        witness, witness_problem = _read_head(self.witness_path)
        if head_problem:
            problems.append(head_problem)
        if witness_problem:
            problems.append(f"witness copy of the head: {witness_problem}")
        if not self.path.exists():
            if head is not None or head_problem:
                problems.append(f"{self.path}: log is missing but its head file exists"
                                + (f" ({head.records} records were written)" if head else ""))
            if witness is not None and witness.records > 0:
                problems.append(
                    f"{self.path}: log is missing but the witness {self.witness_path} says "
                    f"{witness.records} record(s) were written (last hash {witness.hash[:16]}...): "
                    "the log was deleted; restore it from backup")
            if anchor is not None:
                problems.append(f"{self.path}: log is missing, so the anchor {anchor[:16]}... "
                                "cannot be found")
            if not problems:
                notes.append(f"{self.path}: no operations log here (nothing recorded yet). If "
                             "changes were recorded on this machine before, the log has been "
                             "deleted: compare with the head hash kept off the machine")
            return VerifyReport(not problems, 0, problems, GENESIS, notes)
        try:
            f = self.path.open("rb")
        except OSError as e:
            problems.append(f"{self.path}: cannot read ({e.strerror})")
            return VerifyReport(False, 0, problems, GENESIS, notes)
        with f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                count += 1
                try:
                    rec = json.loads(line)
                except (ValueError, RecursionError):
                    problems.append(f"line {n}: not valid JSON (edited or truncated)")
                    rec = _UNREADABLE
                if not isinstance(rec, dict):
                    if rec is not _UNREADABLE:
                        kind = "null" if rec is None else type(rec).__name__
                        problems.append(f"line {n}: not a record (a JSON object), found {kind} "
                                        "(edited)")
                    prev = "?"
                    expected_seq += 1
                    continue
                seq = rec.get("seq")
                if seq != expected_seq:
                    problems.append(
                        f"line {n}: record seq {seq} where {expected_seq} was expected "
                        "(a record was removed, inserted or reordered)"
                    )
                if rec.get("prev") != prev and prev != "?":
                    problems.append(f"line {n} (seq {seq}): does not chain to the previous record")
                h = rec.get("hash")
                if record_hash(rec) != h:
                    problems.append(f"line {n} (seq {seq}): content does not match its hash (edited)")
                elif isinstance(h, str):
                    good_hashes.setdefault(h, count)
                prev = str(h)
                by_position[count] = prev
                expected_seq = (seq if isinstance(seq, int) and not isinstance(seq, bool)
                                else expected_seq) + 1
        if head is not None:
            if head.records > count:
                problems.append(
                    f"log ends at record {count} but was last written at record {head.records} "
                    f"({head.records - count} record(s) removed from the end, or head edited)")
            elif head.records < count:
                problems.append(
                    f"log has {count} records but its head says {head.records} (records added "
                    "without simpul, or head edited)")
            elif head.hash != prev:
                problems.append(f"record {count} does not match the hash in the head file "
                                "(last record replaced, or head edited)")
        elif count and not head_problem:
            problems.append(f"{self.head_path}: head file missing")
        if witness is not None:
            if witness.records > count:
                problems.append(
                    f"the witness {self.witness_path} says {witness.records} record(s) were "
                    f"written; the log has {count}: records were removed or the log was replaced "
                    "(restore it from backup; if the NOC replaced it on purpose, archive the old "
                    "log and the witness together)")
            elif witness.records and by_position.get(witness.records) != witness.hash:
                problems.append(
                    f"record {witness.records} does not match the witness {self.witness_path}: "
                    "the log was rewritten or replaced")
        elif count and not witness_problem:
            notes.append(f"no witness copy of the head at {self.witness_path} (logs written by "
                         "older versions have none; the next record creates it)")
        if anchor is not None:
            pos = next((p for h, p in good_hashes.items() if h.startswith(anchor)), None)
            if pos is None:
                problems.append(
                    f"anchor {anchor[:16]}...: no record in the log has this hash; the log was "
                    "rewritten or replaced since the anchor was taken (or it belongs to another "
                    "machine's log)")
            else:
                notes.append(f"anchor {anchor[:16]}... is record {pos}: records 1-{pos} are "
                             "unchanged since the anchor was taken")
        return VerifyReport(not problems, count, problems, prev if count else GENESIS, notes)


def _user() -> str:
    for var in ("SUDO_USER", "USER", "LOGNAME"):
        if os.environ.get(var):
            return os.environ[var]
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid{os.getuid()}"
