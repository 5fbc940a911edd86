import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from morph_core.errors import MorphCoreError
from morph_core.settings import PROJECT_ROOT
from morph_core.store.ratings import RatingStore, StaleClick


@pytest.fixture
def store(tmp_path):
    return RatingStore(
        tmp_path / "ratings.sqlite", known_ids={f"g{i}" for i in range(50)}
    )


def test_latest_rating_wins_and_raters_are_separate(store):
    store.rate("ann", "g1", 5)
    store.rate("ann", "g2", 0)
    store.rate("ann", "g1", 3)
    store.rate("bob", "g1", 1)
    ann = store.ratings("ann")
    assert ann["galaxy_id"].tolist() == ["g1", "g2"] and ann["rating"].tolist() == [
        3,
        0,
    ]
    assert store.ratings("bob")["rating"].tolist() == [1]
    assert store.ratings("nobody").empty


def test_undo_and_start_over_keep_history(store):
    store.rate("ann", "g1", 5)
    store.rate("ann", "g2", 4)
    assert store.undo("ann") == "g2"
    assert store.ratings("ann")["galaxy_id"].tolist() == ["g1"]
    assert store.undo("ann") == "g1" and store.undo("ann") is None
    store.rate("ann", "g3", 2)
    store.start_over("ann")
    assert store.ratings("ann").empty
    store.rate("ann", "g4", 1)
    assert store.ratings("ann")["galaxy_id"].tolist() == ["g4"]
    assert len(store.events()) == 7  # 3 rates, 2 undos, 1 start over, 1 rate: kept


def test_version_changes_with_every_event(store):
    v0 = store.version("ann")
    store.rate("ann", "g1", 5)
    v1 = store.version("ann")
    store.undo("ann")
    assert v0 < v1 < store.version("ann")
    store.rate("bob", "g1", 5)
    assert store.version() > store.version("ann")


@pytest.mark.parametrize(
    ("rater", "galaxy", "rating", "message"),
    [
        ("ann", "g1", 6, "from 0 to 5"),
        ("ann", "g1", -1, "from 0 to 5"),
        ("ann", "g1", 2.5, "from 0 to 5"),
        ("ann", "g1", True, "from 0 to 5"),
        ("ann", "nope", 3, "not in this dataset"),
        ("", "g1", 3, "needs a rater"),
    ],
)
def test_bad_ratings_are_refused_and_change_nothing(
    store, rater, galaxy, rating, message
):
    with pytest.raises(MorphCoreError, match=message):
        store.rate(rater, galaxy, rating)
    assert store.events().empty


def test_corrupt_file_is_a_clear_message_and_is_left_alone(tmp_path):
    path = tmp_path / "ratings.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    before = path.read_bytes()
    with pytest.raises(MorphCoreError, match="cannot be opened .*move it aside"):
        RatingStore(path).ratings("ann")
    assert path.read_bytes() == before


