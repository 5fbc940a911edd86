import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from morph_core.dataset import open_dataset
from morph_core.errors import MorphCoreError
from morph_core.tools.anomaly.baseline import (
    baseline_scores,
    isolation_order,
    neighbour_score,
)
from morph_core.tools.anomaly.ellipse import (
    FEATURE_NAMES,
    PERCENTILES,
    ellipse_features,
)
from morph_core.tools.anomaly.features import anomaly_features


def _galaxy(q=1.0, angle_deg=0.0, size=96, ring=False, companion=False, seed=0):
    y, x = np.mgrid[:size, :size] - size / 2
    a = np.radians(angle_deg)
    u, v = x * np.cos(a) + y * np.sin(a), -x * np.sin(a) + y * np.cos(a)
    r = np.hypot(u, v / q)
    image = 200 * np.exp(-r / 6)
    if ring:
        image = image + 60 * np.exp(-0.5 * ((r - 25) / 2) ** 2)
    if companion:
        image = image + 150 * np.exp(-np.hypot(x - 22, y - 10) / 3)
    noise = np.random.default_rng(seed).normal(0, 2, image.shape)
    return gaussian_filter(image, 1) + noise


def _level(features, name, percentile):
    return features[FEATURE_NAMES.index(f"{name}_{percentile}")]


def test_an_inclined_disc_is_an_ellipse_of_its_axis_ratio():
    f = ellipse_features(_galaxy(q=0.5, angle_deg=30))
    assert len(f) == 5 * len(PERCENTILES)
    for p in (90, 70, 50):
        assert _level(f, "aspect", p) == pytest.approx(0.5, abs=0.08)
        assert _level(f, "residual", p) < 0.1
        assert abs(_level(f, "angle", p)) < 0.1  # same orientation at every level
    assert _level(f, "major_axis", 0) > _level(f, "major_axis", 90)


def test_rings_and_companions_stand_out():
    plain = ellipse_features(_galaxy())
    ring = ellipse_features(_galaxy(ring=True))
    double = ellipse_features(_galaxy(companion=True))
    assert np.abs(ring - plain).max() > 0.2
    assert max(_level(double, "offset", p) for p in PERCENTILES) > 0.05
    assert max(_level(plain, "offset", p) for p in PERCENTILES) < 0.02


def test_a_blank_image_gives_zeros():
    assert not ellipse_features(np.zeros((64, 64))).any()


def test_neighbour_score_follows_the_user_near_ratings_and_the_forest_far():
    anomaly = np.full(3, 4.0)
    near = neighbour_score(anomaly, np.array([5.0, 0.0, 0.0]), np.array([0, 0, 1e6]))
    assert near[0] == pytest.approx(4 * 0.95)
    assert near[1] == pytest.approx(4 * 0.1)
    assert near[2] == pytest.approx(4.0)


def test_baseline_raises_galaxies_like_the_ones_rated_high():
    rng = np.random.default_rng(0)
    common = rng.normal(0, 1, (300, 6))
    liked = rng.normal(6, 0.3, (10, 6))
    disliked = rng.normal(-6, 0.3, (10, 6))
    features = np.vstack([common, liked, disliked])
    order = isolation_order(features)
    assert set(order[:20]) == set(range(300, 320))  # both clusters are unusual
    rated = np.array([300, 301, 310, 311])
    scores = baseline_scores(features, rated, np.array([5, 5, 0, 0]))
    assert scores[302:310].min() > scores[312:320].max()


def test_feature_sets(prepared_env):
    ds = open_dataset("synthetic", prepared_env)
    pca, ellipse = np.asarray(ds.pca_features(40)), ds.ellipse()
    n = len(ds.catalog())
    assert ellipse.shape == (n, len(FEATURE_NAMES)) and ellipse.any()
    cnn = anomaly_features("cnn", pca, None)
    both = anomaly_features("both", pca, ellipse)
    assert cnn.shape == (n, 40)
    assert both.shape == (n, 40 + len(FEATURE_NAMES))
    np.testing.assert_allclose(both[:, :40], cnn)
    assert np.allclose(both.mean(0), 0, atol=1e-6)
    with pytest.raises(MorphCoreError, match="unknown feature set 'pixels'"):
        anomaly_features("pixels", pca, ellipse)
