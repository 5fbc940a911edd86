"""Which representation the anomaly finder learns on: the CNN's PCA-40 (the
paper's), the baseline's ellipse fits, or both side by side."""

from __future__ import annotations

import hashlib

import numpy as np

from morph_core.anomaly.ellipse import ellipse_features_of_files
from morph_core.anomaly.gp import standardise
from morph_core.errors import MorphCoreError
from morph_core.features import PCA_ANOMALY
from morph_core.progress import ProgressFn
from morph_core.workspace import Workspace

FEATURE_SETS = {
    "cnn": "CNN features (PCA-40)",
    "ellipse": "Ellipse fits (Astronomaly baseline)",
    "both": "Both",
}
ELLIPSE_FILE = "ellipse.npy"


def ellipse_features(
    workspace: Workspace, progress: ProgressFn | None = None
) -> np.ndarray:
    """Ellipse features of every prepared galaxy, computed once and kept in the
    workspace (made again only when the images change)."""
    hashes = workspace.read_table(f"{workspace.features_dir()}/embedded.parquet")
    digest = hashlib.sha256("".join(hashes["image_hash"]).encode()).hexdigest()
    key = {"images": digest, "version": 1}
    if not workspace.is_fresh(ELLIPSE_FILE, key):
        files = workspace.catalog()["file"].tolist()
        features, _ = ellipse_features_of_files(files, progress)
        workspace.write_array(ELLIPSE_FILE, features, key)
    return workspace.read_array(ELLIPSE_FILE, mmap=False)


def anomaly_features(
    workspace: Workspace, feature_set: str, progress: ProgressFn | None = None
) -> np.ndarray:
    """Standardised features for the anomaly finder, rows in catalogue order."""
    if feature_set not in FEATURE_SETS:
        raise MorphCoreError(
            f"unknown feature set {feature_set!r}; "
            f"choose from {', '.join(FEATURE_SETS)}"
        )
    parts = []
    if feature_set in ("cnn", "both"):
        parts.append(standardise(np.asarray(workspace.pca_features(PCA_ANOMALY))))
    if feature_set in ("ellipse", "both"):
        parts.append(standardise(ellipse_features(workspace, progress)))
    return np.hstack(parts)
