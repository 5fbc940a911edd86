"""Representation-only datasets: a table of precomputed features, no images.

A published representation (Walmsley et al.'s GZ DECaLS features, a user's own
table) is a parquet or CSV table with ``galaxy_id``, ``ra``, ``dec``, any label
columns and the features: numbered columns (``feat_0`` ... ``feat_1279``,
``pca_0`` ..., or ``<prefix><n>`` for a prefix the entry names), one list column
``features``, or a separate ``.npy`` of rows in table order. Features are read
in blocks of rows, so a table larger than memory is never held whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads

from morph_core.data.download import fetch
from morph_core.data.manifest import DatasetEntry, resolve_path
from morph_core.errors import CatalogError
from morph_core.progress import ProgressFn

FEATURE_NAME = re.compile(r"^(?:feat|feature|pca)_?(?:pca_?)?(\d+)$")
FEATURE_LIST = "features"
BLOCK_ROWS = 65_536
TABLE_SUFFIXES = (".parquet", ".csv")


class FeatureTable:
    """The table of a ``source: features`` entry: its catalogue columns and its
    features, read block by block.

    Raises
    ------
    CatalogError
        The table is missing or unreadable, has no ``galaxy_id`` (after the
        entry's column mapping), no feature columns, or a ``.npy`` of another
        length.
    """

    def __init__(self, entry: DatasetEntry, limit: int | None = None):
        self.path = entry.folder()
        self.features_path = self._features_path(entry)
        if self.path is None or not self.path.exists():
            raise CatalogError(f"feature table not found: {self.path}")
        if self.path.suffix not in TABLE_SUFFIXES and not self.path.is_dir():
            raise CatalogError(
                f"feature table {self.path.name}: a .parquet or .csv file (or a "
                "folder of parquet shards), please"
            )
        self.rename = {theirs: ours for ours, theirs in entry.columns.items()}
        self._csv = self._read_csv() if self.path.suffix == ".csv" else None
        columns = self._columns()
        missing = [c for c in self.rename if c not in columns]
        if missing:
            raise CatalogError(
                f"feature table {self.path.name} has no column "
                f"{', '.join(map(repr, missing))}"
            )
        prefix = entry.feature_columns
        self.feature_names = (
            [] if self.features_path else feature_columns(columns, prefix)
        )
        if not self.features_path and not self.feature_names:
            raise CatalogError(
                f"feature table {self.path.name} has no feature columns (numbered "
                "columns such as feat_0, pca_0, or a list column 'features'; or "
                "name a .npy with 'features')"
            )
        self.catalog_names = [c for c in columns if c not in self.feature_names]
        if "galaxy_id" not in [self.rename.get(c, c) for c in self.catalog_names]:
            raise CatalogError(
                f"feature table {self.path.name} has no galaxy_id column (map one "
                "with columns: {galaxy_id: <its name>})"
            )
        self.n_rows = self._n_rows() if limit is None else min(limit, self._n_rows())
        self.n_features = self._n_features()

    @staticmethod
    def _features_path(entry: DatasetEntry) -> Path | None:
        if not entry.features:
            return None
        path = resolve_path(entry.features)
        if path.suffix != ".npy" or not path.is_file():
            raise CatalogError(f"features file not found (a .npy): {path}")
        return path

    def _read_csv(self) -> pd.DataFrame:
        try:
            return pd.read_csv(self.path, dtype={self._id_column(): str})
        except (
            pd.errors.ParserError,
            pd.errors.EmptyDataError,
            UnicodeDecodeError,
        ) as e:
            raise CatalogError(
                f"feature table {self.path.name} is not a readable CSV"
            ) from e

    def _id_column(self) -> str:
        ids = [theirs for theirs, ours in self.rename.items() if ours == "galaxy_id"]
        return ids[0] if ids else "galaxy_id"

    def _parquet(self) -> pads.Dataset:
        """The parquet file, or the folder of parquet shards (``embed-distributed``
        writes one), read in the order of its files."""
        try:
            return pads.dataset(self.path, format="parquet")
        except (OSError, pa.ArrowException) as e:
            raise CatalogError(
                f"feature table {self.path.name} is unreadable: {e}"
            ) from e

    def _columns(self) -> list[str]:
        if self._csv is not None:
            return [str(c) for c in self._csv.columns]
        return list(self._parquet().schema.names)

    def _n_rows(self) -> int:
        if self._csv is not None:
            n = len(self._csv)
        else:
            n = self._parquet().count_rows()
        if self.features_path is not None:
            rows = np.load(self.features_path, mmap_mode="r", allow_pickle=False)
            if rows.ndim != 2 or len(rows) != n:
                raise CatalogError(
                    f"{self.features_path.name} holds {rows.shape} features for a "
                    f"table of {n} rows: one row per galaxy, please"
                )
        return n

    def _n_features(self) -> int:
        if self.features_path is not None:
            return int(np.load(self.features_path, mmap_mode="r").shape[1])
        if self.feature_names != [FEATURE_LIST]:
            return len(self.feature_names)
        first = next(self.blocks(), None)
        if first is None or first.ndim != 2:
            raise CatalogError(f"feature table {self.path.name} has no feature rows")
        return first.shape[1]

    def catalog(self) -> pd.DataFrame:
        """The catalogue columns (renamed to ours), ``limit`` rows."""
        if self._csv is not None:
            table = self._csv[self.catalog_names]
        else:
            scan = self._parquet().to_table(self.catalog_names, use_threads=False)
            table = scan.to_pandas()
        return table.head(self.n_rows).rename(columns=self.rename)

    def blocks(self) -> Iterator[np.ndarray]:
        """The feature rows, ``(rows, n_features)`` float32, in table order."""
        if self.features_path is not None:
            rows = np.load(self.features_path, mmap_mode="r", allow_pickle=False)
            for start in range(0, self.n_rows, BLOCK_ROWS):
                stop = min(start + BLOCK_ROWS, self.n_rows)
                yield np.asarray(rows[start:stop], np.float32)
            return
        if self._csv is not None:
            values = self._csv[self.feature_names].head(self.n_rows)
            yield _as_rows(values.to_numpy(), self.feature_names)
            return
        done = 0
        batches = self._parquet().to_batches(
            columns=self.feature_names, batch_size=BLOCK_ROWS, use_threads=False
        )
        for batch in batches:
            if done >= self.n_rows:
                return
            block = _batch_rows(batch, self.feature_names)[: self.n_rows - done]
            done += len(block)
            yield block


def table_file(entry: DatasetEntry, progress: ProgressFn | None = None) -> Path:
    """The entry's table, downloaded first (resumable, checksum) when it has a
    URL and is not here yet."""
    path = entry.folder()
    if entry.url and path is not None:
        fetch(entry.url, path, entry.sha256, progress)
    if path is None or not path.exists():
        raise CatalogError(f"feature table not found: {path}")
    return path


def feature_columns(columns: list[str], prefix: str | None = None) -> list[str]:
    """The feature columns among ``columns``, in numeric order: ``<prefix><n>``
    when a prefix is given, else ``feat_<n>``/``pca_<n>``-like names, else a
    list column ``features``."""
    if prefix:
        pattern = re.compile(rf"^{re.escape(prefix)}(\d+)$")
    else:
        pattern = FEATURE_NAME
    numbered = [(int(m.group(1)), c) for c in columns if (m := pattern.match(c))]
    if numbered:
        return [c for _, c in sorted(numbered)]
    return [FEATURE_LIST] if FEATURE_LIST in columns and not prefix else []


def _batch_rows(batch: pa.RecordBatch, names: list[str]) -> np.ndarray:
    if names == [FEATURE_LIST]:
        column = batch.column(0)
        if not pa.types.is_list(column.type) and not pa.types.is_fixed_size_list(
            column.type
        ):
            raise CatalogError("column 'features' must hold a list of numbers per row")
        if pa.types.is_fixed_size_list(column.type):
            width = column.type.list_size
        else:
            lengths = np.unique(column.value_lengths().to_numpy(zero_copy_only=False))
            if len(lengths) != 1:
                raise CatalogError("the rows of 'features' differ in length")
            width = int(lengths[0])
        flat = column.flatten().to_numpy(zero_copy_only=False)
        return _as_rows(flat.reshape(len(column), width), names)
    columns = [column.to_numpy(zero_copy_only=False) for column in batch.columns]
    return _as_rows(np.column_stack(columns), names)


def _as_rows(values: np.ndarray, names: list[str]) -> np.ndarray:
    try:
        return np.asarray(values, np.float32)
    except (TypeError, ValueError) as e:
        raise CatalogError(
            f"feature columns ({names[0]} ...) must hold numbers: {e}"
        ) from e
