"""Workshops: an instructor's class, its participants and their lesson answers,
in one SQLite file beside the datasets (``<workspace root>/workshops.sqlite``).

A workshop is found by a short join code; participants are visitor keys
(:mod:`morph_core.access`) with a display name unique in the workshop. Its
instructor holds a separate key (only its hash is stored), needed for every
change: pause, end, reveal, archive. Answers are appended, never updated: a
participant's score of a lesson is their latest answer. Nothing is deleted
except by :meth:`WorkshopStore.delete`, which asks for the title typed again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from morph_core.access import Refused, new_key
from morph_core.errors import MorphCoreError
from morph_core.store.sqlite import SqliteFile

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud
CODE_LENGTH = 6
STATES = ("open", "paused", "ended", "archived")
MAX_TITLE = 80
MAX_NAME = 40
MAX_PARTICIPANTS = 60  # a class of 30 with room: a leaked code cannot bring a crowd

_SCHEMA = """
CREATE TABLE IF NOT EXISTS workshops (
    workshop_id TEXT PRIMARY KEY,
    code TEXT NOT NULL,
    title TEXT NOT NULL,
    dataset TEXT NOT NULL,
    lessons TEXT NOT NULL,
    ends_at REAL,
    state TEXT NOT NULL CHECK (state IN ('open', 'paused', 'ended', 'archived')),
    revealed TEXT NOT NULL DEFAULT '[]',
    instructor TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS workshops_code ON workshops (code)
    WHERE state != 'archived';
CREATE TABLE IF NOT EXISTS participants (
    workshop_id TEXT NOT NULL,
    visitor TEXT NOT NULL,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    joined_at REAL NOT NULL,
    left_at REAL,
    PRIMARY KEY (workshop_id, visitor),
    UNIQUE (workshop_id, name_key)
);
CREATE TABLE IF NOT EXISTS answers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workshop_id TEXT NOT NULL,
    visitor TEXT NOT NULL,
    lesson TEXT NOT NULL,
    answer TEXT NOT NULL,
    score TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS answers_by ON answers (workshop_id, visitor, lesson, id);
"""


class WrongCode(MorphCoreError):
    """No open workshop has this join code (or it has ended)."""


@dataclass(frozen=True)
class Workshop:
    """One class: what it teaches and how far it is."""

    workshop_id: str
    code: str
    title: str
    dataset: str
    lessons: tuple[str, ...]
    ends_at: float | None
    state: str
    revealed: tuple[str, ...]
    instructor: str  # the visitor key of who created it
    created_at: float

    def status(self, now: float | None = None) -> str:
        """``state``, or "ended" once ``ends_at`` has passed."""
        now = time.time() if now is None else now
        if self.state in ("open", "paused") and self.ends_at and now >= self.ends_at:
            return "ended"
        return self.state

    def accepting(self, now: float | None = None) -> bool:
        """Whether participants may join and answer now."""
        return self.status(now) == "open"


@dataclass(frozen=True)
class Participant:
    workshop_id: str
    visitor: str
    name: str
    joined_at: float
    left_at: float | None = None


def normalise_code(text: str) -> str:
    """A typed join code in its stored form (case, spaces and dashes ignored).

    >>> normalise_code(" k7m-q2p ")
    'K7MQ2P'
    """
    return "".join(ch for ch in str(text).upper() if ch.isalnum())


def _clean(text: str, limit: int) -> str:
    return " ".join(str(text).split())[:limit]


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class WorkshopStore(SqliteFile):
    """Every workshop of a server (see the module's docstring)."""

    SCHEMA = _SCHEMA
    WHAT = "workshops"

    # -- the instructor -----------------------------------------------------------

    def create(
        self,
        title: str,
        dataset: str,
        lessons: list[str],
        instructor: str,
        ends_at: float | None = None,
    ) -> tuple[Workshop, str]:
        """A new open workshop and its instructor key (shown once: keep it).

        Raises
        ------
        MorphCoreError
            An empty title, no lessons, an end time in the past.
        """
        title = _clean(title, MAX_TITLE)
        if not title:
            raise MorphCoreError("a workshop needs a title")
        if not lessons:
            raise MorphCoreError("a workshop needs at least one lesson")
        if ends_at is not None and ends_at <= time.time():
            raise MorphCoreError("the end time has passed already")
        key = new_key()
        workshop_id = secrets.token_hex(6)
        with self._transaction() as db:
            for _ in range(20):  # a free code (30^6 of them: almost always at once)
                code = "".join(
                    secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH)
                )
                try:
                    db.execute(
                        "INSERT INTO workshops VALUES (?, ?, ?, ?, ?, ?, 'open', '[]', "
                        "?, ?, ?)",
                        (
                            workshop_id,
                            code,
                            title,
                            dataset,
                            json.dumps(list(lessons)),
                            ends_at,
                            instructor,
                            _key_hash(key),
                            time.time(),
                        ),
                    )
                    break
                except sqlite3.IntegrityError:
                    continue
        return self.get(workshop_id), key

    def check_key(self, workshop_id: str, key: str | None) -> Workshop:
        """The workshop, if ``key`` is its instructor key.

        Raises
        ------
        Refused
            No key, a wrong key or an unknown workshop (one message for all).
        """
        workshop = self._find("workshop_id = ?", workshop_id)
        if workshop is None or not key:
            raise Refused("This needs the workshop's instructor key.")
        with self._connect() as db:
            stored = db.execute(
                "SELECT key_hash FROM workshops WHERE workshop_id = ?", (workshop_id,)
            ).fetchone()[0]
        if not hmac.compare_digest(stored, _key_hash(key)):
            raise Refused("This needs the workshop's instructor key.")
        return workshop

    def set_state(self, workshop_id: str, key: str, state: str) -> Workshop:
        """Pause, resume ("open"), end or archive (its code is then free again)."""
        if state not in STATES:
            raise MorphCoreError(f"unknown state {state!r}; choose from {STATES}")
        workshop = self.check_key(workshop_id, key)
        if workshop.state == "archived" and state != "archived":
            raise MorphCoreError("an archived workshop stays archived")
        with self._transaction() as db:
            db.execute(
                "UPDATE workshops SET state = ? WHERE workshop_id = ?",
                (state, workshop_id),
            )
        return self.get(workshop_id)

    def reveal(self, workshop_id: str, key: str, lesson: str) -> Workshop:
        """Show a lesson's answers to the participants."""
        workshop = self.check_key(workshop_id, key)
        if lesson not in workshop.lessons:
            raise MorphCoreError(f"this workshop has no lesson {lesson!r}")
        revealed = sorted({*workshop.revealed, lesson})
        with self._transaction() as db:
            db.execute(
                "UPDATE workshops SET revealed = ? WHERE workshop_id = ?",
                (json.dumps(revealed), workshop_id),
            )
        return self.get(workshop_id)

    def delete(self, workshop_id: str, key: str, confirm: str) -> None:
        """Delete a workshop with its participants and answers, for good.

        Raises
        ------
        MorphCoreError
            ``confirm`` is not the workshop's title (nothing is deleted).
        """
        workshop = self.check_key(workshop_id, key)
        if _clean(confirm, MAX_TITLE) != workshop.title:
            raise MorphCoreError(
                "Nothing was deleted: type the workshop's title to confirm."
            )
        with self._transaction() as db:
            for table in ("answers", "participants", "workshops"):
                db.execute(f"DELETE FROM {table} WHERE workshop_id = ?", (workshop_id,))

    # -- finding ------------------------------------------------------------------

    def get(self, workshop_id: str) -> Workshop:
        workshop = self._find("workshop_id = ?", workshop_id)
        if workshop is None:
            raise MorphCoreError("no such workshop")
        return workshop

    def by_code(self, code: str) -> Workshop:
        """The workshop a participant joins with ``code``.

        Raises
        ------
        WrongCode
            No workshop has it, or it was archived, ended or is past its end.
        """
        workshop = self._find("code = ? AND state != 'archived'", normalise_code(code))
        if workshop is None:
            raise WrongCode("No workshop has this code: check it with your instructor.")
        if workshop.status() == "ended":
            raise WrongCode("This workshop has ended.")
        return workshop

    def workshops(self, instructor: str | None = None) -> list[Workshop]:
        """Every workshop (of one instructor), newest first."""
        where, args = ("instructor = ?", (instructor,)) if instructor else ("1", ())
        with self._connect() as db:
            rows = db.execute(
                f"SELECT * FROM workshops WHERE {where} ORDER BY created_at DESC", args
            ).fetchall()
        return [_workshop(row) for row in rows]

    def _find(self, where: str, *args) -> Workshop | None:
        with self._connect() as db:
            row = db.execute(f"SELECT * FROM workshops WHERE {where}", args).fetchone()
        return _workshop(row) if row else None

    # -- participants -------------------------------------------------------------

    def join(self, code: str, visitor: str, name: str) -> tuple[Workshop, Participant]:
        """Join (or come back to) the workshop of ``code`` as ``name``.

        Raises
        ------
        WrongCode
            Unknown, archived or ended code.
        MorphCoreError
            The workshop is paused or full (:data:`MAX_PARTICIPANTS`; one who
            joined before comes back), no name, or the name is someone else's here.
        """
        workshop = self.by_code(code)
        if workshop.status() == "paused":
            raise MorphCoreError("The workshop is paused: try again in a moment.")
        name = _clean(name, MAX_NAME)
        if not name:
            raise MorphCoreError("Type a display name to join.")
        with self._transaction() as db:
            taken = db.execute(
                "SELECT visitor FROM participants WHERE workshop_id = ? AND "
                "name_key = ?",
                (workshop.workshop_id, name.casefold()),
            ).fetchone()
            if taken and taken[0] != visitor:
                raise MorphCoreError(
                    f"Someone in this workshop is called {name!r} already: pick "
                    "another name."
                )
            seated = db.execute(
                "SELECT COUNT(*), SUM(visitor = ?) FROM participants "
                "WHERE workshop_id = ?",
                (visitor, workshop.workshop_id),
            ).fetchone()
            if seated[0] >= MAX_PARTICIPANTS and not seated[1]:
                raise MorphCoreError(
                    f"The workshop is full ({MAX_PARTICIPANTS} participants): ask "
                    "the instructor."
                )
            db.execute(
                "INSERT INTO participants VALUES (?, ?, ?, ?, ?, NULL) "
                "ON CONFLICT (workshop_id, visitor) DO UPDATE SET "
                "name = excluded.name, name_key = excluded.name_key, left_at = NULL",
                (workshop.workshop_id, visitor, name, name.casefold(), time.time()),
            )
        return workshop, self.participant(workshop.workshop_id, visitor)

    def leave(self, workshop_id: str, visitor: str) -> None:
        """Leave the workshop; answers, ratings and runs stay (a rejoin resumes)."""
        with self._transaction() as db:
            db.execute(
                "UPDATE participants SET left_at = ? WHERE workshop_id = ? AND "
                "visitor = ?",
                (time.time(), workshop_id, visitor),
            )

    def participant(self, workshop_id: str, visitor: str) -> Participant | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT workshop_id, visitor, name, joined_at, left_at FROM "
                "participants WHERE workshop_id = ? AND visitor = ?",
                (workshop_id, visitor),
            ).fetchone()
        return Participant(*row) if row else None

    def current(self, visitor: str) -> tuple[Workshop, Participant] | None:
        """The workshop ``visitor`` last joined and has not left or seen archived."""
        with self._connect() as db:
            row = db.execute(
                "SELECT p.workshop_id FROM participants p JOIN workshops w "
                "ON w.workshop_id = p.workshop_id WHERE p.visitor = ? AND "
                "p.left_at IS NULL AND w.state != 'archived' "
                "ORDER BY p.joined_at DESC LIMIT 1",
                (visitor,),
            ).fetchone()
        if row is None:
            return None
        return self.get(row[0]), self.participant(row[0], visitor)

    def participants(self, workshop_id: str) -> pd.DataFrame:
        """``visitor``, ``name``, ``joined_at``, ``left_at``, in joining order."""
        with self._connect() as db:
            return pd.read_sql_query(
                "SELECT visitor, name, joined_at, left_at FROM participants WHERE "
                "workshop_id = ? ORDER BY joined_at, name",
                db,
                params=[workshop_id],
            )

    # -- answers ------------------------------------------------------------------

    def answer(
        self, workshop_id: str, visitor: str, lesson: str, answer: dict, score: dict
    ) -> None:
        """Record a participant's answer to a lesson with its score.

        Raises
        ------
        MorphCoreError
            Not a participant, a lesson the workshop does not hold, or the
            workshop is paused or has ended.
        """
        workshop = self.get(workshop_id)
        if lesson not in workshop.lessons:
            raise MorphCoreError(f"this workshop has no lesson {lesson!r}")
        if not workshop.accepting():
            raise MorphCoreError(
                f"The workshop is {workshop.status()}: answers are not taken now."
            )
        if self.participant(workshop_id, visitor) is None:
            raise MorphCoreError("Join the workshop first.")
        with self._transaction() as db:
            db.execute(
                "INSERT INTO answers (workshop_id, visitor, lesson, answer, score, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    workshop_id,
                    visitor,
                    lesson,
                    json.dumps(answer),
                    json.dumps(score),
                    time.time(),
                ),
            )

    def answers(self, workshop_id: str, latest: bool = True) -> pd.DataFrame:
        """Answers (each participant's latest per lesson, or all): ``visitor``,
        ``lesson``, ``answer`` and ``score`` (dicts), ``created_at``."""
        with self._connect() as db:
            table = pd.read_sql_query(
                "SELECT visitor, lesson, answer, score, created_at FROM answers "
                "WHERE workshop_id = ? ORDER BY id",
                db,
                params=[workshop_id],
            )
        if latest:
            table = table.drop_duplicates(["visitor", "lesson"], keep="last")
        for column in ("answer", "score"):
            table[column] = table[column].map(json.loads)
        return table.reset_index(drop=True)


def _workshop(row: tuple) -> Workshop:
    (workshop_id, code, title, dataset, lessons, ends_at, state, revealed) = row[:8]
    instructor, _, created_at = row[8:]
    return Workshop(
        workshop_id,
        code,
        title,
        dataset,
        tuple(json.loads(lessons)),
        ends_at,
        state,
        tuple(json.loads(revealed)),
        instructor,
        created_at,
    )


def workshop_store(root: Path) -> WorkshopStore:
    """The workshops of the server whose workspace root is ``root``."""
    return WorkshopStore(Path(root) / "workshops.sqlite")
