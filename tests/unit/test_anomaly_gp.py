import numpy as np
import pytest

from morph_core.anomaly.gp import (
    fit_gp,
    isolation_scores,
    predict,
    propose,
    standardise,
)


@pytest.fixture(scope="module")
def sky():
    """300 ordinary galaxies in two clumps and 10 odd ones far from both."""
    rng = np.random.default_rng(0)
    ordinary = np.vstack([rng.normal(0, 1, (150, 6)), rng.normal(4, 1, (150, 6))])
    odd = rng.normal(12, 0.5, (10, 6))
    features = standardise(np.vstack([ordinary, odd]))
    interesting = np.r_[np.zeros(300, bool), np.ones(10, bool)]
    return features, interesting, isolation_scores(features)


def _rate(interesting, rows):
    return np.where(interesting[rows], 5, 0)


def test_first_batches(sky):
    features, interesting, oddness = sky
    none = np.array([], int)
    paper = propose(features, none, none, "paper", random_state=3)
    again = propose(features, none, none, "paper", random_state=3)
    assert len(paper.rows) == 10 and paper.rows.tolist() == again.rows.tolist()
    assert paper.reason == "a random first batch"
    forest = propose(features, none, none, "isolation_forest", oddness)
    assert interesting[forest.rows].sum() >= 8


def test_cold_start_all_zero_ratings(sky):
    features, interesting, oddness = sky
    rated = np.arange(0, 300, 30)  # ten ordinary galaxies, all rated 0
    ratings = _rate(interesting, rated)
    paper = propose(features, rated, ratings, "paper")
    assert paper.acquisition.max() < 1e-6  # EI (nearly) underflows: no signal left
    forest = propose(features, rated, ratings, "isolation_forest", oddness)
    assert "unusual" in forest.reason
    assert interesting[forest.rows].sum() >= 8
    assert not set(forest.rows) & set(rated)


def test_ei_follows_a_found_anomaly(sky):
    features, interesting, oddness = sky
    rated = np.r_[np.arange(0, 300, 30), [300]]
    proposal = propose(features, rated, _rate(interesting, rated), "paper")
    assert proposal.acquisition.max() > 0
    assert interesting[proposal.rows].sum() >= 8
    assert proposal.mean[301:].mean() > proposal.mean[:300].mean() + 2


def test_chunked_prediction_matches_and_bad_arguments(sky):
    features, interesting, _ = sky
    rated = np.arange(0, 310, 20)
    gp = fit_gp(features[rated], _rate(interesting, rated))
    mean, std = predict(gp, features, chunk=37)
    m, s = gp.predict(features, return_std=True)
    np.testing.assert_allclose(mean, m)
    np.testing.assert_allclose(std, s)
    with pytest.raises(ValueError, match="strategy must be one of"):
        propose(features, rated, _rate(interesting, rated), "greedy")
    with pytest.raises(ValueError, match="needs the oddness"):
        propose(features, rated, _rate(interesting, rated), "isolation_forest")
