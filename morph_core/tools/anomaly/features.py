"""Which representation the anomaly finder learns on: the CNN's PCA-40 (the
paper's), the baseline's ellipse fits, or both side by side."""

from __future__ import annotations

import numpy as np

from morph_core.errors import MorphCoreError

FEATURE_SETS = {
    "cnn": "CNN features (PCA-40)",
    "ellipse": "Ellipse fits (Astronomaly baseline)",
    "both": "Both",
}


def standardise(features: np.ndarray) -> np.ndarray:
    """Features scaled to zero mean and unit variance per column (float64)."""
    from sklearn.preprocessing import StandardScaler  # not loaded by every page

    return StandardScaler().fit_transform(np.asarray(features, np.float64))


def anomaly_features(
    feature_set: str, pca_40: np.ndarray | None, ellipse: np.ndarray | None
) -> np.ndarray:
    """Standardised features for the finder, rows in catalogue order, float32
    (half the memory of a server's million galaxies; the finder computes in
    float64 from them, and the isolation forest uses float32 anyway).

    Parameters
    ----------
    feature_set : {"cnn", "ellipse", "both"}
    pca_40 : ndarray of shape (n_galaxies, 40)
        Needed by "cnn" and "both".
    ellipse : ndarray of shape (n_galaxies, n_ellipse_features)
        Needed by "ellipse" and "both".
    """
    if feature_set not in FEATURE_SETS:
        raise MorphCoreError(
            f"unknown feature set {feature_set!r}; "
            f"choose from {', '.join(FEATURE_SETS)}"
        )
    parts = []
    if feature_set in ("cnn", "both"):
        parts.append(standardise(pca_40))
    if feature_set in ("ellipse", "both"):
        parts.append(standardise(ellipse))
    return np.hstack(parts).astype(np.float32)
