"""The anomaly stage: what the rater's finder learns on, made at prepare rather
than on the rater's first visit (3-11 s of the server's cores at a million
galaxies): the standardised features of each part (the CNN's PCA-40, the
ellipse fits) and every galaxy's isolation-forest score on each feature set
(the cold start, and the Astronomaly baseline's first order)."""

from __future__ import annotations

import numpy as np

from morph_core.dataset import ELLIPSE, PreparedDataset
from morph_core.errors import MorphCoreError
from morph_core.pipeline.reduce import PCA_ANOMALY
from morph_core.pipeline.stage import Stage
from morph_core.progress import ProgressFn
from morph_core.tools.anomaly.baseline import isolation_scores
from morph_core.tools.anomaly.features import FEATURE_SETS, anomaly_features

ANOMALY_VERSION = 1  # bump when the features' or scores' definition changes


class AnomalyStage(Stage[dict[str, np.ndarray]]):
    """Main output: ``(n_galaxies, len(FEATURE_SETS))`` float32 isolation
    scores, one column per feature set in :data:`FEATURE_SETS` order, NaN for a
    set the dataset lacks (a published representation has no ellipse fits).
    Companions: the standardised parts, float32 (``anomaly_cnn.npy``,
    ``anomaly_ellipse.npy``)."""

    def __init__(self, dataset: PreparedDataset, encoder: str | None = None):
        super().__init__(dataset)
        self.encoder = encoder
        self.output = dataset.oddness_file(encoder)

    def _has_ellipse(self) -> bool:
        return self.workspace.exists(ELLIPSE)

    def inputs(self) -> dict:
        return {
            "pca": self.workspace.record(self.dataset.pca_file(self.encoder)),
            "ellipse": self.workspace.record(ELLIPSE) if self._has_ellipse() else None,
            "version": ANOMALY_VERSION,
        }

    def compute(self, progress: ProgressFn | None) -> dict[str, np.ndarray]:
        projection = self.dataset.projection_file(self.encoder)
        pca = self.workspace.read_array(projection)[:, :PCA_ANOMALY]
        parts = {"cnn": anomaly_features("cnn", pca, None)}
        if self._has_ellipse():
            parts["ellipse"] = anomaly_features("ellipse", None, self.dataset.ellipse())
        sets = dict(parts)
        if "ellipse" in parts:
            sets["both"] = np.hstack([parts["cnn"], parts["ellipse"]])
        oddness = np.full((len(pca), len(FEATURE_SETS)), np.nan, np.float32)
        for i, feature_set in enumerate(FEATURE_SETS):
            if feature_set in sets:
                oddness[:, i] = isolation_scores(sets[feature_set])
            if progress:
                progress(i + 1, len(FEATURE_SETS))
        return parts | {"oddness": oddness}

    def write(self, value: dict[str, np.ndarray], record: dict) -> None:
        for part in ("cnn", "ellipse"):
            if part in value:
                self.workspace.write_array(
                    self.dataset.anomaly_file(part, self.encoder), value[part]
                )
        self.workspace.write_array(self.output, value["oddness"], record)

    def read(self) -> dict[str, np.ndarray]:
        parts = ("cnn", "ellipse") if self._has_ellipse() else ("cnn",)
        return {
            part: self.workspace.read_array(
                self.dataset.anomaly_file(part, self.encoder)
            )
            for part in parts
        } | {"oddness": self.workspace.read_array(self.output)}


def stored_features(dataset: PreparedDataset, feature_set: str) -> np.ndarray:
    """The standardised features of ``feature_set`` that prepare stored (float32,
    catalogue order; memory-mapped but for "both")."""
    parts = (
        ("cnn", "ellipse") if _check(dataset, feature_set) == "both" else (feature_set,)
    )
    arrays = [dataset.workspace.read_array(dataset.anomaly_file(p)) for p in parts]
    return arrays[0] if len(arrays) == 1 else np.hstack(arrays)


def stored_oddness(dataset: PreparedDataset, feature_set: str) -> np.ndarray:
    """Every galaxy's isolation-forest score in [0, 1] on ``feature_set``."""
    column = list(FEATURE_SETS).index(_check(dataset, feature_set))
    scores = dataset.workspace.read_array(dataset.oddness_file())
    return np.array(scores[:, column])


def _check(dataset: PreparedDataset, feature_set: str) -> str:
    if feature_set not in FEATURE_SETS:
        raise MorphCoreError(
            f"unknown feature set {feature_set!r}; "
            f"choose from {', '.join(FEATURE_SETS)}"
        )
    if feature_set != "cnn" and not dataset.workspace.exists(ELLIPSE):
        raise MorphCoreError(
            f"{dataset.name!r} has no ellipse fits"
            + (
                " (it has no images): use its CNN features"
                if dataset.representation_only
                else " yet: prepare it again on the Home page"
            )
        )
    return feature_set
