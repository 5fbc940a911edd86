import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from morph_core.errors import MorphCoreError
from morph_core.settings import PROJECT_ROOT
from morph_core.store.ratings import RatingStore


@pytest.fixture
def store(tmp_path):
    return RatingStore(
        tmp_path / "ratings.sqlite", known_ids=[f"g{i}" for i in range(50)]
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


_WRITER = """
import sys
from morph_core.store.ratings import RatingStore
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
