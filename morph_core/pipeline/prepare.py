"""Prepare a dataset: every stage that is out of date, in order.

source -> check -> hash -> embed -> catalog -> reduce (PCA) -> umap -> ellipse
-> anomaly; a published representation (``source: features``): table -> catalog
-> reduce -> umap -> anomaly (no image is read, so no ellipse fits).
A second prepare with nothing changed computes and rewrites nothing but its
own record, and keeps the dataset's version (the app's cache key).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

import pandas as pd

from morph_core import access
from morph_core.access import OPERATOR, Visitor
from morph_core.data.manifest import DatasetEntry
from morph_core.data.sources.table import table_file
from morph_core.dataset import PREPARED, PreparedDataset, check_name_free, digest
from morph_core.errors import MorphCoreError
from morph_core.model.spec import EncoderSpec
from morph_core.pipeline.anomaly import AnomalyStage
from morph_core.pipeline.catalog import CatalogStage, CheckStage
from morph_core.pipeline.ellipse import EllipseStage
from morph_core.pipeline.embed import EmbedStage, hash_images, resumable
from morph_core.pipeline.reduce import (
    PCA_ANOMALY,
    PCA_SIMILARITY,
    PCA_UMAP,
    ReduceStage,
)
from morph_core.pipeline.source import read_source
from morph_core.pipeline.table import TableStage, table_encoder
from morph_core.pipeline.umap import UmapStage
from morph_core.progress import ProgressFn, StageProgressFn

STAGES = ("catalog", "hash", "embed", "pca", "umap", "ellipse", "anomaly")
T = TypeVar("T")


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


def prepare(
    entry: DatasetEntry,
    dataset: PreparedDataset,
    spec: EncoderSpec | None,
    *,
    limit: int | None = None,
    batch_size: int = 32,
    num_workers: int = 0,
    random_state: int = 0,
    progress: StageProgressFn | None = None,
    visitor: Visitor = OPERATOR,
) -> PrepareSummary:
    """Run every stage that is out of date and record the result.

    Parameters
    ----------
    entry : DatasetEntry
        From the manifest, or made for a user's folder.
    dataset : PreparedDataset
        Where artefacts go; one prepare at a time holds its lock. A prepare that
        fails leaves the previous one as it was.
    spec : EncoderSpec or None
        The CNN (:func:`~morph_core.model.weights.resolve_encoder`); its
        fingerprint keys the feature cache. Not used by a table of features
        (``source: features``): its entry names the encoder that made them.
    limit : int, optional
        Use only the first ``limit`` catalogue rows (quick looks, tests).
    progress : callable, optional
        ``progress(stage, done, total)`` with ``stage`` in :data:`STAGES`.
    visitor : Visitor
        Who asks: on a public server only admins prepare.

    Raises
    ------
    MorphCoreError
        Bad input, a name taken by another dataset (:func:`check_name_free`),
        or a visitor of a public server. A dataset that did not exist before
        and failed to prepare is removed (nothing is left behind), unless it
        was stopped while embedding: the next prepare resumes from there.
    """
    access.policy().require(visitor, "prepare")
    check_name_free(entry, dataset.path.parent)
    fresh = not dataset.path.exists()
    try:
        with dataset.workspace.lock():
            summary = _Prepare(dataset, progress).run(
                entry, spec, limit, batch_size, num_workers, random_state
            )
    except BaseException as error:
        if fresh and not resumable(dataset):  # (kept: not listed, resumed next time)
            shutil.rmtree(dataset.path, ignore_errors=True)
        reason = str(error) if isinstance(error, MorphCoreError) else "see the log"
        dataset.record_progress(state="failed", error=reason)
        raise
    dataset.record_progress(state="finished", stage=STAGES[-1], done=1, total=1)
    return summary


class _Prepare:
    """One prepare's bookkeeping: seconds and progress per stage."""

    def __init__(self, dataset: PreparedDataset, progress: StageProgressFn | None):
        self.dataset = dataset
        self.outer = progress
        self.seconds: dict[str, float] = {}
        self.last_record = 0.0

    def progress(self, stage: str, done: int, total: int) -> None:
        """Tell the caller, and record it for Home (at most once a second)."""
        if self.outer is not None:
            self.outer(stage, done, total)
        if time.monotonic() - self.last_record > 1 or done >= total:
            self.last_record = time.monotonic()
            fraction = (STAGES.index(stage) + done / max(total, 1)) / len(STAGES)
            self.dataset.record_progress(
                state="running",
                stage=stage,
                done=done,
                total=total,
                fraction=round(min(fraction, 1.0), 4),
            )

    def timed(self, stage: str, work: Callable[[ProgressFn | None], T]) -> T:
        """``work(progress)`` with this stage's progress and wall time recorded."""
        start = time.perf_counter()
        self.progress(stage, 0, 1)
        result = work(lambda done, total: self.progress(stage, done, total))
        self.seconds[stage] = round(time.perf_counter() - start, 2)
        return result

    def run(self, entry, spec, limit, batch_size, num_workers, random_state):
        ds = self.dataset

        def check(progress):
            table, root, skipped = read_source(ds, entry, progress)
            if limit is not None:
                table = table.head(limit)
            return CheckStage(ds, entry, table, root, skipped).run()[0]

        if entry.source == "features":  # a published representation: no images

            def read(progress):  # downloaded first when it has a URL
                table_file(entry, progress)
                stage = TableStage(ds, entry, limit)
                return stage, stage.run(progress).features

            embed, features = self.timed("catalog", read)
            spec = table_encoder(entry)
        else:
            checked = self.timed("catalog", check)
            files = checked["file"].astype(str).tolist()
            hashes = self.timed("hash", lambda progress: hash_images(files, progress))
            embed = EmbedStage(ds, checked, hashes, spec, batch_size, num_workers)
            features = self.timed("embed", embed.run).features
        stages = [
            CatalogStage(ds, embed.encoder),
            ReduceStage(ds, embed.encoder),
            UmapStage(ds, random_state=random_state, encoder=embed.encoder),
        ]
        catalog = stages[0].run()
        model = self.timed("pca", stages[1].run)
        self.timed("umap", stages[2].run)
        if entry.source != "features":
            stages.append(EllipseStage(ds, embed.encoder))
            self.timed("ellipse", stages[-1].run)
        stages.append(AnomalyStage(ds, embed.encoder))
        self.timed("anomaly", stages[-1].run)
        skipped = ds.skipped(embed.encoder)
        variance = {
            str(k): round(model.variance_explained(k), 4)
            for k in (PCA_SIMILARITY, PCA_UMAP, PCA_ANOMALY)
        }
        ds.save_source(entry)
        ds.workspace.write_json(
            PREPARED,
            {
                "dataset": entry.name,
                "n_galaxies": len(catalog),
                "n_skipped": len(skipped),
                "n_embedded": embed.n_embedded,
                "representation_only": entry.source == "features",
                "variance_explained": variance,
                "seconds": self.seconds,
                "encoder": {
                    "fingerprint": embed.encoder,
                    "spec": vars(spec) if spec is not None else None,
                },
                "n_features": int(features.shape[1]),
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "version": digest(str(stage.record()) for stage in stages),
            },
        )
        return PrepareSummary(
            dataset=entry.name,
            n_galaxies=len(catalog),
            skipped=skipped,
            n_embedded=embed.n_embedded,
            encoder=embed.encoder,
            variance_explained=variance,
            seconds=self.seconds,
        )
