"""Simulated raters: the benchmarks' stand-ins for a person (Walmsley+22 §3.3)."""

from __future__ import annotations

import numpy as np


def rating_from_fraction(fraction: np.ndarray) -> np.ndarray:
    """The paper's rule: round(5 × vote fraction of the target answer), ints 0-5."""
    return np.rint(5 * np.clip(np.asarray(fraction, float), 0, 1)).astype(int)


def rating_from_label(label: np.ndarray) -> np.ndarray:
    """5 for a galaxy with the interesting label, 0 otherwise."""
    return np.where(np.asarray(label, bool), 5, 0)
