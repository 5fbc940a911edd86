"""One SQLite file shared by every visitor of a server: connections, write
transactions and the schema, for the stores built on it (ratings, workshops)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from morph_core.errors import MorphCoreError

_WRITERS: dict[str, threading.Lock] = {}  # file -> this process's writer
_WRITERS_LOCK = threading.Lock()


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

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            connection.execute("PRAGMA synchronous=FULL")  # committed = on disk
            if not self._ready:
                self._set_up(connection)
        except sqlite3.DatabaseError as e:
            raise MorphCoreError(
                f"the {self.WHAT} file of {self.path.parent.name!r} cannot be opened "
                f"({e}); it is left as it is: move it aside to start a new one, or "
                "restore a backup"
            ) from e
        try:
            yield connection
        except sqlite3.OperationalError as e:
            raise MorphCoreError(f"the {self.WHAT} file is busy or locked: {e}") from e
        finally:
            connection.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: committed on leaving, rolled back on an error.

        The visitors of one server queue on a lock of this process first, so
        SQLite's own lock (polled with sleeps of up to 100 ms) is only ever
        contended by other processes: with 18 raters at once, waits on it made
        a 1 ms click take seconds.
        """
        with _WRITERS_LOCK:
            writer = _WRITERS.setdefault(str(self.path.resolve()), threading.Lock())
        with writer, self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

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
