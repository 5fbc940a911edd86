import numpy as np
import pandas as pd
import pytest

from morph_core.training.labels import (
    LabelError,
    balanced_split,
    labels_from_column,
    labels_from_ids,
    labels_from_ratings,
)


def _catalog(n=200, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "galaxy_id": [f"g{i}" for i in range(n)],
            "ring_fraction": rng.uniform(size=n),
            "ring": rng.uniform(size=n) < 0.3,
            "kind": rng.choice(["spiral", "elliptical", "merger"], n),
            "one": np.ones(n),
        }
    )


def test_threshold_binary_and_class_columns():
    catalog = _catalog()
    catalog.loc[0, "ring_fraction"] = np.nan
    labels = labels_from_column(catalog, "ring_fraction", 0.5)
    assert labels.values[0] == -1 and labels.binary
    expected = (catalog["ring_fraction"][1:] >= 0.5).astype(int).to_numpy()
    assert (labels.values[1:] == expected).all()
    assert labels_from_column(catalog, "ring").counts()["yes"] == catalog["ring"].sum()
    kinds = labels_from_column(catalog, "kind")
    assert kinds.classes == ("elliptical", "merger", "spiral") and not kinds.binary


@pytest.mark.parametrize(
    ("column", "threshold", "message"),
    [
        ("one", None, "one class"),
        ("ring_fraction", None, "non-binary numbers"),
        ("kind", 0.5, "not numeric"),
        ("nope", None, "no column 'nope'"),
    ],
)
def test_bad_label_columns_say_why(column, threshold, message):
    with pytest.raises(LabelError, match=message):
        labels_from_column(_catalog(), column, threshold)


def test_ratings_and_marked_galaxies():
    catalog = _catalog(10)
    ratings = pd.DataFrame({"galaxy_id": ["g1", "g2", "g3"], "rating": [5, 0, 3]})
    labels = labels_from_ratings(catalog, ratings)
    assert labels.values[:4].tolist() == [-1, 1, 0, 1]
    marked = labels_from_ids(catalog, ["g1"], ["g2", "g5"])
    assert marked.counts() == {"no": 2, "yes": 1}
    with pytest.raises(LabelError, match="both positive and negative"):
        labels_from_ids(catalog, ["g1"], ["g1"])


def test_balanced_split_keeps_one_test_set_for_every_label_count():
    labels = labels_from_column(_catalog(400), "ring")
    small, large = balanced_split(labels, 4, seed=1), balanced_split(labels, 40, seed=1)
    assert (small.test == large.test).all()
    test_counts = np.bincount(labels.values[small.test])
    assert test_counts[0] == test_counts[1] == int(min(labels.counts().values()) / 4)
    for split, n in ((small, 4), (large, 40)):
        chosen = np.concatenate([split.train, split.val])
        assert np.bincount(labels.values[chosen]).tolist() == [n, n]
        assert not set(chosen) & set(split.test)
        assert set(labels.values[split.val]) == {0, 1}
    assert (balanced_split(labels, 4, seed=2).test != small.test).any()


def test_another_draw_picks_other_training_labels_for_the_same_test_set():
    labels = labels_from_column(_catalog(400), "ring")
    first, again = balanced_split(labels, 10, 0, draw=0), balanced_split(labels, 10)
    assert (first.train == again.train).all()  # draw 0: as before
    other = balanced_split(labels, 10, 0, draw=7)
    assert (other.test == first.test).all()
    assert set(other.train) != set(first.train)
    chosen = np.concatenate([other.train, other.val])
    assert np.bincount(labels.values[chosen]).tolist() == [10, 10]
    assert not set(chosen) & set(other.test)
    assert (balanced_split(labels, 10, 0, draw=7).train == other.train).all()


def test_fewer_labels_than_asked():
    labels = labels_from_column(_catalog(100), "ring")
    with pytest.raises(LabelError, match="class .yes. has 28 labels: 25 for training"):
        balanced_split(labels, 25)
