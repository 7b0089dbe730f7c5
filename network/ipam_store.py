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

Example::

    store = IpamStore(Path("inventory/lab"))
    with store.transaction() as tx:                 # locked, fresh
        p = plan_block(book.with_entries(*tx.entries()), "link", "core-baru")
        tx.add("allocations", p.entry("new fiber to the Kecamatan office"))
        tx.commit()
        app.record("ipam.allocate", p.label, "ok", ...)   # still under the lock
"""

from __future__ import annotations

import bisect
import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from simpul.errors import ConfigError, LockedError
from simpul.inventory import ipamfile
from simpul.inventory.loader import LIST_SECTIONS, InventoryInvalid
from simpul.inventory.models import Allocation, Released, Reservation
from simpul.inventory.source import Problem

log = logging.getLogger(__name__)

LOCK_FILE = ".ipam.lock"
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


@dataclass
class Snapshot:
    """ipam.yaml as read under the lock."""

    header: str
    items: dict[str, list[Item]] = field(default_factory=lambda: {s: [] for s in ipamfile.SECTIONS})

    def models(self, section: str) -> list[Any]:
        return [i.model for i in self.items[section]]

    def lines(self, section: str) -> list[int]:
        return [i.line for i in self.items[section]]

    @property
    def allocations(self) -> list[Allocation]:
        return self.models("allocations")

    @property
    def reservations(self) -> list[Reservation]:
        return self.models("reservations")

    @property
    def released(self) -> list[Released]:
        return self.models("released")


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
        if not self.path.exists():
            return Snapshot(ipamfile.DEFAULT_HEADER)
        doc = ipamfile.read(self.path, self.display)
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
                    items.append(Item(cached.model, cached.text, e.line, cached.key))
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
                item = Item(m, text, e.line, _sort_key(sec, m))
                if e.text:
                    if len(_item_cache) > 200_000:
                        _item_cache.clear()
                    _item_cache[(sec, e.text)] = item
                items.append(item)
        if problems:
            raise InventoryInvalid(str(self.path), problems)
        return snap

    # --- the transaction ------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Hold the lock, read ipam.yaml afresh, and let the caller change and commit it."""
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o664)
        try:
            self._acquire(fd)
            self._clean_temps()
            yield Transaction(self, self.read())
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _acquire(self, fd: int) -> None:
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.0005
        waited = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LockedError(f"{self.lock_path}: another 'simpul ipam' change has held the lock "
                                      f"for over {self.lock_timeout:.0f} s",
                                      hint="wait for it to finish; the lock is released when that "
                                           "process ends") from None
                if not waited:
                    log.info("waiting for the IPAM lock %s", self.lock_path)
                    waited = True
                time.sleep(delay)
                delay = min(delay * 2, 0.01)

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
    """Changes to ipam.yaml made under the lock; nothing is written before :meth:`commit`."""

    def __init__(self, store: IpamStore, snap: Snapshot) -> None:
        self.store = store
        self.snap = snap
        self.changed = False

    def entries(self) -> tuple[list[Allocation], list[Reservation], list[Released], list[int], list[int]]:
        """What :meth:`simpul.network.ipam.Book.with_entries` takes."""
        s = self.snap
        return (s.allocations, s.reservations, s.released, s.lines("allocations"), s.lines("reservations"))

    def add(self, section: str, data: dict[str, Any]) -> Any:
        """Validate and add one entry (its line goes in address order; releases at the end)."""
        model = LIST_SECTIONS[section].model_validate(data)
        item = Item(model, ipamfile.format_entry(data), 0, _sort_key(section, model))
        items = self.snap.items[section]
        if section == "released":
            items.append(item)
        else:
            bisect.insort(items, item, key=lambda i: i.key)
        self.changed = True
        return model

    def remove(self, section: str, index: int) -> Any:
        self.changed = True
        return self.snap.items[section].pop(index).model

    def render(self) -> str:
        sections = {}
        for sec in ipamfile.SECTIONS:
            items = self.snap.items[sec]
            if sec != "released":
                items = sorted(items, key=lambda i: i.key)  # a hand-ordered file, put in order
            sections[sec] = [i.text for i in items]
        return ipamfile.render(self.snap.header, sections)

    def commit(self) -> None:
        """Write ipam.yaml (temp file, fsync, rename, fsync of the directory)."""
        if self.changed:
            self.store.write(self.render())
            self.changed = False
