"""Record IPAM changes in ``ipam.yaml`` atomically: one writer at a time, crash-safe.

NetBox once handed the same address to two of 16 concurrent requests (ANCHORS.md). Here every
change is a short transaction on the inventory directory:

1. ``flock`` on ``<inventory>/.ipam.lock`` (exclusive; waits up to ``lock_timeout``);
2. **re-read** ``ipam.yaml`` under the lock — what another engineer or process wrote a moment
   ago is seen before anything is decided;
3. decide (the caller: :func:`simpul.network.ipam.plan_block` etc. on the fresh entries);
4. write the whole file to a temporary file in the same directory, ``fsync`` it, ``rename`` it
   over ``ipam.yaml`` and ``fsync`` the directory; then the lock is released.

A process killed at any moment leaves either the old file or the new one — never a partial
file — and a stale temporary file is removed by the next writer. Readers (``inventory check``,
``ipam show``) need no lock: ``rename`` is atomic.

The operations-log record of a change is written by the command right after the rename (only
commands write the log). So that a kill between the two never loses the record, the record is
first written to ``<inventory>/.ipam.pending`` (fsynced) with a transaction id; the command
removes it after logging. The next transaction finds a pending record whose change reached
ipam.yaml and hands it to its command to log (:attr:`Transaction.interrupted`), unless the log
already has that transaction id.

Example::

    store = IpamStore(Path("inventory/lab"))
    with store.transaction() as tx:                 # locked, fresh
        p = plan_block(tx.book(base), "link", "core-baru")
        tx.add("allocations", p.entry("new fiber to the Kecamatan office"))
        txn = tx.commit("ipam.allocate", p.label, params)
        app.record("ipam.allocate", p.label, "ok", params={**params, "txn": txn})  # under the lock
        tx.logged()
"""

from __future__ import annotations

import bisect
import fcntl
import itertools
import json
import logging
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from simpul.errors import ConfigError, LockedError
from simpul.inventory import ipamfile
from simpul.inventory.addrspace import Use, allocation_use, reservation_use
from simpul.inventory.loader import LIST_SECTIONS, InventoryInvalid
from simpul.inventory.models import Allocation, Released, Reservation
from simpul.inventory.source import Problem

from .ipam import Book

log = logging.getLogger(__name__)


class _LockTimeout(Exception):
    pass

LOCK_FILE = ".ipam.lock"
PENDING_FILE = ".ipam.pending"
TMP_PREFIX = ".ipam.yaml."
_item_cache: dict[tuple[str, str], Item] = {}


def _sort_key(section: str, m: BaseModel) -> tuple[int, int]:
    """Allocations and reservations are kept in address order (the file reads like the plan);
    released entries in the order they happened."""
    if section == "released":
        return (0, 0)
    if isinstance(m, Reservation):
        lo, hi = m.bounds()
        return (int(lo), -int(hi))
    assert isinstance(m, Allocation)
    sp = m.space()
    return (int(sp.network_address), sp.prefixlen)


@dataclass
class Item:
    """One entry of ipam.yaml: the validated model, its line of text, where it was read."""

    model: Any
    text: str
    line: int  # 0 for an entry added in this transaction
    key: tuple[int, int]
    use: Use | None = None  # its address-space use (allocations and reservations)


def _item(section: str, model: Any, text: str, line: int) -> Item:
    use = None
    if isinstance(model, Allocation):
        use = allocation_use(model, (section, -1))
    elif isinstance(model, Reservation):
        use = reservation_use(model, (section, -1))
    return Item(model, text, line, _sort_key(section, model), use)


