"""How well a ranking puts the interesting galaxies first (Walmsley+22 §3.3)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score


def _order(scores: np.ndarray) -> np.ndarray:
    return np.argsort(-np.asarray(scores, float), kind="stable")


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """Average precision of ``scores`` for the binary ``labels`` (scikit-learn)."""
    return float(average_precision_score(np.asarray(labels, bool), scores))


def precision_at(labels: np.ndarray, scores: np.ndarray, n: int) -> float:
    """Fraction of interesting galaxies among the ``n`` highest scores."""
    top = _order(scores)[:n]
    return float(np.asarray(labels, bool)[top].mean())


def rank_weighted_score(labels: np.ndarray, scores: np.ndarray, n: int) -> float:
    """RWS(N) = Σ_{i<N} (N − i) I_i / (N(N + 1)/2): 1 when the top N are all
    interesting, with the first places weighted most (Lochner & Bassett 2021)."""
    top = np.asarray(labels, bool)[_order(scores)[:n]]
    weights = n - np.arange(len(top))
    return float((weights * top).sum() / (n * (n + 1) / 2))


def found_after(
    labels: np.ndarray, rated_rows: np.ndarray, checkpoints=(50, 100, 150, 200)
) -> dict[int, int]:
    """How many interesting galaxies were among the first k rated, per checkpoint."""
    hits = np.asarray(labels, bool)[np.asarray(rated_rows, int)]
    return {k: int(hits[:k].sum()) for k in checkpoints}


def ranking_scores(
    predicted: np.ndarray, rated_rows: np.ndarray, ratings: np.ndarray
) -> np.ndarray:
    """The ranking shown and scored: predicted interest, with rated galaxies
    placed by their rating × 100 (Walmsley+22 §3.3)."""
    scores = np.asarray(predicted, float).copy()
    scores[np.asarray(rated_rows, int)] = np.asarray(ratings, float) * 100
    return scores
