import numpy as np
import pytest
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RationalQuadratic, WhiteKernel
from sklearn.utils import estimator_checks

from morph_core.tools.anomaly.acquisition import expected_improvement, next_batch
from morph_core.tools.anomaly.baseline import isolation_scores
from morph_core.tools.anomaly.features import standardise
from morph_core.tools.anomaly.finder import AnomalyFinder

API_CHECKS = [  # scikit-learn's checks that do not call fit(X, y)
    getattr(estimator_checks, f"check_{name}")
    for name in (
        "do_not_raise_errors_in_init_or_set_params",
        "estimator_cloneable",
        "estimator_repr",
        "get_params_invariance",
        "no_attributes_set_in_init",
        "parameters_default_constructible",
        "set_params",
    )
]


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


@pytest.mark.parametrize("check", API_CHECKS, ids=lambda c: c.__name__)
def test_scikit_learn_estimator_api(check):
    check(type(AnomalyFinder()).__name__, AnomalyFinder())


def test_first_batches(sky):
    features, interesting, oddness = sky
    none = np.array([], int)
    paper = AnomalyFinder("paper", random_state=3).fit(features, none, none)
    first = paper.propose(features)
    assert len(first.rows) == 10 and first.reason == "a random first batch"
    assert first.rows.tolist() == paper.propose(features).rows.tolist()
    assert (
        first.rows.tolist()
        != (AnomalyFinder("paper", random_state=4).fit(features, none, none))
        .propose(features)
        .rows.tolist()
    )
    forest = AnomalyFinder().fit(features, none, none).propose(features, oddness)
    assert interesting[forest.rows].sum() >= 8
    assert not forest.mean.any() and not forest.std.any()  # no model yet


def test_cold_start_all_zero_ratings(sky):
    features, interesting, oddness = sky
    rated = np.arange(0, 300, 30)  # ten ordinary galaxies, all rated 0
    ratings = _rate(interesting, rated)
    paper = AnomalyFinder("paper").fit(features, rated, ratings).propose(features)
    assert paper.acquisition.max() < 1e-6  # EI (nearly) underflows: no signal left
    forest = AnomalyFinder().fit(features, rated, ratings).propose(features, oddness)
    assert "unusual" in forest.reason
    assert interesting[forest.rows].sum() >= 8
    assert not set(forest.rows) & set(rated)


def test_ei_follows_a_found_anomaly(sky):
    features, interesting, oddness = sky
    rated = np.r_[np.arange(0, 300, 30), [300]]
    finder = AnomalyFinder("paper").fit(features, rated, _rate(interesting, rated))
    proposal = finder.propose(features)
    assert finder.best_ == 5 and proposal.acquisition.max() > 0
    assert interesting[proposal.rows].sum() >= 8
    assert proposal.mean[301:].mean() > proposal.mean[:300].mean() + 2


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_predictions_equal_scikit_learns_own_normalised_gp():
    """The finder normalises ratings itself (no private attributes) and predicts
    in chunks with matrix products, the kernel in float32: the same numbers as
    scikit-learn's GP with ``normalize_y=True`` within 1e-6 of a rating, and
    the same next batch by expected improvement."""
    rng = np.random.default_rng(1)
    features = rng.standard_normal((3000, 40))
    rated = rng.choice(3000, 60, replace=False)
    ratings = rng.integers(0, 6, 60)
    finder = AnomalyFinder(chunk=1000, random_state=0).fit(features, rated, ratings)
    mean, std = finder.predict(features, return_std=True)
    kernel = RationalQuadratic(length_scale_bounds=(1e-2, 1e3)) + WhiteKernel(
        noise_level=0.1, noise_level_bounds=(1e-3, 1e1)
    )
    reference = GaussianProcessRegressor(kernel, normalize_y=True, random_state=0)
    expected_mean, expected_std = reference.fit(features[rated], ratings).predict(
        features, return_std=True
    )
    np.testing.assert_allclose(mean, expected_mean, atol=1e-6)
    np.testing.assert_allclose(std, expected_std, atol=1e-6)
    ei = expected_improvement(expected_mean, expected_std, ratings.max(), finder.xi)
    assert set(finder.propose(features, np.zeros(3000)).rows) == set(
        next_batch(ei, rated, finder.batch_size)
    )


def test_bad_arguments_say_why(sky):
    features, interesting, _ = sky
    rated = np.arange(0, 310, 20)
    with pytest.raises(ValueError, match="start must be one of"):
        AnomalyFinder("greedy").fit(features, rated, _rate(interesting, rated))
    finder = AnomalyFinder().fit(features, rated, _rate(interesting, rated))
    with pytest.raises(ValueError, match="needs the oddness"):
        finder.propose(features)
    with pytest.raises(ValueError, match="rated rows but"):
        AnomalyFinder().fit(features, rated, [1, 2])


def test_threads_and_chunks_predict_the_same_numbers():
    rng = np.random.default_rng(2)
    features = rng.standard_normal((2500, 8))
    rated = rng.choice(2500, 40, replace=False)
    ratings = rng.integers(0, 6, 40)
    one = AnomalyFinder(chunk=2500, n_jobs=1, random_state=0)
    many = AnomalyFinder(chunk=300, n_jobs=3, random_state=0)  # 9 chunks, 1 short
    a = one.fit(features, rated, ratings).predict(features, return_std=True)
    b = many.fit(features, rated, ratings).predict(features, return_std=True)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