@dataclass
class Snapshot:
    """ipam.yaml as read under the lock."""

    header: str
    items: dict[str, list[Item]] = field(default_factory=lambda: {s: [] for s in ipamfile.SECTIONS})
    _uses: list[Use] | None = None
    ordered: bool = True  # allocations and reservations are in address order (as written by us)
    _index: dict[tuple[str, str], Use] | None = None

    def copy(self) -> Snapshot:
        return Snapshot(self.header, {k: list(v) for k, v in self.items.items()}, self._uses,
                        self.ordered, self._index)

    def index(self) -> dict[tuple[str, str], Use]:
        """(purpose, for) -> the use of that block allocation (what ``allocate`` looks up)."""
        if self._index is None:
            self._index = {(it.use.detail, it.use.name): it.use for it in self.items["allocations"]
                           if it.use is not None and it.use.kind == "allocation"}
        return self._index

    def models(self, section: str) -> list[Any]:
        return [i.model for i in self.items[section]]

    def lines(self, section: str) -> list[int]:
        return [i.line for i in self.items[section]]

    def book(self, base: Book) -> Book:
        """``base`` (the inventory) with these entries."""
        return base.with_entries(self.allocations, self.reservations, self.released,
                                 self.lines("allocations"), self.lines("reservations"), self.uses(),
                                 self.index())

    def uses(self) -> list[Use]:
        """The address-space uses of the allocations, then the reservations (file order)."""
        if self._uses is None:
            self._uses = [it.use for sec in ("allocations", "reservations") for it in self.items[sec]
                          if it.use is not None]
        return self._uses

    @property
    def allocations(self) -> list[Allocation]:
        return self.models("allocations")

    @property
    def reservations(self) -> list[Reservation]:
        return self.models("reservations")

    @property
    def released(self) -> list[Released]:
        return self.models("released")


# The last snapshot this process read or wrote, by file, with the file's exact bytes: when the
# bytes under the lock are the same, nothing changed and parsing is skipped (a byte comparison,
# so a reused inode or a coarse mtime can never make it stale).
_snapshots: dict[Path, tuple[bytes, Snapshot]] = {}


def _learn(section: str, line: str) -> Item | None:
    """Parse and validate one canonical line not seen before, and remember it."""
    data = ipamfile.parse_line(line)
    if data is None:
        return None
    try:
        model = LIST_SECTIONS[section].model_validate(data)
    except ValidationError:
        return None  # the full read reports it with its line
    return _remember(section, _item(section, model, line, 0))


def _remember(section: str, item: Item) -> Item:
    if len(_item_cache) > 200_000:
        _item_cache.clear()
    _item_cache[(section, item.text)] = item
    return item


def _from_known_lines(text: str) -> Snapshot | None:
    """The snapshot of a canonical file, built from the per-line cache (lines seen before —
    usually all but the few another process just added, which are parsed here one by one).
    None when a line is not canonical or does not validate: then the file is read in full,
    which reports the problem with its line."""
    snap = Snapshot("")
    header: list[str] = []
    items: list[Item] | None = None
    section = ""
    seen: set[str] = set()
    for n, line in enumerate(text.split("\n"), 1):
        if line.startswith("  - {"):
            if items is None:
                return None
            cached = _item_cache.get((section, line)) or _learn(section, line)
            if cached is None:
                return None
            items.append(Item(cached.model, line, n, cached.key, cached.use))
            continue
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            if seen:
                return None
            header.append(line)
            continue
        m = ipamfile.SECTION_LINE.match(line)
        if m is None or m.group(1) in seen:
            return None
        section = m.group(1)
        seen.add(section)
        items = None if m.group(2) else snap.items[section]
    snap.header = "\n".join(header) + "\n" if header else ipamfile.DEFAULT_HEADER
    snap.ordered = all(a.key <= b.key for sec in ("allocations", "reservations")
                       for a, b in itertools.pairwise(snap.items[sec]))
    return snap


