"""Durable ratings: an append-only SQLite event log per dataset.

Every rating, undo, skip and "start over" is one inserted row; nothing is
updated or deleted, so a crash, a reload or many visitors at once never lose a
saved rating. A rater is a visitor key (:mod:`morph_core.access`), with a
display name beside it. A rater's current rating of a galaxy is their latest
event for it in their current round.

Batches live here too, so that a click is checked and saved in one
transaction: a click from a page carries the batch it was shown and its own
``click_id``; a click on a batch that is no longer current, or on a galaxy the
batch no longer holds, is refused (:class:`StaleClick`) and never stored against
another galaxy, and the same ``click_id`` is saved at most once.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from morph_core.errors import MorphCoreError
from morph_core.store.sqlite import SqliteFile

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
CREATE TABLE IF NOT EXISTS raters (
    rater TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    batch_id TEXT NOT NULL UNIQUE,
    rater TEXT NOT NULL,
    round INTEGER NOT NULL,
    galaxy_ids TEXT NOT NULL,
    settings TEXT NOT NULL,
    fitted_on INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS batches_rater ON batches (rater, round, id);
CREATE TABLE IF NOT EXISTS skips (
    batch_id TEXT NOT NULL,
    galaxy_id TEXT NOT NULL,
    click_id TEXT UNIQUE,
    created_at REAL NOT NULL
);
"""
_COLUMNS = {"click_id": "TEXT", "batch_id": "TEXT"}  # added to older files


class StaleClick(MorphCoreError):
    """A click made on a page that no longer shows the rater's current batch."""


@dataclass(frozen=True)
class Batch:
    """A batch of galaxies proposed to one rater.

    Attributes
    ----------
    batch_id : str
        Unique; pages send it back with every click.
    galaxy_ids : list of str
        The batch, in the order shown.
    settings : dict
        What it was proposed with (start, features): other settings, new batch.
    fitted_on : int
        The rater's ratings version the model was fitted on (:meth:`RatingStore.ratings`
        with ``until``): the same batch always comes with the same model.
    remaining : list of str
        Galaxies of the batch not yet rated or skipped.
    """

    batch_id: str
    galaxy_ids: list[str]
    settings: dict
    fitted_on: int
    remaining: list[str] = field(default_factory=list)


