"""The personal anomaly finder: a Gaussian process on the ratings (Walmsley+22 §3.2).

Features are PCA-40 of the CNN representation, standardised. A GP with a
RationalQuadratic + White kernel learns the rating from the rated galaxies; the
next batch maximises expected improvement over the unrated ones.

Beyond the paper, a cold start that works: while every rating is equal (e.g. all
0), the GP mean is flat, its σ tiny, and EI underflows to 0 for every galaxy, so
the paper's loop shows galaxies in catalogue order. The start
``"isolation_forest"`` begins with the most unusual galaxies (an unsupervised
isolation-forest score on the same features, as Astronomaly does) and, whenever
EI is negligible everywhere, falls back to the GP's upper confidence bound plus
that score.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.linalg import solve_triangular
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RationalQuadratic, Sum, WhiteKernel
from sklearn.utils.validation import check_array, check_is_fitted

from morph_core.tools.anomaly.acquisition import (
    BATCH_SIZE,
    EI_XI,
    expected_improvement,
    next_batch,
)

Start = Literal["paper", "isolation_forest"]
STARTS: tuple[Start, ...] = ("paper", "isolation_forest")
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
        Predicted rating and its uncertainty (zeros before the first rating).
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


class AnomalyFinder(BaseEstimator):
    """Learns one person's taste from their ratings and proposes what to rate next.

    Parameters
    ----------
    start : {"isolation_forest", "paper"}
        ``"paper"``: a random first batch, then EI. ``"isolation_forest"``: the
        most unusual galaxies first, then EI, falling back to UCB + oddness when
        EI is negligible everywhere.
    xi : float
        EI's exploration margin in rating units (§3.2).
    batch_size : int
        Galaxies per proposed batch (§3.2: 10).
    chunk : int
        Galaxies predicted at a time (bounds memory at 10^6 galaxies).
    random_state : int, optional
        Seeds the paper's random first batch and the GP.

    Attributes
    ----------
    gp_ : GaussianProcessRegressor or None
        Fitted on the normalised ratings; ``None`` before any rating.
    rated_ : ndarray of int
        Rows of the rated galaxies.
    best_ : float
        The highest rating so far (NaN before any).
    y_mean_, y_scale_ : float
        How ratings were normalised for the GP.
    n_features_in_ : int

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> features = rng.standard_normal((200, 5))
    >>> finder = AnomalyFinder(start="paper", random_state=0)
    >>> finder.fit(features, [3, 7], [0, 5]).propose(features).rows.shape
    (10,)
    """

    def __init__(
        self,
        start: Start = "isolation_forest",
        xi: float = EI_XI,
        batch_size: int = BATCH_SIZE,
        chunk: int = CHUNK,
        random_state: int | None = None,
    ):
        self.start = start
        self.xi = xi
        self.batch_size = batch_size
        self.chunk = chunk
        self.random_state = random_state

    def fit(self, features, rated, ratings) -> AnomalyFinder:
        """Fit the GP to the ratings of the rated rows.

        Parameters
        ----------
        features : array of shape (n_galaxies, n_components)
            Standardised features of every galaxy.
        rated : array of int, shape (n_rated,)
            Rows of the rated galaxies (may be empty).
        ratings : array of shape (n_rated,)
            Their ratings, 0-5.
        """
        if self.start not in STARTS:
            raise ValueError(f"start must be one of {STARTS}, not {self.start!r}")
        features = check_array(features)
        rated = np.asarray(rated, dtype=int).reshape(-1)
        ratings = np.asarray(ratings, dtype=float).reshape(-1)
        if len(rated) != len(ratings):
            raise ValueError(f"{len(rated)} rated rows but {len(ratings)} ratings")
        self.n_features_in_ = features.shape[1]
        self.rated_ = rated
        self.gp_ = None
        self.best_, self.y_mean_, self.y_scale_ = np.nan, 0.0, 1.0
        if len(rated) == 0:
            return self
        self.best_ = float(ratings.max())
        self.y_mean_ = float(ratings.mean())
        scale = float(ratings.std())
        self.y_scale_ = scale if scale >= 10 * np.finfo(float).eps else 1.0
        kernel = RationalQuadratic(length_scale_bounds=(1e-2, 1e3)) + WhiteKernel(
            noise_level=0.1, noise_level_bounds=(1e-3, 1e1)
        )
        gp = GaussianProcessRegressor(kernel=kernel, random_state=self.random_state)
        with warnings.catch_warnings():  # bounds are hit with few ratings: expected
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.gp_ = gp.fit(features[rated], (ratings - self.y_mean_) / self.y_scale_)
        return self

    def predict(self, features, return_std: bool = False):
        """Predicted rating of every galaxy (and its standard deviation).

        For the default kernel the arithmetic of scikit-learn's
        ``predict(return_std=True)`` is done in place with matrix products
        (squared distances by BLAS rather than ``cdist``): identical results,
        about 1.5x faster at 100k galaxies.
        """
        check_is_fitted(self, "rated_")
        features = check_array(features)
        mean, std = np.zeros(len(features)), np.zeros(len(features))
        if self.gp_ is not None:
            kernel = self.gp_.kernel_
            fast = isinstance(kernel, Sum) and isinstance(kernel.k1, RationalQuadratic)
            for start in range(0, len(features), self.chunk):
                x = np.asarray(features[start : start + self.chunk], np.float64)
                m, s = self._predict_fast(x) if fast else self.gp_.predict(x, True)
                mean[start : start + self.chunk] = m * self.y_scale_ + self.y_mean_
                std[start : start + self.chunk] = s * self.y_scale_
        return (mean, std) if return_std else mean

    def _predict_fast(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rq, white = self.gp_.kernel_.k1, self.gp_.kernel_.k2
        train = self.gp_.X_train_
        k = (x**2).sum(1)[:, None] + (train**2).sum(1)[None] - 2 * x @ train.T
        np.maximum(k, 0, out=k)
        k /= 2 * rq.alpha * rq.length_scale**2
        k += 1
        np.power(k, -rq.alpha, out=k)  # RationalQuadratic(x, train); white is 0 there
        v = solve_triangular(self.gp_.L_, k.T, lower=True, check_finite=False)
        var = 1 + white.noise_level - np.einsum("ij,ij->j", v, v)
        return (k @ self.gp_.alpha_).ravel(), np.sqrt(np.maximum(var, 0))

    def propose(self, features, oddness: np.ndarray | None = None) -> Proposal:
        """The next batch: unrated rows that maximise the acquisition.

        Parameters
        ----------
        features : array of shape (n_galaxies, n_components)
            The same features as :meth:`fit` saw.
        oddness : ndarray of shape (n_galaxies,), optional
            From :func:`~morph_core.tools.anomaly.baseline.isolation_scores`;
            needed by the ``"isolation_forest"`` start.
        """
        check_is_fitted(self, "rated_")
        if self.start == "isolation_forest" and oddness is None:
            raise ValueError("the isolation_forest start needs the oddness scores")
        n = len(features)
        zeros = np.zeros(n)
        if self.gp_ is None:
            if self.start == "paper":
                order = np.random.default_rng(self.random_state).permutation(n)
                return Proposal(
                    order[: self.batch_size],
                    zeros,
                    zeros,
                    zeros,
                    "a random first batch",
                )
            rows = next_batch(oddness, self.rated_, self.batch_size)
            return Proposal(rows, zeros, zeros, oddness, "the most unusual galaxies")
        mean, std = self.predict(features, return_std=True)
        ei = expected_improvement(mean, std, self.best_, self.xi)
        ei[self.rated_] = 0
        if self.start == "paper" or ei.max() > EI_NEGLIGIBLE:
            return Proposal(
                next_batch(ei, self.rated_, self.batch_size),
                mean,
                std,
                ei,
                "the highest expected improvement over your best rating",
            )
        ucb = (mean + 2 * std) / 5 + oddness
        return Proposal(
            next_batch(ucb, self.rated_, self.batch_size),
            mean,
            std,
            ucb,
            "no galaxy is expected to beat your best yet: "
            "the most promising unusual ones",
        )
