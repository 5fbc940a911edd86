"""The reduce stage: PCA of the CNN features.

An exact PCA, fitted once from the features' covariance accumulated over batches
(memory-mapped input, float64 sums: matrix products, then one eigendecomposition
of the ``n_features`` x ``n_features`` covariance), stored as plain arrays, never
pickled. PCA-10, PCA-15 and PCA-40 are the leading columns of one 40-component
projection (Walmsley+22 §2.3-3.2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from morph_core.dataset import PreparedDataset
from morph_core.pipeline.stage import Stage
from morph_core.progress import ProgressFn

PCA_SIMILARITY = 10  # Walmsley+22 §2.4
PCA_UMAP = 15  # §2.3
PCA_ANOMALY = 40  # §3.2
PCA_METHOD = "covariance"  # in the input record: a new method refits old workspaces


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
    batch_size: int = 8192,
    progress: ProgressFn | None = None,
) -> PCAModel:
    """Exact PCA of ``(n, d)`` features, read ``batch_size`` rows at a time.

    Two passes (the mean, then the centred covariance in float64) and the
    eigenvectors of the ``d x d`` covariance: the same components as
    scikit-learn's full-SVD PCA, signed as its ``svd_flip`` does (each
    component's largest loading positive). ``n_components`` is capped at the
    number of galaxies and of features. ``progress(done, total)`` counts rows
    read over both passes.
    """
    n, d = features.shape
    k = min(n_components, n, d)
    starts = range(0, n, batch_size)
    mean = np.zeros(d)
    for start in starts:
        mean += np.asarray(features[start : start + batch_size], np.float64).sum(0)
        if progress:
            progress(min(start + batch_size, n), 2 * n)
    mean /= n
    scatter = np.zeros((d, d))
    for start in starts:
        block = np.asarray(features[start : start + batch_size], np.float64) - mean
        scatter += block.T @ block
        if progress:
            progress(n + min(start + batch_size, n), 2 * n)
    variance, vectors = np.linalg.eigh(scatter / max(n - 1, 1))
    top = np.argsort(variance)[::-1][:k]
    components = vectors[:, top].T
    largest = components[np.arange(k), np.abs(components).argmax(1)]
    components *= np.where(largest < 0, -1.0, 1.0)[:, None]
    total = max(float(np.clip(variance, 0, None).sum()), 1e-300)
    return PCAModel(
        components=components.astype(np.float32),
        mean=mean.astype(np.float32),
        explained_variance_ratio=np.clip(variance[top], 0, None) / total,
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
            "method": PCA_METHOD,
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
