"""The personal anomaly finder: a Gaussian process on the ratings (Walmsley+22 §3.2).

Features are PCA-40 of the CNN representation, standardised. A GP with a
RationalQuadratic + White kernel learns the rating from the rated galaxies; the
next batch maximises expected improvement over the unrated ones.

Beyond the paper, a cold start that works: while every rating is equal (e.g. all
0), the GP mean is flat, its σ tiny, and EI underflows to 0 for every galaxy, so
the paper's loop shows galaxies in catalogue order. Strategy ``"isolation_forest"``
starts from the most unusual galaxies (an unsupervised isolation-forest score on
the same features, as Astronomaly does) and, whenever EI is negligible
everywhere, falls back to the GP's upper confidence bound plus that score.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.linalg import solve_triangular
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RationalQuadratic, Sum, WhiteKernel
from sklearn.preprocessing import StandardScaler

from morph_core.anomaly.acquisition import (
    BATCH_SIZE,
    EI_XI,
    expected_improvement,
    next_batch,
)

Strategy = Literal["paper", "isolation_forest"]
STRATEGIES: tuple[Strategy, ...] = ("paper", "isolation_forest")
CHUNK = 50_000  # galaxies predicted at a time
EI_NEGLIGIBLE = 1e-6  # rating units: below this EI ranks noise, not promise


@dataclass
class Proposal:
    """The next batch and what the model believes.

    Attributes
    ----------
    rows : ndarray of int
        The galaxies to rate next, best first.
    mean, std : ndarray of shape (n_galaxies,)
        Predicted rating and its uncertainty (zeros before the first fit).
    acquisition : ndarray of shape (n_galaxies,)
        The score the batch maximised.
    reason : str
        Why these galaxies, in words for the user.
    """

    rows: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    acquisition: np.ndarray
    reason: str


def standardise(features: np.ndarray) -> np.ndarray:
    """PCA-40 features scaled to zero mean and unit variance per component."""
    return StandardScaler().fit_transform(np.asarray(features, np.float64))


def isolation_scores(features: np.ndarray, random_state: int = 0) -> np.ndarray:
    """Unsupervised oddness in [0, 1] (1 = most isolated), IsolationForest(100)."""
    forest = IsolationForest(n_estimators=100, random_state=random_state)
    forest.fit(features)
    raw = -forest.score_samples(features)
    return (raw - raw.min()) / max(raw.max() - raw.min(), 1e-12)


def fit_gp(features: np.ndarray, ratings: np.ndarray, random_state: int = 0):
    """GP regression of ratings on standardised features (normalised targets)."""
    kernel = RationalQuadratic(length_scale_bounds=(1e-2, 1e3)) + WhiteKernel(
        noise_level=0.1, noise_level_bounds=(1e-3, 1e1)
    )
    gp = GaussianProcessRegressor(
        kernel=kernel, normalize_y=True, random_state=random_state
    )
    with warnings.catch_warnings():  # bounds are hit with few ratings: expected
        warnings.simplefilter("ignore", ConvergenceWarning)
        return gp.fit(features, np.asarray(ratings, float))


def predict(
    gp, features: np.ndarray, chunk: int = CHUNK
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation for every galaxy, ``chunk`` rows at a time.

    For :func:`fit_gp`'s kernel the same arithmetic as scikit-learn's
    ``predict(return_std=True)`` is done in place with matrix products (squared
    distances by BLAS rather than ``cdist``): identical results, about 1.5x faster
    at 100k galaxies.
    """
    mean, std = np.empty(len(features)), np.empty(len(features))
    fast = isinstance(gp.kernel_, Sum) and isinstance(gp.kernel_.k1, RationalQuadratic)
    for start in range(0, len(features), chunk):
        x = np.asarray(features[start : start + chunk], np.float64)
        if fast:
            m, s = _predict_rq_white(gp, x)
        else:
            m, s = gp.predict(x, return_std=True)
        mean[start : start + chunk], std[start : start + chunk] = m, s
    return mean, std


def _predict_rq_white(gp, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rq, white = gp.kernel_.k1, gp.kernel_.k2
    train = gp.X_train_
    k = (x**2).sum(1)[:, None] + (train**2).sum(1)[None] - 2 * x @ train.T
    np.maximum(k, 0, out=k)
    k /= 2 * rq.alpha * rq.length_scale**2
    k += 1
    np.power(k, -rq.alpha, out=k)  # RationalQuadratic(x, train); white is 0 there
    v = solve_triangular(gp.L_, k.T, lower=True, check_finite=False)
    var = 1 + white.noise_level - np.einsum("ij,ij->j", v, v)
    mean = (k @ gp.alpha_).ravel() * gp._y_train_std + gp._y_train_mean
    return mean, np.sqrt(np.maximum(var, 0)) * gp._y_train_std


def propose(
    features: np.ndarray,
    rated_rows: np.ndarray,
    ratings: np.ndarray,
    strategy: Strategy = "isolation_forest",
    oddness: np.ndarray | None = None,
    xi: float = EI_XI,
    batch_size: int = BATCH_SIZE,
    random_state: int = 0,
) -> Proposal:
    """The next batch for a rater, from their ratings so far.

    Parameters
    ----------
    features : ndarray of shape (n_galaxies, n_components)
        From :func:`standardise`.
    rated_rows, ratings : ndarray of shape (n_rated,)
        The rated galaxies and their ratings 0-5.
    strategy : {"paper", "isolation_forest"}
        ``"paper"``: a random first batch, then EI. ``"isolation_forest"``: the
        most unusual galaxies first, then EI, falling back to UCB + oddness when
        EI is negligible everywhere.
    oddness : ndarray of shape (n_galaxies,), optional
        From :func:`isolation_scores`; needed by ``"isolation_forest"``.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, not {strategy!r}")
    if strategy == "isolation_forest" and oddness is None:
        raise ValueError("the isolation_forest strategy needs the oddness scores")
    n = len(features)
    rated_rows = np.asarray(rated_rows, int)
    zeros = np.zeros(n)
    if len(rated_rows) == 0:
        if strategy == "paper":
            order = np.random.default_rng(random_state).permutation(n)
            return Proposal(
                order[:batch_size], zeros, zeros, zeros, "a random first batch"
            )
        rows = next_batch(oddness, rated_rows, batch_size)
        return Proposal(rows, zeros, zeros, oddness, "the most unusual galaxies")
    gp = fit_gp(features[rated_rows], ratings, random_state)
    mean, std = predict(gp, features)
    ei = expected_improvement(mean, std, float(np.max(ratings)), xi)
    ei[rated_rows] = 0
    if strategy == "paper" or ei.max() > EI_NEGLIGIBLE:
        return Proposal(
            next_batch(ei, rated_rows, batch_size),
            mean,
            std,
            ei,
            "the highest expected improvement over your best rating",
        )
    ucb = (mean + 2 * std) / 5 + oddness
    return Proposal(
        next_batch(ucb, rated_rows, batch_size),
        mean,
        std,
        ucb,
        "no galaxy is expected to beat your best yet: the most promising unusual ones",
    )
