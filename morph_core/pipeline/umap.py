"""The UMAP stage: a 2-D map of PCA-15 for the explorer (Walmsley+22 §2.3).

The default settings give the map every tool shows; maps for other settings are
kept beside it, so going back and forth costs nothing.
"""

from __future__ import annotations

import numpy as np

from morph_core import access
from morph_core.access import OPERATOR, Visitor
from morph_core.dataset import UMAP_DEFAULT, PreparedDataset
from morph_core.pipeline.reduce import PCA_UMAP
from morph_core.pipeline.stage import Stage
from morph_core.progress import ProgressFn

UMAP_NEIGHBOURS, UMAP_MIN_DIST = UMAP_DEFAULT
UMAP_FIT_MAX = 100_000  # larger maps: fitted on a sample, the rest transformed
TRANSFORM_BLOCK = 50_000


def fit_umap(
    pca_features: np.ndarray,
    n_neighbors: int = UMAP_NEIGHBOURS,
    min_dist: float = UMAP_MIN_DIST,
    random_state: int = 0,
    progress: ProgressFn | None = None,
    fit_max: int = UMAP_FIT_MAX,
) -> np.ndarray:
    """2-D UMAP embedding ``(n, 2)`` float32 of PCA features (Walmsley+22 §2.3).

    Above ``fit_max`` galaxies the map is fitted on a random sample of that
    many and the others are placed by ``transform``, in blocks (progress
    counts galaxies placed): a survey's million in minutes, not hours.
    """
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
    if n <= fit_max:
        return reducer.fit_transform(np.asarray(pca_features)).astype(np.float32)
    sample = np.sort(
        np.random.default_rng(random_state).choice(n, fit_max, replace=False)
    )
    out = np.empty((n, 2), np.float32)
    out[sample] = reducer.fit_transform(np.asarray(pca_features[sample]))
    rest = np.setdiff1d(np.arange(n), sample)
    done = fit_max
    if progress:
        progress(done, n)
    for start in range(0, len(rest), TRANSFORM_BLOCK):
        rows = rest[start : start + TRANSFORM_BLOCK]
        out[rows] = reducer.transform(np.asarray(pca_features[rows]))
        done += len(rows)
        if progress:
            progress(done, n)
    return out


class UmapStage(Stage[np.ndarray]):
    """UMAP of PCA-15 with given settings, fitted again when the PCA changes."""

    def __init__(
        self,
        dataset: PreparedDataset,
        n_neighbors: int = UMAP_NEIGHBOURS,
        min_dist: float = UMAP_MIN_DIST,
        random_state: int = 0,
        encoder: str | None = None,
    ):
        super().__init__(dataset)
        self.n_neighbors, self.min_dist = n_neighbors, min_dist
        self.random_state, self.encoder = random_state, encoder
        self.output = dataset.umap_file(n_neighbors, min_dist, encoder)

    def inputs(self) -> dict:
        record = {
            "pca": self.workspace.record(self.dataset.pca_file(self.encoder)),
            "n_components": PCA_UMAP,
            "n_neighbors": self.n_neighbors,
            "min_dist": self.min_dist,
            "random_state": self.random_state,
        }
        projection = self.dataset.projection_file(self.encoder)
        if len(self.workspace.read_array(projection)) > UMAP_FIT_MAX:
            record["fit_max"] = UMAP_FIT_MAX  # the map follows the sample
        return record

    def compute(self, progress: ProgressFn | None) -> np.ndarray:
        if progress:
            progress(0, 1)
        projection = self.dataset.projection_file(self.encoder)
        pca_15 = self.workspace.read_array(projection)[:, :PCA_UMAP]
        embedding = fit_umap(
            pca_15, self.n_neighbors, self.min_dist, self.random_state, progress
        )
        if progress:
            progress(1, 1)
        return embedding

    def write(self, value: np.ndarray, record: dict) -> None:
        self.workspace.write_array(self.output, value, record)

    def read(self) -> np.ndarray:
        return self.workspace.read_array(self.output)


def recompute_umap(
    dataset: PreparedDataset,
    n_neighbors: int,
    min_dist: float,
    progress: ProgressFn | None = None,
    visitor: Visitor = OPERATOR,
) -> np.ndarray:
    """A UMAP with other settings than prepare's, stored beside it; on a public
    server only admins recompute (it costs about half a minute of both cores)."""
    access.policy().require(visitor, "recompute_umap")
    return UmapStage(dataset, n_neighbors, min_dist).run(progress)
