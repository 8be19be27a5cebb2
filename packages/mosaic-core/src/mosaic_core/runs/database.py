"""Opening ``mosaic.db``, and what a failure of it means for the user.

The index is opened read-write by every command that may write (and by the
reading commands too, which settle runs a dead supervisor left). When the
home is read-only (a read-only mount, a directory without write permission)
the reading commands open it read-only instead: SQLite's ``mode=ro``, or
``immutable=1`` when a WAL database cannot even map its shared memory
there. A damaged file, a full disk and a read-only home each become one
:class:`StoreError` that says what happened and what to run.
"""

from __future__ import annotations

import contextlib
import errno
import os
import pathlib
import sqlite3
import urllib.parse

from mosaic_core._errors import MosaicError

__all__ = [
    "StoreDamaged",
    "StoreError",
    "StoreFull",
    "StoreReadOnly",
    "connect",
    "explain",
    "is_damage",
]


class StoreError(MosaicError):
    """The run store cannot do what was asked; the message says why and what to do."""


class StoreDamaged(StoreError):
    """``mosaic.db`` is not a database, or a damaged one."""


class StoreReadOnly(StoreError):
    """The store cannot be written: its directory or file is read-only."""


class StoreFull(StoreError):
    """The disk holding the store is full."""


def _name(exc: sqlite3.Error) -> str:
    return str(getattr(exc, "sqlite_errorname", "") or "")


def is_damage(exc: BaseException) -> bool:
    """Is ``exc`` SQLite saying the file is not a sound database?"""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    name = _name(exc)
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return True
    text = str(exc).lower()
    return "not a database" in text or "malformed" in text or "corrupt" in text


def _is_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    return isinstance(exc, sqlite3.Error) and (
        _name(exc) == "SQLITE_FULL" or "database or disk is full" in str(exc)
    )


def _is_read_only(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM)
    return isinstance(exc, sqlite3.Error) and (
        _name(exc).startswith("SQLITE_READONLY") or "readonly database" in str(exc)
    )


def writable(home: pathlib.Path) -> bool:
    """Can this process write in ``home`` and to its ``mosaic.db`` (if there is one)?"""
    db = home / "mosaic.db"
    if not os.access(home, os.W_OK):
        return False
    return not db.exists() or os.access(db, os.W_OK)


def explain(exc: BaseException, home: pathlib.Path) -> StoreError | None:
    """The :class:`StoreError` ``exc`` amounts to, or None for an error of another kind."""
    if isinstance(exc, StoreError):
        return exc
    db = home / "mosaic.db"
    if is_damage(exc):
        return StoreDamaged(
            f"the run index {db} is damaged ({exc}); `mosaic db rebuild` moves it aside and "
            "makes it again from the run directories"
        )
    if _is_full(exc):
        return StoreFull(
            f"the disk holding {home} is full ({_what(exc)}); free some space and try again "
            "(every event already written is kept in the run directories)"
        )
    cantopen = isinstance(exc, sqlite3.Error) and _name(exc) == "SQLITE_CANTOPEN"
    if _is_read_only(exc) or (cantopen and not writable(home)):
        return StoreReadOnly(
            f"the run store {home} is read-only ({_what(exc)}); this command writes to it: "
            "make it writable, or set MOSAIC_HOME to a writable directory (`mosaic runs`, "
            "`show`, `events`, `metrics` and `logs` work on a read-only store)"
        )
    return None


def _what(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        name = errno.errorcode.get(exc.errno or 0, "")
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where}" + (f", {name}" if name else "")
    return str(exc)


def connect(db_path: pathlib.Path, *, readonly: bool, schema: str) -> sqlite3.Connection:
    """A connection to ``db_path``: read-write (made with ``schema`` if new) or read-only.

    Read-only, a missing file is an empty index (a read-only home with no runs
    yet), and a WAL database whose shared memory cannot be made is read as
    immutable. Raises :class:`StoreError` for a damaged file, a read-only home
    opened for writing and a full disk.
    """
    home = db_path.parent
    if readonly:
        return _connect_readonly(db_path, schema)
    if not writable(home):
        raise StoreReadOnly(
            f"the run store {home} is read-only: this command writes to it; make it "
            "writable, or set MOSAIC_HOME to a writable directory (`mosaic runs`, `show`, "
            "`events`, `metrics` and `logs` work on a read-only store)"
        )
    db = sqlite3.connect(db_path, timeout=30.0, isolation_level=None)
    try:
        db.execute("PRAGMA busy_timeout = 30000")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        _create(db, schema)
    except sqlite3.Error as exc:
        db.close()
        raise explain(exc, home) or exc from None
    return db


def _create(db: sqlite3.Connection, schema: str) -> None:
    """Make a new database with the base ``schema``; migrations take it on from there (and
    may drop a table of it, which must then stay dropped: an old one is left alone)."""
    made = "SELECT 1 FROM sqlite_master WHERE name = 'runs'"
    if db.execute(made).fetchone() is not None:
        return  # the usual case, without waiting for the write lock a supervisor may hold
    db.execute("BEGIN IMMEDIATE")  # two processes making one store: one makes it
    try:
        if db.execute(made).fetchone() is None:
            for statement in schema.split(";"):  # executescript would commit
                if statement.strip():
                    db.execute(statement)
        db.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")
        raise


def _connect_readonly(db_path: pathlib.Path, schema: str) -> sqlite3.Connection:
    if not db_path.exists():
        db = sqlite3.connect(":memory:", isolation_level=None)
        db.executescript(schema)
        return db
    uri = "file:" + urllib.parse.quote(str(db_path)) + "?mode=ro"
    last: sqlite3.Error | None = None
    for suffix in ("", "&immutable=1"):
        db = sqlite3.connect(uri + suffix, uri=True, timeout=30.0, isolation_level=None)
        try:
            db.execute("PRAGMA busy_timeout = 30000")
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error as exc:
            db.close()
            if is_damage(exc):
                raise explain(exc, db_path.parent) or exc from None
            last = exc
            continue
        return db
    assert last is not None
    raise explain(last, db_path.parent) or last
