"""Connections to a journal file: the writer's, and a reader's that never writes.

A reader opens the file ``mode=ro``. In WAL mode it still needs the ``-shm`` index, which it may have
to create. Where it cannot (a read-only mount or directory, a full disk) and no ``-wal`` file holds
commits (so no writer has the journal open and the main file holds every commit), it opens the journal
``immutable``, which needs no ``-shm``. Any other failure is reported as it is, never as "not a
hiernas journal".
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from urllib.parse import quote

from evolution.journal_format import JournalError, compatibility_views, format_version


def connect(path: Path) -> sqlite3.Connection:
    """The writer's connection (WAL)."""
    try:
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA busy_timeout = 30000")
        connection.execute("PRAGMA journal_mode = WAL")
        # NORMAL in WAL mode: a committed transaction survives the process being killed;
        # only a power loss could take back the last few, and never corrupts the file.
        connection.execute("PRAGMA synchronous = NORMAL")
        connection.execute("PRAGMA foreign_keys = ON")
        return connection
    except sqlite3.DatabaseError as error:
        raise JournalError(f"{path}: cannot open the journal ({error})") from None


def connect_reader(path: Path) -> sqlite3.Connection:
    """A read-only connection to a journal whose format this hiernas reads."""
    wal = path.with_name(path.name + "-wal")
    logged = _has_frames(wal)
    immutable = not logged and not os.access(path.parent, os.W_OK)
    try:
        return _checked_reader(path, immutable=immutable)
    except JournalError as error:
        if logged and not os.access(path.parent, os.W_OK):
            raise JournalError(
                f"{error}; the journal has a -wal file, which a reader can only use with its -shm "
                f"index, and {path.parent} is read-only: copy the run directory somewhere writable"
            ) from None
        if immutable or logged or _has_frames(wal):
            raise
    return _checked_reader(path, immutable=True)


def _has_frames(wal: Path) -> bool:
    """Whether a write-ahead log holds commits not yet in the main file (an empty one, which a
    failed reader may leave behind, holds none)."""
    try:
        return wal.stat().st_size > 0
    except FileNotFoundError:
        return False


def _checked_reader(path: Path, *, immutable: bool) -> sqlite3.Connection:
    uri = f"file:{quote(str(path.absolute()))}?mode=ro" + ("&immutable=1" if immutable else "")
    try:
        connection = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        # Readers wait for a writer's short transaction instead of failing with "locked".
        connection.execute("PRAGMA busy_timeout = 30000")
    except sqlite3.DatabaseError as error:
        raise JournalError(f"{path}: cannot open the journal ({error})") from None
    try:
        version = checked_version(connection, path)
        compatibility_views(connection, version)
    except sqlite3.DatabaseError as error:
        connection.close()
        raise JournalError(f"{path}: cannot read the journal ({error})") from None
    except BaseException:
        connection.close()
        raise
    return connection


def checked_version(connection: sqlite3.Connection, path: Path) -> int:
    """The journal's format version; ``JournalError`` naming the file when it cannot be read."""
    try:
        return format_version(connection)
    except ValueError as error:
        raise JournalError(f"{path}: {error}") from None
    except sqlite3.DatabaseError as error:
        raise JournalError(f"{path}: cannot read the journal ({error})") from None
