"""Derived features: PCA of the CNN features and UMAP of PCA-15.

PCA is fitted once with scikit-learn's IncrementalPCA (memory-mapped input in
batches) and stored as plain arrays, never pickled; PCA-10, PCA-15 and PCA-40 are
the leading columns of one 40-component projection (Walmsley+22 §2.3-3.2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import IncrementalPCA

from morph_core.progress import ProgressFn

PCA_SIMILARITY = 10  # Walmsley+22 §2.4
PCA_UMAP = 15  # §2.3
PCA_ANOMALY = 40  # §3.2
UMAP_NEIGHBOURS = 15
UMAP_MIN_DIST = 0.1


@dataclass(frozen=True)
class PCAModel:
    """A fitted linear PCA, stored as arrays.

    Attributes
    ----------
    components : ndarray of shape (n_components, n_features)
    mean : ndarray of shape (n_features,)
    explained_variance_ratio : ndarray of shape (n_components,)
    """

    components: np.ndarray
    mean: np.ndarray
    explained_variance_ratio: np.ndarray

    @property
    def n_components(self) -> int:
        return len(self.components)

    def transform(self, features: np.ndarray) -> np.ndarray:
        """Project ``(n, n_features)`` features to ``(n, n_components)`` float32."""
        return (
            (np.asarray(features, np.float32) - self.mean) @ self.components.T
        ).astype(np.float32)

    def variance_explained(self, n_components: int) -> float:
        """Fraction of the total variance kept by the first ``n_components``."""
        return float(self.explained_variance_ratio[:n_components].sum())

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "components": self.components,
            "mean": self.mean,
            "explained_variance_ratio": self.explained_variance_ratio,
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> PCAModel:
        return cls(
            arrays["components"], arrays["mean"], arrays["explained_variance_ratio"]
        )


def fit_pca(
    features: np.ndarray,
    n_components: int = PCA_ANOMALY,
    batch_size: int = 2048,
    progress: ProgressFn | None = None,
) -> PCAModel:
    """Fit IncrementalPCA in batches (works on a memory-mapped array).

    ``n_components`` is capped at the number of galaxies and of features.
    """
    n, d = features.shape
    k = min(n_components, n, d)
    batch = max(batch_size, k)
    starts = list(range(0, n, batch))
    if len(starts) > 1 and n - starts[-1] < k:  # IncrementalPCA needs >= k rows a batch
        starts.pop()
    pca = IncrementalPCA(n_components=k)
    for i, start in enumerate(starts):
        stop = starts[i + 1] if i + 1 < len(starts) else n
        pca.partial_fit(np.asarray(features[start:stop], dtype=np.float64))
        if progress:
            progress(stop, n)
    return PCAModel(
        components=pca.components_.astype(np.float32),
        mean=pca.mean_.astype(np.float32),
        explained_variance_ratio=pca.explained_variance_ratio_.astype(np.float64),
    )


def fit_umap(
    pca_features: np.ndarray,
    n_neighbors: int = UMAP_NEIGHBOURS,
    min_dist: float = UMAP_MIN_DIST,
    random_state: int = 0,
) -> np.ndarray:
    """2-D UMAP embedding ``(n, 2)`` float32 of PCA features (Walmsley+22 §2.3)."""
    import umap  # numba compiles on first import: keep it off the import path

    n = len(pca_features)
    if n < 4:
        return np.zeros((n, 2), dtype=np.float32)
    reducer = umap.UMAP(
        n_neighbors=min(n_neighbors, n - 1),
        min_dist=min_dist,
        random_state=random_state,
        n_jobs=1,
    )
    return reducer.fit_transform(np.asarray(pca_features)).astype(np.float32)
