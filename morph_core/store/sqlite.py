"""One SQLite file shared by every visitor of a server: connections, write
transactions and the schema, for the stores built on it (ratings, workshops)."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from morph_core.errors import MorphCoreError


class _Writer:
    """This process's one write connection to a file, used under its lock.

    The visitors of one server queue on the lock, so SQLite's own lock (polled
    with sleeps of up to 100 ms) is only ever contended by other processes: with
    18 raters at once, waits on it made a 1 ms click take seconds. The
    connection stays open: opening one per write and closing it (the last
    connection to close checkpoints the write-ahead log, with its own syncs)
    held the lock for most of each write; 30 raters clicking queued seconds on it.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.connection: sqlite3.Connection | None = None
        self.file: tuple[int, int] | None = None  # (device, inode) it was opened on

    def open(self, store: SqliteFile) -> sqlite3.Connection:
        """The open connection (call with the lock held); a new one when the
        file was moved aside or replaced since."""
        try:
            stat = os.stat(store.path)
            file = (stat.st_dev, stat.st_ino)
        except FileNotFoundError:
            file = None
        if self.connection is None or file != self.file:
            self.close()
            store._ready = False  # a new file: its schema made again
            self.connection = store._open()
            stat = os.stat(store.path)
            self.file = (stat.st_dev, stat.st_ino)
        return self.connection

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
        self.connection, self.file = None, None


_WRITERS: OrderedDict[str, _Writer] = OrderedDict()  # file -> this process's writer
_WRITERS_LOCK = threading.Lock()
_MAX_WRITERS = 16  # open files kept (a server writes a few; tests make hundreds)


def _writer(path: Path) -> _Writer:
    """This process's writer of the file at ``path``; the least recently used
    idle ones beyond :data:`_MAX_WRITERS` are closed."""
    with _WRITERS_LOCK:
        key = str(path.resolve())
        writer = _WRITERS.setdefault(key, _Writer())
        _WRITERS.move_to_end(key)
        for old in list(_WRITERS)[: max(len(_WRITERS) - _MAX_WRITERS, 0)]:
            idle = _WRITERS[old]
            if idle.lock.acquire(blocking=False):  # (one in use stays)
                try:
                    _WRITERS.pop(old).close()
                finally:
                    idle.lock.release()
        return writer


class SqliteFile:
    """A SQLite file: ``SCHEMA`` created on first use, each call on its own
    connection (WAL mode, busy timeout), so one object serves every visitor.

    Subclasses set ``SCHEMA`` and may extend :meth:`_migrate` (run once per
    object, inside the schema's transaction).
    """

    SCHEMA = ""
    WHAT = "data"  # in messages: "the <WHAT> file of ..."

    def __init__(self, path: Path):
        self.path = Path(path)
        self._ready = False

    def _open(self) -> sqlite3.Connection:
        """A new connection (the schema set up on the object's first)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            connection = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            connection.execute("PRAGMA synchronous=FULL")  # committed = on disk
            if not self._ready:
                self._set_up(connection)
        except sqlite3.DatabaseError as e:
            raise MorphCoreError(
                f"the {self.WHAT} file of {self.path.parent.name!r} cannot be opened "
                f"({e}); it is left as it is: move it aside to start a new one, or "
                "restore a backup"
            ) from e
        return connection

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection for reading, closed on leaving."""
        connection = self._open()
        try:
            yield connection
        except sqlite3.OperationalError as e:
            raise MorphCoreError(f"the {self.WHAT} file is busy or locked: {e}") from e
        finally:
            connection.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, on this process's writer (:class:`_Writer`):
        committed on leaving, rolled back on an error."""
        writer = _writer(self.path)
        with writer.lock:
            db = writer.open(self)
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    yield db
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
            except sqlite3.OperationalError as e:
                writer.close()  # a fresh connection for the next write
                raise MorphCoreError(
                    f"the {self.WHAT} file is busy or locked: {e}"
                ) from e
            except sqlite3.DatabaseError:
                writer.close()
                raise

    def _set_up(self, connection: sqlite3.Connection) -> None:
        """Create or update the schema, once per object (one transaction)."""
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("BEGIN IMMEDIATE")
        try:
            for statement in self.SCHEMA.split(";"):
                if statement.strip():
                    connection.execute(statement)
            self._migrate(connection)
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
        self._ready = True

    def _migrate(self, connection: sqlite3.Connection) -> None:
        """Bring an older file up to date (nothing by default)."""
