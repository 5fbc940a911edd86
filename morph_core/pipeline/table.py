"""The table stage of a representation-only dataset: its catalogue and features
read from the published table. No image is read: cutouts are fetched when a
page shows them (:mod:`morph_core.data.cutouts`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from morph_core.data.catalog import row_problems
from morph_core.data.cutouts import locations
from morph_core.data.manifest import DatasetEntry, load_manifest, resolve_path
from morph_core.data.sources import with_labels
from morph_core.data.sources.table import FeatureTable
from morph_core.dataset import CHECKED, SKIPPED, PreparedDataset, digest
from morph_core.model.spec import EncoderSpec
from morph_core.model.weights import spec_of_entry
from morph_core.pipeline.catalog import check_not_empty
from morph_core.pipeline.distributed import ERROR_COLUMN
from morph_core.pipeline.embed import Embedded
from morph_core.pipeline.stage import Stage
from morph_core.progress import ProgressFn

TABLE_VERSION = 1  # bump when the reading of tables changes


def table_fingerprint(entry: DatasetEntry) -> str:
    """What names the features folder of a table: its file (and ``.npy``) and
    the feature columns, so that a changed table is read again."""
    files = [entry.folder(), resolve_path(entry.features) if entry.features else None]
    parts = [_identity(f) for f in files] + [entry.feature_columns or ""]
    return "table-" + digest(parts)[:16]


def table_encoder(entry: DatasetEntry) -> EncoderSpec | None:
    """The encoder that made a table's features, when the entry names one
    (search by uploaded image needs it); ``None`` when unknown."""
    if not entry.encoder:
        return None
    return spec_of_entry(load_manifest().weight(entry.encoder))


def _identity(path: Path | None) -> str:
    """A file by its path, size and time; a folder of shards by its files'."""
    if path is None:
        return ""
    if path.is_dir():
        return digest(_identity(f) for f in sorted(path.rglob("*.parquet")))
    try:
        stat = path.stat()
    except OSError:
        return str(path)
    return f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"


class TableStage(Stage[Embedded]):
    """The features of the table's usable rows, with ``checked.parquet`` (their
    catalogue, ``file`` the cutout of each) and ``skipped.csv`` (the rest, with
    the reason) beside them.

    Parameters
    ----------
    entry : DatasetEntry
        A ``source: features`` entry.
    limit : int, optional
        Only the table's first ``limit`` rows.
    """

    def __init__(
        self, dataset: PreparedDataset, entry: DatasetEntry, limit: int | None = None
    ):
        super().__init__(dataset)
        self.entry, self.limit = entry, limit
        self.encoder = table_fingerprint(entry)
        self.output = dataset.features_file(self.encoder)
        self.n_embedded = 0  # no image goes through a CNN

    def inputs(self) -> dict:
        return {
            "table": self.encoder,
            "source": self.entry.model_dump(),
            "limit": self.limit,
            "version": TABLE_VERSION,
        }

    def compute(self, progress: ProgressFn | None) -> Embedded:
        table = FeatureTable(self.entry, self.limit)
        catalog = with_labels(table.catalog(), self.entry).reset_index(drop=True)
        reasons = row_problems(catalog)
        if ERROR_COLUMN in catalog:  # embed-distributed's shards: unread images
            failed = catalog.pop(ERROR_COLUMN).fillna("").astype(str)
            reasons[(failed != "") & (reasons == "")] = failed
        folder = table.path if table.path.is_dir() else table.path.parent
        if self.entry.cutouts:
            files, missing = locations(catalog, self.entry.cutouts, folder)
            reasons[(missing != "") & (reasons == "")] = missing
            catalog["file"] = files
        elif "file" in catalog:  # the images the features were made from
            catalog["file"] = catalog["file"].fillna("").astype(str)
        else:
            catalog["file"] = ""
        features = np.empty((table.n_rows, table.n_features), np.float32)
        finite = np.ones(table.n_rows, bool)
        done = 0
        for block in table.blocks():
            features[done : done + len(block)] = block
            finite[done : done + len(block)] = np.isfinite(block).all(axis=1)
            done += len(block)
            if progress:
                progress(done, table.n_rows)
        reasons[~finite & (reasons == "").to_numpy()] = "features not finite"
        keep = (reasons == "").to_numpy()
        skipped = catalog.loc[~keep, ["galaxy_id", "file"]].assign(
            reason=reasons[~keep]
        )
        check_not_empty(catalog[keep], skipped)
        kept = catalog[keep].reset_index(drop=True)
        self.checked = kept
        self.skipped = skipped.reset_index(drop=True)
        return Embedded(
            features[keep] if not keep.all() else features,
            kept[["galaxy_id"]],
            pd.DataFrame(columns=["galaxy_id", "file", "reason"]),
        )

    def write(self, value: Embedded, record: dict) -> None:
        self.workspace.write_table(SKIPPED, self.skipped)
        self.workspace.write_table(CHECKED, self.checked, record)
        self.workspace.write_table(self.dataset.failed_file(self.encoder), value.failed)
        self.workspace.write_table(
            self.dataset.embedded_file(self.encoder), value.embedded
        )
        self.workspace.write_array(self.output, value.features, record)

    def read(self) -> Embedded:
        return Embedded(
            self.workspace.read_array(self.output),
            self.workspace.read_table(self.dataset.embedded_file(self.encoder)),
            self.workspace.read_table(self.dataset.failed_file(self.encoder)),
        )
