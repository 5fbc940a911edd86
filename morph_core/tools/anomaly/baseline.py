"""The paper's baseline anomaly finder, after Astronomaly (Lochner & Bassett 2021).

Ellipse-fit features (:mod:`morph_core.tools.anomaly.ellipse`) -> StandardScaler ->
IsolationForest(100): the user rates the most isolated galaxies first, in
batches of 10. A RandomForestRegressor(100) learns the ratings; each galaxy's
final score combines its anomaly score with the predicted rating and its
distance to the nearest rated galaxy (Astronomaly's neighbour score):

    score x tanh(exp(alpha d / mean(d)) - 1 + arctanh(f_u)),  f_u = 0.1 + 0.85 u / 5

so that far from anything rated the anomaly score rules, and near rated
galaxies the user's taste does.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import IsolationForest, RandomForestRegressor
from sklearn.neighbors import NearestNeighbors

from morph_core.tools.anomaly.features import standardise

ALPHA = 1.0


def isolation_scores(features: np.ndarray, random_state: int = 0) -> np.ndarray:
    """Unsupervised oddness in [0, 1] (1 = most isolated), IsolationForest(100).

    The baseline's first order of galaxies, and the finder's cold start."""
    forest = IsolationForest(n_estimators=100, random_state=random_state)
    forest.fit(features)
    raw = -forest.score_samples(features)
    return (raw - raw.min()) / max(raw.max() - raw.min(), 1e-12)


def isolation_order(features: np.ndarray, random_state: int = 0) -> np.ndarray:
    """Galaxy rows, most isolated first: the order the baseline's user rates in."""
    scores = isolation_scores(standardise(features), random_state)
    return np.argsort(-scores, kind="stable")


def neighbour_score(
    anomaly: np.ndarray, predicted: np.ndarray, distance: np.ndarray
) -> np.ndarray:
    """Astronomaly's neighbour score. ``anomaly`` scaled to 0-5, ``predicted``
    ratings 0-5, ``distance`` to the nearest rated galaxy."""
    f_u = 0.1 + 0.85 * np.clip(predicted, 0, 5) / 5
    d = distance / max(float(np.mean(distance)), 1e-12)
    return anomaly * np.tanh(np.exp(ALPHA * d) - 1 + np.arctanh(f_u))


def baseline_scores(
    features: np.ndarray,
    rated: np.ndarray,
    ratings: np.ndarray,
    random_state: int = 0,
) -> np.ndarray:
    """The baseline's final score of every galaxy after the user's ratings."""
    x = standardise(features)
    anomaly = 5 * isolation_scores(x, random_state)
    if len(rated) == 0:
        return anomaly
    forest = RandomForestRegressor(n_estimators=100, random_state=random_state)
    forest.fit(x[rated], np.asarray(ratings, float))
    distance = NearestNeighbors(n_neighbors=1).fit(x[rated]).kneighbors(x)[0][:, 0]
    return neighbour_score(anomaly, forest.predict(x), distance)