class IpamStore:
    """``ipam.yaml`` of one inventory directory, changed only under its lock."""

    def __init__(self, directory: Path, *, lock_timeout: float = 60.0) -> None:
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise ConfigError(f"{self.directory}: inventory directory does not exist")
        self.path = self.directory / ipamfile.IPAM_FILE
        self.lock_path = self.directory / LOCK_FILE
        self.lock_timeout = lock_timeout
        self.display = f"{self.directory.name}/{ipamfile.IPAM_FILE}"

    # --- reading ------------------------------------------------------------------------------

    def read(self) -> Snapshot:
        """Parse and validate ipam.yaml (no lock: rename makes every read see a whole file).

        Raises :class:`InventoryInvalid` naming file:line for an entry that does not validate.
        """
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return Snapshot(ipamfile.DEFAULT_HEADER)
        key = self.path.resolve()
        hit = _snapshots.get(key)
        if hit is not None and hit[0] == raw:
            return hit[1].copy()
        try:
            text: str | None = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = None  # the YAML path reports it
        quick = _from_known_lines(text) if text is not None else None
        if quick is not None:
            _snapshots[key] = (raw, quick.copy())
            return quick
        doc = ipamfile.read(self.path, self.display, text)
        problems = list(doc.problems)
        if doc.other:
            first = next(iter(doc.other))
            problems.append(Problem(self.display, doc.origins[(first,)].line, first,
                                    "only allocations:, reservations: and released: belong in this file"))
        snap = Snapshot(doc.header or ipamfile.DEFAULT_HEADER)
        for sec in ipamfile.SECTIONS:
            model = LIST_SECTIONS[sec]
            items = snap.items[sec]
            for i, e in enumerate(doc.sections[sec]):
                cached = _item_cache.get((sec, e.text)) if e.text else None
                if cached is not None:
                    items.append(Item(cached.model, cached.text, e.line, cached.key, cached.use))
                    continue
                if not isinstance(e.data, dict):
                    problems.append(Problem(self.display, e.line, f"{sec}[{i}]",
                                            "each entry is a mapping on one line"))
                    continue
                try:
                    m = model.model_validate(e.data)
                except ValidationError as err:
                    first_err = err.errors(include_url=False)[0]
                    loc = ".".join(str(x) for x in first_err["loc"])
                    msg = first_err["msg"].removeprefix("Value error, ")
                    problems.append(Problem(self.display, e.line,
                                            f"{sec}[{i}]" + (f".{loc}" if loc else ""), msg))
                    continue
                text = e.text or ipamfile.format_entry(
                    m.model_dump(mode="json", by_alias=True, exclude_none=True))
                item = _item(sec, m, text, e.line)
                if e.text:
                    _remember(sec, Item(item.model, item.text, 0, item.key, item.use))
                items.append(item)
        if problems:
            raise InventoryInvalid(str(self.path), problems)
        snap.ordered = all(a.key <= b.key for sec in ("allocations", "reservations")
                           for a, b in itertools.pairwise(snap.items[sec]))
        _snapshots[key] = (raw, snap.copy())
        return snap

    # --- the transaction ------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Hold the lock, read ipam.yaml afresh, and let the caller change and commit it."""
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o664)
        try:
            self._acquire(fd)
            self._clean_temps()
            snap = self.read()
            yield Transaction(self, snap, self._interrupted(snap))
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    @property
    def pending_path(self) -> Path:
        return self.directory / PENDING_FILE

    def _interrupted(self, snap: Snapshot) -> list[dict[str, Any]]:
        """The record a killed writer left pending, if its change reached ipam.yaml."""
        try:
            rec = json.loads(self.pending_path.read_text())
        except FileNotFoundError:
            return []
        except (OSError, ValueError):
            log.warning("%s is unreadable (a write was interrupted); ignoring it", self.pending_path)
            self.pending_path.unlink(missing_ok=True)
            return []
        texts = {it.text for sec in ipamfile.SECTIONS for it in snap.items[sec]}
        applied = isinstance(rec, dict) and rec.get("line") in texts
        if not applied:
            self.pending_path.unlink(missing_ok=True)  # killed before the rename: nothing happened
            return []
        return [rec]

    def _acquire(self, fd: int) -> None:
        """Take the lock: at once if free, else wait in the kernel's queue (a blocking
        ``flock``, woken as soon as the holder releases it; polling wakes late on a busy
        machine) for at most ``lock_timeout`` — an alarm ends the wait in the main thread;
        elsewhere (no signals) the wait polls."""
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            log.info("waiting for the IPAM lock %s", self.lock_path)
        if threading.current_thread() is threading.main_thread():
            def expired(signum: int, frame: Any) -> None:
                raise _LockTimeout

            old = signal.signal(signal.SIGALRM, expired)
            signal.setitimer(signal.ITIMER_REAL, self.lock_timeout)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                return
            except _LockTimeout:
                pass
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, old)
        else:
            deadline = time.monotonic() + self.lock_timeout
            delay = 0.0005
            while time.monotonic() < deadline:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return
                except BlockingIOError:
                    time.sleep(delay)
                    delay = min(delay * 2, 0.01)
        raise LockedError(f"{self.lock_path}: another 'simpul ipam' change has held the lock for over "
                          f"{self.lock_timeout:.0f} s",
                          hint="wait for it to finish; the lock is released when that process ends")

    def _clean_temps(self) -> None:
        # under the lock, any temporary file left is from a writer that died mid-write
        for p in self.directory.glob(f"{TMP_PREFIX}*.tmp"):
            try:
                p.unlink()
                log.warning("removed %s left by an interrupted write", p)
            except OSError:
                pass

    def write(self, text: str) -> None:
        """Replace ipam.yaml with ``text`` atomically and durably (call under the lock)."""
        tmp = self.directory / f"{TMP_PREFIX}{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            data = text.encode("utf-8")
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        dfd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


