"""Prepare a dataset: catalogue -> images -> features -> PCA -> UMAP.

One forward pass per image, ever: features are cached per (encoder fingerprint,
image content hash), so a second prepare embeds only new or changed images, and
PCA and UMAP are refitted only when the features change.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from morph_core.catalog import empty_skipped, validate_catalog
from morph_core.encoder_spec import EncoderSpec
from morph_core.errors import CatalogError
from morph_core.features import (
    PCA_ANOMALY,
    PCA_SIMILARITY,
    PCA_UMAP,
    UMAP_MIN_DIST,
    UMAP_NEIGHBOURS,
    PCAModel,
    fit_pca,
    fit_umap,
)
from morph_core.manifest import DatasetEntry
from morph_core.progress import ProgressFn, StageProgressFn
from morph_core.sources import read_source
from morph_core.workspace import Workspace, umap_file

logger = logging.getLogger(__name__)

STAGES = ("catalog", "hash", "embed", "pca", "umap")


@dataclass
class PrepareSummary:
    """What a prepare did.

    Attributes
    ----------
    n_galaxies : int
        Galaxies with features, ready for the tools.
    skipped : DataFrame
        ``galaxy_id``, ``file``, ``reason`` of each galaxy left out.
    n_embedded : int
        Images passed through the CNN in this run (0 when all were cached).
    seconds : dict
        Wall time of each stage.
    """

    dataset: str
    n_galaxies: int
    skipped: pd.DataFrame
    n_embedded: int
    encoder: str
    variance_explained: dict[str, float]
    seconds: dict[str, float] = field(default_factory=dict)

    def as_record(self) -> dict:
        return {
            "dataset": self.dataset,
            "n_galaxies": self.n_galaxies,
            "n_skipped": len(self.skipped),
            "n_embedded": self.n_embedded,
            "variance_explained": self.variance_explained,
            "seconds": self.seconds,
        }


def prepare(
    entry: DatasetEntry,
    workspace: Workspace,
    spec: EncoderSpec,
    *,
    limit: int | None = None,
    batch_size: int = 32,
    num_workers: int = 0,
    random_state: int = 0,
    progress: StageProgressFn | None = None,
) -> PrepareSummary:
    """Run every stage that is out of date and record the result.

    Parameters
    ----------
    entry : DatasetEntry
        From the manifest, or made for a user's folder.
    workspace : Workspace
        Where artefacts go; one prepare at a time holds its lock.
    spec : EncoderSpec
        The CNN; its fingerprint keys the feature cache.
    limit : int, optional
        Use only the first ``limit`` catalogue rows (quick looks, tests).
    progress : callable, optional
        ``progress(stage, done, total)`` with ``stage`` in :data:`STAGES`.
    """
    with workspace.lock():
        return _prepare(
            entry,
            workspace,
            spec,
            limit,
            batch_size,
            num_workers,
            random_state,
            progress,
        )


def _prepare(
    entry, workspace, spec, limit, batch_size, num_workers, random_state, progress
):
    seconds: dict[str, float] = {}

    def report(stage: str):
        return (lambda done, total: progress(stage, done, total)) if progress else None

    workspace.write_json("source.json", entry.model_dump())
    start = time.perf_counter()
    table, image_root, unreadable = read_source(entry, workspace, report("catalog"))
    if limit is not None:
        table = table.head(limit)
    catalog, skipped = validate_catalog(table, image_root)
    skipped = pd.concat([unreadable, skipped], ignore_index=True)
    _check_not_empty(catalog, skipped)
    seconds["catalog"] = time.perf_counter() - start

    start = time.perf_counter()
    hashes = _hash_files(catalog["file"].tolist(), report("hash"))
    seconds["hash"] = time.perf_counter() - start

    start = time.perf_counter()
    fingerprint = spec.fingerprint()
    folder = f"features/{fingerprint}"
    features, n_embedded, errors = _embed_new(
        workspace,
        folder,
        spec,
        catalog["file"].tolist(),
        hashes,
        batch_size,
        num_workers,
        report("embed"),
    )
    if errors:
        bad = catalog.index.isin(list(errors))
        failed = catalog.loc[bad, ["galaxy_id", "file"]].assign(
            reason=[errors[i] for i in np.flatnonzero(bad)]
        )
        skipped = pd.concat([skipped, failed], ignore_index=True)
        catalog, features = catalog.loc[~bad].reset_index(drop=True), features[~bad]
        hashes = [h for i, h in enumerate(hashes) if i not in errors]
        _check_not_empty(catalog, skipped)
    features_key = {"encoder": fingerprint, "images": _digest(hashes)}
    if not workspace.is_fresh(f"{folder}/features.npy", features_key):
        workspace.write_array(f"{folder}/features.npy", features, features_key)
        workspace.write_table(
            f"{folder}/embedded.parquet",
            pd.DataFrame({"galaxy_id": catalog["galaxy_id"], "image_hash": hashes}),
        )
    workspace.write_table("catalog.parquet", catalog)
    workspace.write_table("skipped.csv", skipped if len(skipped) else empty_skipped())
    seconds["embed"] = time.perf_counter() - start

    start = time.perf_counter()
    pca_key = {"features": features_key, "n_components": PCA_ANOMALY}
    if not workspace.is_fresh(f"{folder}/pca.npz", pca_key):
        features = workspace.read_array(f"{folder}/features.npy")
        model = fit_pca(features, PCA_ANOMALY, progress=report("pca"))
        workspace.write_array(f"{folder}/pca_40.npy", model.transform(features))
        workspace.write_npz(f"{folder}/pca.npz", model.to_arrays(), pca_key)
    model = PCAModel.from_arrays(workspace.read_npz(f"{folder}/pca.npz"))
    seconds["pca"] = time.perf_counter() - start

    start = time.perf_counter()
    compute_umap(
        workspace, UMAP_NEIGHBOURS, UMAP_MIN_DIST, random_state, report("umap"), folder
    )
    seconds["umap"] = time.perf_counter() - start

    summary = PrepareSummary(
        dataset=entry.name,
        n_galaxies=len(catalog),
        skipped=skipped,
        n_embedded=n_embedded,
        encoder=fingerprint,
        variance_explained={
            str(k): round(model.variance_explained(k), 4)
            for k in (PCA_SIMILARITY, PCA_UMAP, PCA_ANOMALY)
        },
        seconds={k: round(v, 2) for k, v in seconds.items()},
    )
    workspace.write_json(
        "prepare.json",
        summary.as_record()
        | {
            "encoder": {"fingerprint": fingerprint, "spec": vars(spec)},
            "n_features": int(features.shape[1]),
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    )
    return summary


def compute_umap(
    workspace: Workspace,
    n_neighbors: int = UMAP_NEIGHBOURS,
    min_dist: float = UMAP_MIN_DIST,
    random_state: int = 0,
    progress: ProgressFn | None = None,
    folder: str | None = None,
) -> np.ndarray:
    """UMAP of PCA-15 with these parameters, computed once and stored (§2.3).

    The default parameters give the map every tool shows; others are kept beside
    it, so going back and forth costs nothing.
    """
    folder = folder or workspace.features_dir()
    relative = f"{folder}/{umap_file(n_neighbors, min_dist)}"
    key = {
        "pca": workspace.read_json(f"{folder}/pca.json"),
        "n_components": PCA_UMAP,
        "n_neighbors": n_neighbors,
        "min_dist": min_dist,
        "random_state": random_state,
    }
    if not workspace.is_fresh(relative, key):
        if progress:
            progress(0, 1)
        pca_15 = workspace.read_array(f"{folder}/pca_40.npy")[:, :PCA_UMAP]
        embedding = fit_umap(pca_15, n_neighbors, min_dist, random_state)
        workspace.write_array(relative, embedding, key)
    if progress:
        progress(1, 1)
    return workspace.read_array(relative)


def _embed_new(
    workspace, folder, spec, files, hashes, batch_size, num_workers, progress
):
    """Features in catalogue order, embedding only images not cached by hash."""
    cached: dict[str, np.ndarray] = {}
    if workspace.exists(f"{folder}/embedded.parquet") and workspace.exists(
        f"{folder}/features.npy"
    ):
        old_hashes = workspace.read_table(f"{folder}/embedded.parquet")["image_hash"]
        old = workspace.read_array(f"{folder}/features.npy")
        if len(old) == len(old_hashes):
            cached = {h: old[i] for i, h in enumerate(old_hashes)}
    todo = [i for i, h in enumerate(hashes) if h not in cached]
    new: np.ndarray | None = None
    errors: dict[int, str] = {}
    if todo:
        from morph_core.encoder import build_encoder, embed_files  # torch only here

        model = build_encoder(spec)
        new, new_errors = embed_files(
            [files[i] for i in todo], model, spec, batch_size, num_workers, progress
        )
        errors = {todo[j]: reason for j, reason in new_errors.items()}
    elif progress:
        progress(len(files), len(files))
    n_features = (
        new.shape[1] if new is not None else next(iter(cached.values())).shape[0]
    )
    features = np.zeros((len(files), n_features), dtype=np.float32)
    position = {i: j for j, i in enumerate(todo)}
    for i, h in enumerate(hashes):
        features[i] = new[position[i]] if i in position else cached[h]
    return features, len(todo) - len(errors), errors


def _check_not_empty(catalog: pd.DataFrame, skipped: pd.DataFrame) -> None:
    if len(catalog):
        return
    reasons = skipped["reason"].value_counts().head(3)
    detail = "; ".join(f"{n} x {reason}" for reason, n in reasons.items())
    raise CatalogError(f"no galaxy could be prepared ({detail or 'empty catalogue'})")


def _hash_files(files: list[str], progress) -> list[str]:
    """Content hash of each file (blake2b, 128 bit)."""
    out = []
    for i, path in enumerate(files):
        with open(path, "rb") as f:
            out.append(hashlib.blake2b(f.read(), digest_size=16).hexdigest())
        if progress and ((i + 1) % 500 == 0 or i + 1 == len(files)):
            progress(i + 1, len(files))
    return out


def _digest(hashes: list[str]) -> str:
    return hashlib.sha256("\n".join(hashes).encode()).hexdigest()