def test_two_visitors_at_once_lose_nothing(store):
    def rate(rater):
        for i in range(50):
            store.rate(rater, f"g{i}", i % 6)

    threads = [threading.Thread(target=rate, args=(r,)) for r in ("ann", "bob", "cy")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for rater in ("ann", "bob", "cy"):
        assert len(store.ratings(rater)) == 50
    assert len(store.events()) == 150


def test_a_file_moved_aside_while_serving_starts_a_new_one(store):
    store.rate("ann", "g1", 4)  # this process's writer now holds the file open
    for suffix in ("", "-wal", "-shm"):  # the file and its write-ahead log
        store.path.with_name(f"ratings.sqlite{suffix}").rename(
            store.path.with_name(f"old.sqlite{suffix}")
        )
    store.rate("ann", "g2", 5)  # not written into the moved file
    assert store.ratings("ann")["galaxy_id"].tolist() == ["g2"]
    old = RatingStore(store.path.with_name("old.sqlite"))
    assert old.ratings("ann")["galaxy_id"].tolist() == ["g1"]


def test_writes_from_another_process_meet_this_ones(store):
    store.rate("ann", "g0", 1)  # this process's writer stays open
    other = subprocess.run(
        [sys.executable, "-c", _OTHER, str(store.path)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert other.returncode == 0, other.stderr
    for i in range(1, 20):
        store.rate("bob", f"g{i}", 2)
    assert len(store.ratings("ann")) == 20
    assert len(store.ratings("bob")) == 19
    assert store.events()["id"].is_unique


_OTHER = """
import sys
from morph_core.store.ratings import RatingStore
store = RatingStore(sys.argv[1])
for i in range(1, 20):
    store.rate("ann", f"g{i}", 3)
"""

_WRITER = """
import sys
from morph_core.store.ratings import RatingStore, StaleClick
store = RatingStore(sys.argv[1])
i = 0
while True:
    event = store.rate("ann", f"g{i}", i % 6)
    print(event, flush=True)
    i += 1
"""


def test_a_killed_process_loses_no_saved_rating(tmp_path):
    path = tmp_path / "ratings.sqlite"
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    saved = []
    deadline = time.monotonic() + 60
    while len(saved) < 200 and time.monotonic() < deadline:
        saved.append(int(writer.stdout.readline()))
    os.kill(writer.pid, signal.SIGKILL)  # mid-write, most likely
    writer.wait()
    assert len(saved) == 200
    events = RatingStore(path).events()
    assert set(saved) <= set(events["id"])
    assert len(RatingStore(path).ratings("ann")) == len(events)


def _batch(store, rater="ann", ids=("g1", "g2", "g3"), replaces=None):
    return store.new_batch(rater, list(ids), {"start": "paper"}, 0, replaces)


def test_a_click_on_the_current_batch_is_saved_once(store):
    batch = _batch(store)
    first = store.rate("ann", "g2", 4, batch_id=batch.batch_id, click_id="c1")
    again = store.rate("ann", "g2", 4, batch_id=batch.batch_id, click_id="c1")
    assert first == again and len(store.events()) == 1
    assert store.current_batch("ann").remaining == ["g1", "g3"]
    with pytest.raises(StaleClick, match="already rated"):  # a double click
        store.rate("ann", "g2", 5, batch_id=batch.batch_id, click_id="c2")
    assert store.ratings("ann")["rating"].tolist() == [4]


def test_a_click_from_an_old_batch_is_refused_not_moved(store):
    old = _batch(store)
    new = _batch(store, ids=("g4", "g5"), replaces=old.batch_id)
    with pytest.raises(StaleClick, match="out-of-date page"):
        store.rate("ann", "g1", 3, batch_id=old.batch_id, click_id="c1")
    with pytest.raises(StaleClick, match="out-of-date page"):  # not in the batch
        store.rate("ann", "g1", 3, batch_id=new.batch_id, click_id="c2")
    with pytest.raises(StaleClick):
        store.skip("ann", "g1", old.batch_id, "c3")
    assert store.events().empty
    store.rate("ann", "g4", 3, batch_id=new.batch_id, click_id="c4")
    assert store.ratings("ann")["galaxy_id"].tolist() == ["g4"]


def test_two_tabs_agree_on_one_batch(store):
    first = _batch(store)
    mine = _batch(store, ids=("g7",), replaces=first.batch_id)
    theirs = _batch(store, ids=("g8",), replaces=first.batch_id)  # too late
    assert theirs == mine and store.current_batch("ann").galaxy_ids == ["g7"]


def test_skips_undo_and_start_over_with_batches(store):
    batch = _batch(store)
    store.skip("ann", "g1", batch.batch_id, "s1")
    store.skip("ann", "g1", batch.batch_id, "s1")  # delivered twice: once
    store.rate("ann", "g3", 2, batch_id=batch.batch_id, click_id="r1")
    assert store.current_batch("ann").remaining == ["g2"]
    assert store.undo("ann", click_id="u1") == "g3"
    assert store.undo("ann", click_id="u1") is None  # the same undo click, again
    assert store.current_batch("ann").remaining == ["g2", "g3"]
    store.start_over("ann")
    assert store.current_batch("ann") is None  # a new round has no batch yet


def test_ratings_as_they_stood_at_an_event(store):
    store.rate("ann", "g1", 1)
    version = store.version("ann")
    store.rate("ann", "g2", 2)
    store.rate("ann", "g1", 5)
    assert store.ratings("ann", until=version)["rating"].tolist() == [1]
    assert store.ratings("ann")["rating"].tolist() == [5, 2]


def test_display_names_are_only_shown(store):
    store.set_name("k1", "  Ann   Lee ")
    store.set_name("k2", "Ann Lee")  # namesakes are fine: keys differ
    store.rate("k1", "g1", 5)
    assert store.name("k1") == "Ann Lee" and store.name("nobody") is None
    raters = store.raters()
    assert raters["rater"].tolist() == ["k1"] and raters["name"].tolist() == ["Ann Lee"]


def test_ten_raters_clicking_at_once_lose_and_misplace_nothing(store):
    """Each of 10 threads rates its own batch, resending every click once (as a
    page does until acknowledged): every click is stored once, on its galaxy."""
    batches = {
        f"r{i}": _batch(store, f"r{i}", [f"g{j}" for j in range(10)]) for i in range(10)
    }

    def rate(rater):
        batch = batches[rater]
        for j, galaxy in enumerate(batch.galaxy_ids):
            for _ in range(2):
                store.rate(rater, galaxy, j % 6, "", batch.batch_id, f"{rater}-{j}")

    threads = [threading.Thread(target=rate, args=(r,)) for r in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    events = store.events()
    assert len(events) == 100
    for rater in batches:
        table = store.ratings(rater)
        assert table["galaxy_id"].tolist() == [f"g{j}" for j in range(10)]
        assert table["rating"].tolist() == [j % 6 for j in range(10)]


def test_an_older_ratings_file_gains_the_new_columns(tmp_path):
    import sqlite3

    path = tmp_path / "ratings.sqlite"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, rater TEXT NOT "
        "NULL, round INTEGER NOT NULL, galaxy_id TEXT, rating INTEGER, kind TEXT NOT "
        "NULL, session TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL);"
        "INSERT INTO events (rater, round, galaxy_id, rating, kind, created_at) "
        "VALUES ('ann', 0, 'g1', 4, 'rate', 0);"
    )
    old.commit()
    old.close()
    store = RatingStore(path)
    assert store.ratings("ann")["rating"].tolist() == [4]
    store.rate("ann", "g2", 1, click_id="x")
    assert len(store.ratings("ann")) == 2