class Transaction:
    """Changes to ipam.yaml made under the lock; nothing is written before :meth:`commit`.

    ``interrupted`` lists operations-log records an earlier, killed writer could not write
    (``{"txn", "action", "target", "params"}``): the command logs them (unless the log has
    their ``txn`` already) and calls :meth:`recovered`.
    """

    def __init__(self, store: IpamStore, snap: Snapshot,
                 interrupted: list[dict[str, Any]] | None = None) -> None:
        self.store = store
        self.snap = snap
        self.changed = False
        self.interrupted = interrupted or []
        self._last_line = ""

    def book(self, base: Book) -> Book:
        """``base`` (the inventory) with the entries read under this lock."""
        return self.snap.book(base)

    def add(self, section: str, data: dict[str, Any]) -> Any:
        """Validate and add one entry (its line goes in address order; releases at the end)."""
        model = LIST_SECTIONS[section].model_validate(data)
        item = _item(section, model, ipamfile.format_entry(data), 0)
        _remember(section, Item(item.model, item.text, 0, item.key, item.use))
        self._last_line = item.text
        items = self.snap.items[section]
        if section == "released":
            items.append(item)
        else:
            bisect.insort(items, item, key=lambda i: i.key)
        self.changed = True
        self.snap._uses = None
        if self.snap._index is not None and item.use is not None and item.use.kind == "allocation":
            self.snap._index = {**self.snap._index, (item.use.detail, item.use.name): item.use}
        return model

    def remove(self, section: str, index: int) -> Any:
        self.changed = True
        self.snap._uses = None
        self.snap._index = None
        return self.snap.items[section].pop(index).model

    def render(self) -> str:
        """The new file; each item's ``line`` is set to where it lands."""
        sections = {}
        n = len(self.snap.header.rstrip("\n").split("\n")) if self.snap.header.strip() else 0
        for sec in ipamfile.SECTIONS:
            items = self.snap.items[sec]
            if sec != "released" and not self.snap.ordered:
                items = self.snap.items[sec] = sorted(items, key=lambda i: i.key)  # hand-ordered
                self.snap._uses = None
            n += 1  # the section line
            for it in items:
                n += 1
                it.line = n
            sections[sec] = [i.text for i in items]
        self.snap.ordered = True
        return ipamfile.render(self.snap.header, sections)

    def commit(self, action: str, target: str, params: dict[str, Any]) -> str:
        """Write ipam.yaml (temp file, fsync, rename, fsync of the directory), with the
        operations-log record of the change kept pending until :meth:`logged`.

        Returns the transaction id to put in the record (``params["txn"]``).
        """
        txn = uuid.uuid4().hex[:16]
        if not self.changed:
            return txn
        rec = {"txn": txn, "action": action, "target": target, "params": {**params, "txn": txn},
               "line": self._last_line}
        _write_durably(self.store.pending_path, json.dumps(rec, default=str))
        text = self.render()
        self.store.write(text)
        _snapshots[self.store.path.resolve()] = (text.encode("utf-8"), self.snap.copy())
        self.changed = False
        return txn

    def logged(self) -> None:
        """The command wrote the record of this change (and of any interrupted one)."""
        self.store.pending_path.unlink(missing_ok=True)
        self.interrupted = []

    def recovered(self) -> None:
        """The interrupted records are in the log now."""
        if self.interrupted:
            self.store.pending_path.unlink(missing_ok=True)
            self.interrupted = []


def _write_durably(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
