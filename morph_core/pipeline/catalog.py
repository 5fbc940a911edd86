"""The catalogue stages: the raw table checked row by row (``checked.parquet``
and ``skipped.csv``), then, after embedding, the galaxies that have features
(``catalog.parquet``, in features order): what every tool reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from morph_core.data.catalog import absolute_files, validate_catalog
from morph_core.data.manifest import DatasetEntry
from morph_core.dataset import CATALOG, CHECKED, SKIPPED, PreparedDataset, digest
from morph_core.errors import CatalogError
from morph_core.pipeline.stage import Stage
from morph_core.progress import ProgressFn

Checked = tuple[pd.DataFrame, pd.DataFrame]


class CheckStage(Stage[Checked]):
    """Rows that can be used (ids, positions, files present), and the rest with
    the reason. Raises :class:`CatalogError` before writing when none can."""

    output = CHECKED

    def __init__(
        self,
        dataset: PreparedDataset,
        entry: DatasetEntry,
        table: pd.DataFrame,
        image_root: str | None,
        skipped: pd.DataFrame,
    ):
        super().__init__(dataset)
        self.entry, self.table, self.image_root = entry, table, image_root
        self.source_skipped = skipped

    def inputs(self) -> dict:
        present = (
            [Path(f).is_file() for f in absolute_files(self.table, self.image_root)]
            if "file" in self.table.columns
            else []
        )
        return {
            "source": self.entry.model_dump(),
            "table": _table_digest(self.table),
            "image_root": self.image_root,
            "present": digest("1" if p else "0" for p in present),
            "skipped": _table_digest(self.source_skipped),
        }

    def compute(self, progress: ProgressFn | None) -> Checked:
        catalog, skipped = validate_catalog(self.table, self.image_root)
        skipped = pd.concat([self.source_skipped, skipped], ignore_index=True)
        check_not_empty(catalog, skipped)
        return catalog, skipped

    def write(self, value: Checked, record: dict) -> None:
        catalog, skipped = value
        self.workspace.write_table(SKIPPED, skipped)
        self.workspace.write_table(self.output, catalog, record)

    def read(self) -> Checked:
        return self.workspace.read_table(self.output), self.workspace.read_table(
            SKIPPED
        )


class CatalogStage(Stage[pd.DataFrame]):
    """The checked rows that have features, in features order."""

    output = CATALOG

    def __init__(self, dataset: PreparedDataset, encoder: str):
        super().__init__(dataset)
        self.encoder = encoder

    def inputs(self) -> dict:
        return {
            "checked": self.workspace.record(CHECKED),
            "features": self.workspace.record(self.dataset.features_file(self.encoder)),
        }

    def compute(self, progress: ProgressFn | None) -> pd.DataFrame:
        checked = self.workspace.read_table(CHECKED)
        embedded = self.workspace.read_table(self.dataset.embedded_file(self.encoder))
        keep = checked["galaxy_id"].astype(str).isin(embedded["galaxy_id"])
        return checked.loc[keep].reset_index(drop=True)

    def write(self, value: pd.DataFrame, record: dict) -> None:
        self.workspace.write_table(self.output, value, record)

    def read(self) -> pd.DataFrame:
        return self.workspace.read_table(self.output)


def check_not_empty(catalog: pd.DataFrame, skipped: pd.DataFrame) -> None:
    """Raise a :class:`CatalogError` naming the main reasons when nothing is left."""
    if len(catalog):
        return
    reasons = skipped["reason"].value_counts().head(3)
    detail = "; ".join(f"{n} x {reason}" for reason, n in reasons.items())
    raise CatalogError(f"no galaxy could be prepared ({detail or 'empty catalogue'})")


def _table_digest(table: pd.DataFrame) -> str:
    """Fingerprint of a table's columns and values."""
    try:
        hashed = pd.util.hash_pandas_object(table, index=True)
    except TypeError:  # unhashable cells (lists): compare their text
        hashed = pd.util.hash_pandas_object(table.astype(str), index=True)
    values = np.asarray(hashed, dtype=np.uint64).tobytes().hex()
    return digest([",".join(map(str, table.columns)), values])
