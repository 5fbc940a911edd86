"""Durable ratings: an append-only SQLite event log per workspace.

Every rating, undo and "start over" is one inserted row; nothing is updated or
deleted, so a crash, a reload or two visitors at once never lose a saved rating.
A rater's current rating of a galaxy is their latest event for it in their
current round; ``version`` (the newest event id) changes with every event and
keys the caches of what is fitted on the ratings.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from morph_core.errors import MorphCoreError

RATINGS = range(0, 6)  # 0 (not interesting) to 5 (very interesting), Walmsley+22 §3.2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    rater TEXT NOT NULL,
    round INTEGER NOT NULL,
    galaxy_id TEXT,
    rating INTEGER CHECK (rating BETWEEN 0 AND 5),
    kind TEXT NOT NULL CHECK (kind IN ('rate', 'undo', 'start_over')),
    session TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS events_rater ON events (rater, round, id);
"""


class RatingStore:
    """Ratings of every rater of one dataset, in ``<workspace>/ratings.sqlite``.

    Holds only the path: each call opens its own connection (WAL mode, busy
    timeout), so one store can be shared by every visitor of a server.

    Parameters
    ----------
    path : Path
        The SQLite file; created on first use.
    known_ids : collection of str, optional
        Galaxy ids that may be rated (the dataset's); others are refused.
    """

    def __init__(self, path: Path, known_ids=None):
        self.path = Path(path)
        self.known_ids = frozenset(known_ids) if known_ids is not None else None

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            connection.executescript(_SCHEMA)
        except sqlite3.DatabaseError as e:
            raise MorphCoreError(
                f"the ratings file {self.path} cannot be opened ({e}); it is left "
                "as it is: move it aside to start a new one, or restore a backup"
            ) from e
        try:
            yield connection
        except sqlite3.OperationalError as e:
            raise MorphCoreError(
                f"the ratings file {self.path} is busy or locked: {e}"
            ) from e
        finally:
            connection.close()

    def round(self, rater: str) -> int:
        """How many times the rater started over (their current round)."""
        with self._connect() as db:
            return self._round(db, rater)

    def _round(self, db: sqlite3.Connection, rater: str) -> int:
        row = db.execute(
            "SELECT COUNT(*) FROM events WHERE rater = ? AND kind = 'start_over'",
            (rater,),
        ).fetchone()
        return int(row[0])

    def rate(self, rater: str, galaxy_id: str, rating: int, session: str = "") -> int:
        """Save one rating; returns its event id.

        Raises
        ------
        MorphCoreError
            A rating outside 0-5, an unknown galaxy, an empty rater name.
        """
        if not rater:
            raise MorphCoreError("a rating needs a rater name")
        if (
            isinstance(rating, bool)
            or not isinstance(rating, int)
            or rating not in RATINGS
        ):
            raise MorphCoreError(
                f"a rating is a whole number from 0 to 5, not {rating!r}"
            )
        if self.known_ids is not None and galaxy_id not in self.known_ids:
            raise MorphCoreError(f"galaxy {galaxy_id!r} is not in this dataset")
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            cursor = db.execute(
                "INSERT INTO events (rater, round, galaxy_id, rating, kind, session, "
                "created_at) VALUES (?, ?, ?, ?, 'rate', ?, ?)",
                (
                    rater,
                    self._round(db, rater),
                    galaxy_id,
                    rating,
                    session,
                    time.time(),
                ),
            )
            db.execute("COMMIT")
            return int(cursor.lastrowid)

    def undo(self, rater: str, session: str = "") -> str | None:
        """Take back the rater's last rating in this round; returns its galaxy id."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            last = self._effective(db, rater)
            if not last:
                db.execute("COMMIT")
                return None
            event_id, galaxy_id = last[-1]
            db.execute(
                "INSERT INTO events (rater, round, galaxy_id, rating, kind, session, "
                "created_at) VALUES (?, ?, ?, ?, 'undo', ?, ?)",
                (
                    rater,
                    self._round(db, rater),
                    str(event_id),
                    None,
                    session,
                    time.time(),
                ),
            )
            db.execute("COMMIT")
            return galaxy_id

    def start_over(self, rater: str, session: str = "") -> None:
        """Begin a new round; earlier rounds stay in the file (archived)."""
        with self._connect() as db:
            db.execute(
                "INSERT INTO events (rater, round, galaxy_id, rating, kind, session, "
                "created_at) VALUES (?, ?, NULL, NULL, 'start_over', ?, ?)",
                (rater, -1, session, time.time()),
            )

    def _effective(self, db: sqlite3.Connection, rater: str) -> list[tuple[int, str]]:
        """(event id, galaxy id) of the rater's rating events not undone, in order."""
        round_ = self._round(db, rater)
        rows = db.execute(
            "SELECT id, galaxy_id, kind FROM events WHERE rater = ? AND round = ? "
            "AND kind IN ('rate', 'undo') ORDER BY id",
            (rater, round_),
        ).fetchall()
        undone = {int(g) for _, g, kind in rows if kind == "undo"}
        return [(i, g) for i, g, kind in rows if kind == "rate" and i not in undone]

    def ratings(self, rater: str) -> pd.DataFrame:
        """Current ratings of one rater: ``galaxy_id``, ``rating``, ``rated_at``,
        in the order they were first given (latest rating per galaxy wins)."""
        with self._connect() as db:
            keep = [i for i, _ in self._effective(db, rater)]
            if not keep:
                return pd.DataFrame(
                    {
                        "galaxy_id": pd.Series(dtype=str),
                        "rating": pd.Series(dtype=int),
                        "rated_at": pd.Series(dtype=float),
                    }
                )
            marks = ",".join("?" * len(keep))
            table = pd.read_sql_query(
                f"SELECT id, galaxy_id, rating, created_at AS rated_at FROM events "
                f"WHERE id IN ({marks}) ORDER BY id",
                db,
                params=keep,
            )
        first = table.groupby("galaxy_id")["id"].transform("min")
        latest = table.sort_values("id").groupby("galaxy_id").tail(1)
        latest = latest.assign(first=first[latest.index]).sort_values("first")
        return latest[["galaxy_id", "rating", "rated_at"]].reset_index(drop=True)

    def version(self, rater: str | None = None) -> int:
        """Newest event id (of ``rater``, or of anyone): changes with every event."""
        with self._connect() as db:
            if rater is None:
                row = db.execute("SELECT MAX(id) FROM events").fetchone()
            else:
                row = db.execute(
                    "SELECT MAX(id) FROM events WHERE rater = ?", (rater,)
                ).fetchone()
        return int(row[0] or 0)

    def events(self) -> pd.DataFrame:
        """Every event of every rater, for export and audit."""
        with self._connect() as db:
            return pd.read_sql_query("SELECT * FROM events ORDER BY id", db)
