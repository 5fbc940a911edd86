import numpy as np
import pytest

from morph_core.tools.anomaly.acquisition import expected_improvement, next_batch
from morph_core.tools.anomaly.metrics import (
    average_precision,
    found_after,
    precision_at,
    rank_weighted_score,
    ranking_scores,
)
from morph_core.tools.anomaly.simulated import rating_from_fraction, rating_from_label


def test_expected_improvement_by_hand():
    # improvement = mean - best - xi = +1 and -1 at sigma 1 (the docstring's
    # example covers improvement 0): (1)Phi(1) + phi(1) and (-1)Phi(-1) + phi(-1)
    ei = expected_improvement(np.array([5.5, 3.5, 9.0]), np.array([1, 1, 0.0]), 4.0)
    np.testing.assert_allclose(ei[:2], [1.0833155, 0.0833155], atol=1e-6)
    assert ei[2] == 0  # no uncertainty: nothing to gain, however high the mean
    wider = expected_improvement(np.array([4.5]), np.array([2.0]), best=4.0)
    assert wider[0] == pytest.approx(2 * 0.3989423, abs=1e-6)  # sigma phi(0)


def test_next_batch_skips_rated_and_stops_when_all_rated():
    scores = np.array([0.1, 0.9, 0.5, 0.9, 0.2])
    assert next_batch(scores, np.array([3]), 2).tolist() == [1, 2]
    assert next_batch(
        scores, np.array([True, True, True, True, False]), 3
    ).tolist() == [4]
    assert next_batch(np.zeros(5), np.array([], int), 3).tolist() == [0, 1, 2]


def test_next_batch_is_the_head_of_a_stable_sort_with_ties_by_row():
    rng = np.random.default_rng(0)
    for _ in range(200):
        scores = rng.integers(0, 4, rng.integers(1, 60)).astype(float)  # many ties
        rated = rng.choice(len(scores), rng.integers(0, len(scores)), replace=False)
        kept = np.delete(np.arange(len(scores)), rated)
        order = kept[np.argsort(-scores[kept], kind="stable")]
        assert next_batch(scores, rated, 10).tolist() == order[:10].tolist()


def test_ranking_metrics_on_a_known_ranking():
    labels = np.array([1, 0, 1, 0, 0, 1])
    scores = np.array([0.9, 0.8, 0.7, 0.3, 0.2, 0.1])
    assert precision_at(labels, scores, 3) == pytest.approx(2 / 3)
    assert rank_weighted_score(labels, scores, 3) == pytest.approx((3 + 1) / 6)
    assert rank_weighted_score(labels[[0, 2, 5]], scores[[0, 2, 5]], 3) == 1.0
    assert average_precision(labels, scores) == pytest.approx((1 + 2 / 3 + 3 / 6) / 3)
    assert found_after(labels, np.array([5, 1, 0, 2]), (1, 2, 4)) == {1: 1, 2: 1, 4: 3}


def test_rated_galaxies_are_ranked_by_rating_times_100():
    scores = ranking_scores(
        np.array([0.5, 4.0, 1.0]), np.array([0, 2]), np.array([5, 0])
    )
    assert scores.tolist() == [500.0, 4.0, 0.0]


def test_simulated_raters():
    assert rating_from_fraction(
        np.array([0.0, 0.09, 0.11, 0.5, 0.95, 1.2])
    ).tolist() == [0, 0, 1, 2, 5, 5]
    assert rating_from_label(np.array([True, False])).tolist() == [5, 0]