class RatingStore(SqliteFile):
    """Ratings of every rater of one dataset, in ``<workspace>/ratings.sqlite``.

    Holds only the path: each call opens its own connection (WAL mode, busy
    timeout), so one store can be shared by every visitor of a server.

    Parameters
    ----------
    path : Path
        The SQLite file; created on first use.
    known_ids : set or pandas Index of str, optional
        Galaxy ids that may be rated (the dataset's); others are refused. Kept as
        given, not copied: a server passes the index of the catalogue it shares
        (a frozenset of a million ids took 100 MB more).
    """

    SCHEMA = _SCHEMA
    WHAT = "ratings"

    def __init__(self, path: Path, known_ids=None):
        super().__init__(path)
        self.known_ids = known_ids

    def _migrate(self, connection: sqlite3.Connection) -> None:
        have = {row[1] for row in connection.execute("PRAGMA table_info(events)")}
        for column, kind in _COLUMNS.items():
            if column not in have:
                connection.execute(f"ALTER TABLE events ADD COLUMN {column} {kind}")
        connection.execute(
            "CREATE UNIQUE INDEX IF NOT EXISTS events_click ON events (click_id) "
            "WHERE click_id IS NOT NULL"
        )

    # -- raters -------------------------------------------------------------------

    def set_name(self, rater: str, name: str) -> None:
        """Show ``name`` beside the rater's key (names need not be unique)."""
        name = " ".join(name.split())[:40]
        with self._transaction() as db:
            db.execute(
                "INSERT INTO raters (rater, name, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT (rater) DO UPDATE SET name = excluded.name",
                (rater, name, time.time()),
            )

    def name(self, rater: str) -> str | None:
        """The rater's display name, ``None`` if they never set one."""
        with self._connect() as db:
            row = db.execute(
                "SELECT name FROM raters WHERE rater = ?", (rater,)
            ).fetchone()
        return row[0] if row else None

    def raters(self) -> pd.DataFrame:
        """Every rater with events: ``rater`` (key), ``name``, ``events``."""
        with self._connect() as db:
            return pd.read_sql_query(
                "SELECT e.rater, COALESCE(r.name, e.rater) AS name, COUNT(*) AS events "
                "FROM events e LEFT JOIN raters r ON r.rater = e.rater "
                "GROUP BY e.rater ORDER BY MIN(e.id)",
                db,
            )

    # -- events -------------------------------------------------------------------

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

    def _insert(self, db, rater, kind, galaxy_id=None, rating=None, **extra) -> int:
        cursor = db.execute(
            "INSERT INTO events (rater, round, galaxy_id, rating, kind, session, "
            "created_at, click_id, batch_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                rater,
                -1 if kind == "start_over" else self._round(db, rater),
                galaxy_id,
                rating,
                kind,
                extra.get("session", ""),
                time.time(),
                extra.get("click_id"),
                extra.get("batch_id"),
            ),
        )
        return int(cursor.lastrowid)

    def _clicked(self, db, click_id: str | None) -> int | None:
        """The event id already saved for ``click_id``, if any."""
        if click_id is None:
            return None
        row = db.execute(
            "SELECT id FROM events WHERE click_id = ?", (click_id,)
        ).fetchone()
        return int(row[0]) if row else None

    def rate(
        self,
        rater: str,
        galaxy_id: str,
        rating: int,
        session: str = "",
        batch_id: str | None = None,
        click_id: str | None = None,
    ) -> int:
        """Save one rating; returns its event id.

        With ``batch_id`` (a click on a page), the galaxy must be one the
        rater's current batch still holds; a ``click_id`` already saved returns
        its event again (a click counts once, however often it is delivered).

        Raises
        ------
        StaleClick
            The page showed a batch that is no longer current, or the galaxy was
            already rated or skipped in it.
        MorphCoreError
            A rating outside 0-5, an unknown galaxy, an empty rater.
        """
        if not rater:
            raise MorphCoreError("a rating needs a rater")
        if (
            isinstance(rating, bool)
            or not isinstance(rating, int)
            or rating not in RATINGS
        ):
            raise MorphCoreError(
                f"a rating is a whole number from 0 to 5, not {rating!r}"
            )
        if self.known_ids is not None and galaxy_id not in self.known_ids:
            raise MorphCoreError("that galaxy is not in this dataset")
        with self._transaction() as db:
            done = self._clicked(db, click_id)
            if done is not None:
                return done
            if batch_id is not None:
                self._check_shown(db, rater, batch_id, galaxy_id)
            return self._insert(
                db,
                rater,
                "rate",
                galaxy_id,
                rating,
                session=session,
                click_id=click_id,
                batch_id=batch_id,
            )

    def _check_shown(self, db, rater: str, batch_id: str, galaxy_id: str) -> None:
        batch = self._current_batch(db, rater)
        if (
            batch is None
            or batch.batch_id != batch_id
            or galaxy_id not in batch.galaxy_ids
        ):
            raise StaleClick(
                f"Not saved: that click came from an out-of-date page (galaxy "
                f"{galaxy_id} is not in your current batch). The page now shows "
                "your current batch: rate it there."
            )
        if galaxy_id not in batch.remaining:
            raise StaleClick(
                f"Not saved again: galaxy {galaxy_id} is already rated or skipped "
                "in this batch (Undo changes a rating)."
            )

    def undo(
        self, rater: str, session: str = "", click_id: str | None = None
    ) -> str | None:
        """Take back the rater's last rating in this round; returns its galaxy id."""
        with self._transaction() as db:
            last = self._effective(db, rater)
            if not last or self._clicked(db, click_id) is not None:
                return None
            event_id, galaxy_id = last[-1]
            self._insert(
                db, rater, "undo", str(event_id), session=session, click_id=click_id
            )
            return galaxy_id

    def start_over(self, rater: str, session: str = "") -> None:
        """Begin a new round; earlier rounds stay in the file (archived)."""
        with self._transaction() as db:
            self._insert(db, rater, "start_over", session=session)

    def _effective(
        self, db: sqlite3.Connection, rater: str, until: int | None = None
    ) -> list[tuple[int, str]]:
        """(event id, galaxy id) of the rater's rating events not undone, in order
        (as they stood after event ``until``, when given)."""
        round_ = self._round(db, rater)
        rows = db.execute(
            "SELECT id, galaxy_id, kind FROM events WHERE rater = ? AND round = ? "
            "AND kind IN ('rate', 'undo') AND id <= ? ORDER BY id",
            (rater, round_, until if until is not None else 2**62),
        ).fetchall()
        undone = {int(g) for _, g, kind in rows if kind == "undo"}
        return [(i, g) for i, g, kind in rows if kind == "rate" and i not in undone]

    def ratings(self, rater: str, until: int | None = None) -> pd.DataFrame:
        """Current ratings of one rater: ``galaxy_id``, ``rating``, ``rated_at``,
        in the order they were first given (latest rating per galaxy wins); with
        ``until``, as they stood after that event (a batch's ``fitted_on``)."""
        with self._connect() as db:
            keep = [i for i, _ in self._effective(db, rater, until)]
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

    def count(self, rater: str) -> int:
        """How many galaxies the rater has rated in this round."""
        with self._connect() as db:
            return len({g for _, g in self._effective(db, rater)})

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

    def events(self, rater: str | None = None) -> pd.DataFrame:
        """Every event (of ``rater``, or of everyone), for export and audit."""
        with self._connect() as db:
            if rater is None:
                return pd.read_sql_query("SELECT * FROM events ORDER BY id", db)
            return pd.read_sql_query(
                "SELECT * FROM events WHERE rater = ? ORDER BY id", db, params=[rater]
            )

    # -- batches ------------------------------------------------------------------

    def current_batch(self, rater: str) -> Batch | None:
        """The rater's newest batch of this round, ``None`` when there is none."""
        with self._connect() as db:
            return self._current_batch(db, rater)

    def _current_batch(self, db: sqlite3.Connection, rater: str) -> Batch | None:
        row = db.execute(
            "SELECT batch_id, galaxy_ids, settings, fitted_on FROM batches "
            "WHERE rater = ? AND round = ? ORDER BY id DESC LIMIT 1",
            (rater, self._round(db, rater)),
        ).fetchone()
        if row is None:
            return None
        batch_id, ids, settings, fitted_on = row
        ids = json.loads(ids)
        rated = {g for _, g in self._effective(db, rater)}
        skipped = {
            g
            for (g,) in db.execute(
                "SELECT galaxy_id FROM skips WHERE batch_id = ?", (batch_id,)
            )
        }
        remaining = [g for g in ids if g not in rated and g not in skipped]
        return Batch(batch_id, ids, json.loads(settings), fitted_on, remaining)

    def new_batch(
        self,
        rater: str,
        galaxy_ids: list[str],
        settings: dict,
        fitted_on: int,
        replaces: str | None,
    ) -> Batch:
        """Make ``galaxy_ids`` the rater's current batch, unless their current
        batch is no longer ``replaces`` (another tab made one first: that one is
        returned, so two tabs of one rater agree)."""
        with self._transaction() as db:
            current = self._current_batch(db, rater)
            if current is not None and current.batch_id != replaces:
                return current
            db.execute(
                "INSERT INTO batches (batch_id, rater, round, galaxy_ids, settings, "
                "fitted_on, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    uuid.uuid4().hex,
                    rater,
                    self._round(db, rater),
                    json.dumps(list(galaxy_ids)),
                    json.dumps(settings, sort_keys=True),
                    fitted_on,
                    time.time(),
                ),
            )
            return self._current_batch(db, rater)

    def skip(
        self, rater: str, galaxy_id: str, batch_id: str, click_id: str | None = None
    ) -> None:
        """Leave a galaxy of the current batch unrated (refused like :meth:`rate`
        when the page was out of date; a repeated ``click_id`` counts once)."""
        with self._transaction() as db:
            seen = (
                click_id is not None
                and db.execute(
                    "SELECT 1 FROM skips WHERE click_id = ?", (click_id,)
                ).fetchone()
            )
            if not seen:
                self._check_shown(db, rater, batch_id, galaxy_id)
                db.execute(
                    "INSERT INTO skips (batch_id, galaxy_id, click_id, created_at)"
                    " VALUES (?, ?, ?, ?)",
                    (batch_id, galaxy_id, click_id, time.time()),
                )
