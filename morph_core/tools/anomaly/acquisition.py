"""Acquisition: which unrated galaxies to show next (Walmsley+22 §3.2)."""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

EI_XI = 0.5  # Walmsley+22 §3.2: exploration margin, in rating units
BATCH_SIZE = 10  # §3.2: galaxies rated between refits


def expected_improvement(
    mean: np.ndarray, std: np.ndarray, best: float, xi: float = EI_XI
) -> np.ndarray:
    """EI for maximisation: ``(μ - best - ξ)Φ(z) + σφ(z)``, ``z = (μ - best - ξ)/σ``.

    Parameters
    ----------
    mean, std : ndarray of shape (n,)
        Predicted rating and its standard deviation for each candidate.
    best : float
        Highest rating seen so far.

    Returns
    -------
    ndarray of shape (n,)
        Non-negative; 0 where ``std`` is 0.

    Examples
    --------
    >>> expected_improvement(np.array([4.5, 4.5]), np.array([1.0, 0.0]), best=4.0)
    array([0.39894228, 0.        ])
    """
    mean, std = np.asarray(mean, float), np.asarray(std, float)
    improvement = mean - best - xi
    z = np.divide(improvement, std, out=np.zeros_like(mean), where=std > 0)
    pdf = np.exp(-(z**2) / 2) / np.sqrt(2 * np.pi)  # the normal density, as scipy's
    ei = improvement * ndtr(z) + std * pdf
    return np.where(std > 0, np.maximum(ei, 0.0), 0.0)


def next_batch(
    scores: np.ndarray, rated: np.ndarray, batch_size: int = BATCH_SIZE
) -> np.ndarray:
    """Rows of the ``batch_size`` highest-scoring galaxies not yet rated.

    Ties keep catalogue order; ``rated`` is a boolean mask or an array of rows.
    """
    scores = np.asarray(scores, float).copy()
    mask = np.zeros(len(scores), dtype=bool)
    mask[np.asarray(rated, dtype=int) if np.asarray(rated).dtype != bool else rated] = (
        True
    )
    scores[mask] = -np.inf
    available = int((~mask).sum())
    order = np.argsort(-scores, kind="stable")
    return order[: min(batch_size, available)]
