"""The monitoring's SQLite files (outbox, ledger) fail with a clear line, never a traceback.

A damaged file (power loss on a disk that lies about fsync, a copy that was cut short, someone
writing into it) makes SQLite answer "file is not a database" or "database disk image is
malformed" — at open or at any later query. :class:`OutboxConnection` and
:class:`LedgerConnection` (``sqlite3.connect(path, factory=...)``) turn such errors into a
:class:`~simpul.errors.SimpulError` that names the file, says what is in it and what to do.
"""

from __future__ import annotations

import sqlite3
import urllib.parse
from collections.abc import Iterable
from typing import Any

from simpul.errors import SimpulError

DAMAGED = ("SQLITE_CORRUPT", "SQLITE_NOTADB")


class StoreError(SimpulError):
    """A monitoring state file cannot be used (damaged, unreadable, busy)."""


def _usage_error(e: BaseException) -> bool:
    """Errors that are ours (a bug in a query), not the file's: let them through."""
    return isinstance(e, sqlite3.IntegrityError | sqlite3.ProgrammingError | sqlite3.InterfaceError)


class _GuardedCursor(sqlite3.Cursor):
    """Damage found while reading rows is reported like damage found by a query."""

    def _wrap(self, e: sqlite3.Error) -> BaseException:
        conn = self.connection
        return conn._error(e) if isinstance(conn, _Guarded) else e

    def fetchone(self) -> Any:
        try:
            return super().fetchone()
        except sqlite3.DatabaseError as e:
            if _usage_error(e):
                raise
            raise self._wrap(e) from e

    def fetchall(self) -> list[Any]:
        try:
            return super().fetchall()
        except sqlite3.DatabaseError as e:
            if _usage_error(e):
                raise
            raise self._wrap(e) from e

    def fetchmany(self, size: int | None = 1) -> list[Any]:
        try:
            return super().fetchmany(size)
        except sqlite3.DatabaseError as e:
            if _usage_error(e):
                raise
            raise self._wrap(e) from e

    def __next__(self) -> Any:
        try:
            return super().__next__()
        except sqlite3.DatabaseError as e:
            if _usage_error(e):
                raise
            raise self._wrap(e) from e


class _Guarded(sqlite3.Connection):
    what = "database"
    holds = ""

    def __init__(self, database: Any, *args: Any, **kwargs: Any) -> None:
        where = str(database)
        if kwargs.get("uri") and where.startswith("file:"):  # file:///path?mode=ro → /path
            where = urllib.parse.unquote(urllib.parse.urlsplit(where).path)
        self.where = where
        try:
            super().__init__(database, *args, **kwargs)
        except sqlite3.DatabaseError as e:
            raise self._error(e) from e

    def _error(self, e: sqlite3.Error) -> SimpulError:
        name = getattr(e, "sqlite_errorname", "")
        if name in DAMAGED:
            return StoreError(
                f"{self.where}: the {self.what} is damaged ({e})",
                hint=f"move it aside (mv {self.where} {self.where}.damaged) and run again: a new, "
                     f"empty one is created. {self.holds}")
        return StoreError(f"{self.where}: the {self.what} cannot be used ({e})",
                          hint="check that the state directory is writable by this user and "
                               "that no other program holds the file")

    def cursor(self, factory: Any = None) -> Any:
        return super().cursor(factory or _GuardedCursor)

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        try:
            return super().execute(sql, parameters)
        except sqlite3.DatabaseError as e:
            if _usage_error(e):
                raise
            raise self._error(e) from e

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> sqlite3.Cursor:
        try:
            return super().executemany(sql, parameters)
        except sqlite3.DatabaseError as e:
            if _usage_error(e):
                raise
            raise self._error(e) from e

    def executescript(self, sql_script: str, /) -> sqlite3.Cursor:
        try:
            return super().executescript(sql_script)
        except sqlite3.DatabaseError as e:
            if _usage_error(e):
                raise
            raise self._error(e) from e


class OutboxConnection(_Guarded):
    what = "outbox (points waiting for delivery)"
    holds = ("Points still waiting in the damaged file are not delivered; keep it for "
             "inspection (sqlite3 FILE .recover).")


class LedgerConnection(_Guarded):
    what = "availability ledger"
    holds = ("It holds the availability history for the SLA reports: restore it from the "
             "backup of the state directory if you have one, else the history starts again.")
