import numpy as np
import pytest
from scipy.stats import norm

from morph_core.anomaly.acquisition import expected_improvement, next_batch
from morph_core.anomaly.metrics import (
    average_precision,
    found_after,
    precision_at,
    rank_weighted_score,
    ranking_scores,
)
from morph_core.anomaly.raters import rating_from_fraction, rating_from_label


def test_expected_improvement_formula_and_edges():
    mean, std = np.array([3.0, 5.0, 2.0, 4.0]), np.array([1.0, 0.5, 0.0, 2.0])
    ei = expected_improvement(mean, std, best=4.0, xi=0.5)
    z = (mean - 4.5) / np.where(std > 0, std, 1)
    expected = (mean - 4.5) * norm.cdf(z) + std * norm.pdf(z)
    np.testing.assert_allclose(ei[[0, 1, 3]], expected[[0, 1, 3]])
    assert ei[2] == 0 and (ei >= 0).all()
    assert ei[3] > ei[0]  # more uncertain, same mean region: explore


def test_next_batch_skips_rated_and_stops_when_all_rated():
    scores = np.array([0.1, 0.9, 0.5, 0.9, 0.2])
    assert next_batch(scores, np.array([3]), 2).tolist() == [1, 2]
    assert next_batch(
        scores, np.array([True, True, True, True, False]), 3
    ).tolist() == [4]
    assert next_batch(np.zeros(5), np.array([], int), 3).tolist() == [0, 1, 2]


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


def test_fast_prediction_equals_scikit_learns():
    from morph_core.anomaly.gp import fit_gp, predict

    rng = np.random.default_rng(1)
    features = rng.standard_normal((3000, 40))
    rated = rng.choice(3000, 60, replace=False)
    gp = fit_gp(features[rated], rng.integers(0, 6, 60))
    mean, std = predict(gp, features, chunk=1000)
    expected_mean, expected_std = gp.predict(features, return_std=True)
    assert np.allclose(mean, expected_mean, atol=1e-9)
    assert np.allclose(std, expected_std, atol=1e-6)
