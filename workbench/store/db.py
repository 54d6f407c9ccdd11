"""Opening the case database safely and changing it atomically.

* WAL journal: readers never block the (single) writer, and a killed process leaves either a whole transaction
  or none of it. ``synchronous=FULL``: WAL with NORMAL is already safe when a *process* dies, but can lose the
  last commits on a power cut; a clinic's record and audit trail are worth one extra fsync per commit (the
  store writes a few rows per pipeline step, so the cost is milliseconds).
* Private files: the database (and its -wal / -shm companions, which SQLite creates with the database's mode)
  are 0600, a folder the store creates is 0700.
* Every write is ``BEGIN IMMEDIATE ... COMMIT``: it takes the write lock up front, waits up to ``timeout`` for
  another writer (``busy_timeout``), and is retried as a whole on SQLITE_BUSY until the deadline.
* A damaged file, a file that is not ours, or a database written by newer code is refused before anything is
  written to it.
"""
from __future__ import annotations

import os
import sqlite3
import stat
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeVar

from .errors import CorruptDatabaseError, DatabaseBusyError, StoreError
from .migrations import LATEST_VERSION, MIGRATIONS, Migration

T = TypeVar("T")

SQLITE_HEADER = b"SQLite format 3\x00"
_BUSY_CODES = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED
_CORRUPT_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB
_IO_CODES = {3: "permission denied", 8: "read-only", 10: "disk input/output error", 13: "disk full",
             14: "cannot open the file"}


def utc_now() -> str:
    """ISO 8601 UTC time with microseconds: sortable as text, unambiguous across time zones."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


# ====================================================================== errors
def _code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def is_busy(exc: BaseException) -> bool:
    """True for 'database is locked / busy' errors, which are worth waiting for and retrying."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = _code(exc)
    if code is not None:
        return code in _BUSY_CODES
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def translate(exc: sqlite3.Error, path: Path, timeout: float) -> StoreError:
    """An sqlite3 error as a plain-words `StoreError` (the original stays chained as ``__cause__``)."""
    code = _code(exc)
    text = str(exc)
    if is_busy(exc):
        return DatabaseBusyError(
            f"The case database {path} is busy: another program kept it locked for more than {timeout:g} s.",
            hint="Wait a moment and try again; if it keeps happening, close other workbench windows.")
    if code in _CORRUPT_CODES or "malformed" in text or "not a database" in text:
        return corrupt_error(path)
    if code in _IO_CODES:
        return StoreError(f"The case database {path} cannot be used ({_IO_CODES[code]}: {text}).",
                          hint="Check that the disk has free space and that you may write to this folder.")
    return StoreError(f"The case database {path} refused the change: {text}.")


def corrupt_error(path: Path) -> CorruptDatabaseError:
    return CorruptDatabaseError(
        f"The case database {path} is damaged or is not a workbench case database. "
        "Nothing in it was changed.",
        hint="Restore it from your latest backup, or move the file aside (the workbench then starts a new, "
             "empty database) and keep the damaged copy for support.")


# ====================================================================== files
def private_file(path: Path) -> None:
    """chmod 0600 if the file exists (best effort: it may belong to someone else)."""
    try:
        if path.exists() and stat.S_IMODE(path.stat().st_mode) != 0o600:
            os.chmod(path, 0o600)
    except OSError:
        pass


def private_dir(path: Path) -> None:
    """Create the folder (and parents) if needed; the folders created here are 0700."""
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            continue
        os.chmod(folder, 0o700)  # mkdir's mode is filtered by the umask
    if not path.is_dir():
        raise StoreError(f"{path} is a file, not a folder, so the case database cannot be kept there.")


def _prepare_file(path: Path) -> None:
    if path.is_dir():
        raise StoreError(f"The case database path {path} is a folder; it must be a file.",
                         hint="Set db_path in the settings to a file name such as cases.sqlite.")
    private_dir(path.parent)
    if path.exists():
        with open(path, "rb") as fh:
            head = fh.read(len(SQLITE_HEADER))
        if head and head != SQLITE_HEADER:  # an empty file is a valid empty database
            raise corrupt_error(path)
    else:
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))  # 0600 from the start, whatever the umask
    private_file(path)


