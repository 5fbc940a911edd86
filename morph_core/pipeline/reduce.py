"""The reduce stage: PCA of the CNN features.

PCA is fitted once with scikit-learn's IncrementalPCA (memory-mapped input in
batches) and stored as plain arrays, never pickled; PCA-10, PCA-15 and PCA-40 are
the leading columns of one 40-component projection (Walmsley+22 §2.3-3.2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import IncrementalPCA

from morph_core.dataset import PreparedDataset
from morph_core.pipeline.stage import Stage
from morph_core.progress import ProgressFn

PCA_SIMILARITY = 10  # Walmsley+22 §2.4
PCA_UMAP = 15  # §2.3
PCA_ANOMALY = 40  # §3.2


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


class ReduceStage(Stage[PCAModel]):
    """PCA-40 of the features: the model (``pca.npz``) and every galaxy's
    projection, fitted again only when the features change."""

    def __init__(self, dataset: PreparedDataset, encoder: str | None = None):
        super().__init__(dataset)
        self.encoder = encoder
        self.output = dataset.pca_file(encoder)

    def inputs(self) -> dict:
        return {
            "features": self.workspace.record(self.dataset.features_file(self.encoder)),
            "n_components": PCA_ANOMALY,
        }

    def compute(self, progress: ProgressFn | None) -> PCAModel:
        features = self.workspace.read_array(self.dataset.features_file(self.encoder))
        return fit_pca(features, PCA_ANOMALY, progress=progress)

    def write(self, value: PCAModel, record: dict) -> None:
        features = self.workspace.read_array(self.dataset.features_file(self.encoder))
        projection = self.dataset.projection_file(self.encoder)
        self.workspace.write_array(projection, value.transform(features))
        self.workspace.write_npz(self.output, value.to_arrays(), record)

    def read(self) -> PCAModel:
        return PCAModel.from_arrays(self.workspace.read_npz(self.output))