# ====================================================================== connections
def connect(path: Path, *, timeout: float = 30.0, migrate_schema: bool = True) -> sqlite3.Connection:
    """Open (creating if needed) the database with the store's pragmas, and bring its schema up to date."""
    path = Path(path)
    try:
        _prepare_file(path)
    except OSError as exc:
        raise StoreError(f"The case database {path} cannot be created or read ({exc.strerror or exc}).",
                         hint="Check that you may write to this folder, or set db_path to another place.") from exc
    try:
        conn = sqlite3.connect(str(path), timeout=timeout, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise translate(exc, path, timeout) from exc
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA recursive_triggers = ON")  # so INSERT OR REPLACE cannot bypass the delete triggers
        retry_busy(lambda: check_ours(conn, path), timeout)  # before WAL mode rewrites the file header
        mode = retry_busy(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone()[0], timeout)
        if str(mode).lower() != "wal":
            raise StoreError(f"The case database {path} cannot use write-ahead logging (journal mode {mode}).",
                             hint="Keep the database on a local disk, not a network share.")
        conn.execute("PRAGMA synchronous = FULL")
        if migrate_schema:
            migrate(conn, path=path, timeout=timeout)
    except sqlite3.Error as exc:
        conn.close()
        raise translate(exc, path, timeout) from exc
    except BaseException:
        conn.close()
        raise
    for companion in ("-wal", "-shm"):
        private_file(path.with_name(path.name + companion))
    return conn


def retry_busy(fn: Callable[[], T], timeout: float) -> T:
    """Run ``fn``, retrying on SQLITE_BUSY (with back-off) until ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        try:
            return fn()
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.25)


def _transaction(conn: sqlite3.Connection, begin: str, fn: Callable[[sqlite3.Connection], T]) -> T:
    conn.execute(begin)
    try:
        result = fn(conn)
        conn.execute("COMMIT")
        return result
    except BaseException:
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
        raise


def write(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T], *, timeout: float = 30.0) -> T:
    """Run ``fn(conn)`` in one ``BEGIN IMMEDIATE`` transaction: all of its rows are committed, or none.

    ``fn`` may run more than once (after SQLITE_BUSY), so it must only touch the database."""
    return retry_busy(lambda: _transaction(conn, "BEGIN IMMEDIATE", fn), timeout)


def read(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T], *, timeout: float = 30.0) -> T:
    """Run ``fn(conn)`` in one read transaction, so a view made of several queries is a consistent snapshot."""
    return retry_busy(lambda: _transaction(conn, "BEGIN", fn), timeout)


# ====================================================================== migrations
def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def check_ours(conn: sqlite3.Connection, where: Path, latest: int = LATEST_VERSION) -> int:
    """The schema version, after refusing (read-only) a database from newer code or someone else's database."""
    current = schema_version(conn)
    if current > latest:
        raise StoreError(
            f"The case database {where} was written by a newer version of the workbench (schema {current}; this "
            f"version knows schema {latest} at most), so it was not opened. Nothing in it was changed.",
            hint="Update the workbench to the newest version, or set db_path to another file.")
    if current == 0 and conn.execute("SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
                                     ).fetchone()[0]:
        raise CorruptDatabaseError(
            f"{where} is an SQLite database but not a workbench case database, so it was not opened. "
            "Nothing in it was changed.", hint="Set db_path in the settings to a new file name.")
    return current


def statements(sql: str) -> Iterator[str]:
    """Split a script into complete statements (trigger bodies keep their inner semicolons)."""
    buffer = ""
    for piece in sql.split(";"):
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            if buffer.strip(" \t\r\n;"):
                yield buffer.strip()
            buffer = ""
    if buffer.strip(" \t\r\n;"):
        raise ValueError(f"incomplete SQL statement in migration: {buffer.strip()[:80]}")


def migrate(conn: sqlite3.Connection, *, migrations: tuple[Migration, ...] = MIGRATIONS,
            target: int | None = None, path: Path | None = None, timeout: float = 30.0) -> int:
    """Apply the pending migrations in order, each in its own transaction; returns the schema version.

    Idempotent and safe when several processes open a new database at once (each migration re-checks the
    version under the write lock). A database from newer code is refused rather than guessed at."""
    where = path or Path(conn.execute("PRAGMA database_list").fetchone()[2] or ":memory:")
    latest = migrations[-1].version if migrations else 0
    target = latest if target is None else target
    current = check_ours(conn, where, latest)
    for migration in migrations:
        if migration.version > target:
            break
        if migration.version <= current:
            continue

        def apply(c: sqlite3.Connection, m: Migration = migration) -> int:
            now = schema_version(c)
            if now >= m.version:  # another process got there first
                return now
            check_ours(c, where, latest)
            if now != m.version - 1:
                raise StoreError(f"The case database {where} is at schema {now} and cannot be upgraded to "
                                 f"{m.version} directly.")
            for statement in statements(m.sql):
                c.execute(statement)
            c.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                      (m.version, m.name, utc_now()))
            c.execute(f"PRAGMA user_version = {int(m.version)}")
            return m.version

        current = write(conn, apply, timeout=timeout)
    return current


__all__ = ["LATEST_VERSION", "connect", "migrate", "read", "write", "schema_version", "utc_now"]
