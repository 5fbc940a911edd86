"""One folder per dataset holding every derived artefact, written atomically.

Layout of ``<workspace_root>/<dataset>/``::

    source.json                   how the catalogue is read (manifest entry or folder)
    catalog.parquet               galaxies that prepared, catalogue columns
    skipped.csv                   galaxies left out, with the reason
    prepare.json                  last prepare: encoder, counts, seconds per stage
    images/                       rendered images (generated datasets only)
    features/<encoder>/           per encoder fingerprint:
        features.npy              (n_galaxies, n_features) float32, catalogue order
        embedded.parquet          galaxy_id, image_hash of each features row
        pca.npz, pca_40.npy       PCA model and projection
        umap.npy                  UMAP of PCA-15
    ellipse.npy                   ellipse-fit features (anomaly baseline), on demand
    ratings.sqlite, raters/       the anomaly rater's ratings and saved batches
    runs/<run_id>/                fine-tuning runs (morph_core.finetune.runs)
    predictions/<run_id>.parquet  a fine-tuned classifier's column, joined to catalog

Every array and table has a JSON sidecar (``<name>.json``) holding the
fingerprint of its inputs and its parameters: that record, not a log file, decides
whether an artefact is up to date. Files are written to a temporary name and
renamed, so a crash never leaves a half-written artefact behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from filelock import FileLock

from morph_core import settings
from morph_core.catalog import empty_skipped
from morph_core.errors import MorphCoreError
from morph_core.features import UMAP_MIN_DIST, UMAP_NEIGHBOURS, PCAModel

PREDICTIONS = "predictions"


class Workspace:
    """The folder of one dataset's artefacts.

    Parameters
    ----------
    path : Path
        ``<workspace_root>/<dataset>``; created on first write.
    """

    def __init__(self, path: Path):
        self.path = Path(path)

    @property
    def name(self) -> str:
        return self.path.name

    def __repr__(self) -> str:
        return f"Workspace({str(self.path)!r})"

    def lock(self, timeout_s: float = 3600) -> FileLock:
        """An inter-process lock: one prepare at a time per dataset."""
        self.path.mkdir(parents=True, exist_ok=True)
        return FileLock(self.path / ".lock", timeout=timeout_s)

    def file(self, relative: str) -> Path:
        return self.path / relative

    def exists(self, relative: str) -> bool:
        return (self.path / relative).exists()

    @contextmanager
    def _atomic(self, relative: str, suffix: str) -> Iterator[Path]:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=suffix)
        os.close(fd)
        try:
            yield Path(tmp)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def write_json(self, relative: str, record: dict[str, Any]) -> None:
        with self._atomic(relative, ".json") as tmp:
            tmp.write_text(json.dumps(record, indent=2, sort_keys=True, default=str))

    def read_json(self, relative: str) -> dict[str, Any] | None:
        """The record, or ``None`` when absent or unreadable (treated as stale)."""
        try:
            return json.loads((self.path / relative).read_text())
        except (OSError, json.JSONDecodeError):
            return None

    def write_array(
        self, relative: str, array: np.ndarray, key: dict[str, Any] | None = None
    ) -> None:
        """Save ``.npy`` atomically, then its sidecar ``key`` record."""
        with self._atomic(relative, ".npy") as tmp:
            np.save(tmp, np.ascontiguousarray(array), allow_pickle=False)
        if key is not None:
            self.write_json(_sidecar(relative), key)

    def read_array(self, relative: str, mmap: bool = True) -> np.ndarray:
        """Load ``.npy`` (memory-mapped read-only by default); never unpickles."""
        path = self.path / relative
        if not path.exists():
            raise MorphCoreError(f"{path} is missing: run prepare for {self.name!r}")
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)

    def write_npz(
        self, relative: str, arrays: dict[str, np.ndarray], key: dict
    ) -> None:
        with self._atomic(relative, ".npz") as tmp:
            np.savez(tmp, **arrays)
        self.write_json(_sidecar(relative), key)

    def read_npz(self, relative: str) -> dict[str, np.ndarray]:
        path = self.path / relative
        if not path.exists():
            raise MorphCoreError(f"{path} is missing: run prepare for {self.name!r}")
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}

    def write_table(
        self, relative: str, table: pd.DataFrame, key: dict[str, Any] | None = None
    ) -> None:
        """Save a DataFrame as parquet (or CSV for ``.csv``) atomically."""
        suffix = Path(relative).suffix
        with self._atomic(relative, suffix) as tmp:
            if suffix == ".csv":
                table.to_csv(tmp, index=False)
            else:
                table.to_parquet(tmp, index=False)
        if key is not None:
            self.write_json(_sidecar(relative), key)

    def read_table(self, relative: str) -> pd.DataFrame:
        path = self.path / relative
        if not path.exists():
            raise MorphCoreError(f"{path} is missing: run prepare for {self.name!r}")
        if path.suffix == ".csv":
            return pd.read_csv(path, dtype={"galaxy_id": str})
        return pd.read_parquet(path)

    # -- the prepared dataset, as the tools read it ---------------------------------

    def summary(self) -> dict[str, Any] | None:
        """The last prepare's record (``prepare.json``), ``None`` if never prepared."""
        return self.read_json("prepare.json")

    def features_dir(self, encoder: str | None = None) -> str:
        """``features/<encoder fingerprint>``, by default the last prepared encoder."""
        if encoder is None:
            summary = self.summary()
            if summary is None:
                raise MorphCoreError(f"dataset {self.name!r} is not prepared yet")
            encoder = summary["encoder"]["fingerprint"]
        return f"features/{encoder}"

    def catalog(self) -> pd.DataFrame:
        """The galaxies that prepared, in features order, with the columns of
        fine-tuned classifiers applied to them (``predictions/*.parquet``)."""
        table = self.read_table("catalog.parquet")
        for path in sorted(self.file(PREDICTIONS).glob("*.parquet")):
            extra = pd.read_parquet(path)
            extra = extra.drop(
                columns=[c for c in extra if c in table and c != "galaxy_id"]
            )
            table = table.merge(extra, on="galaxy_id", how="left")
        return table

    def skipped(self) -> pd.DataFrame:
        """Galaxies left out by the last prepare, with the reason."""
        if not self.exists("skipped.csv"):
            return empty_skipped()
        return self.read_table("skipped.csv")

    def features(self) -> np.ndarray:
        """CNN features ``(n_galaxies, n_features)`` float32, memory-mapped."""
        return self.read_array(f"{self.features_dir()}/features.npy")

    def pca(self) -> PCAModel:
        return PCAModel.from_arrays(self.read_npz(f"{self.features_dir()}/pca.npz"))

    def pca_features(self, n_components: int) -> np.ndarray:
        """The first ``n_components`` PCA columns, e.g. 10 for similarity (§2.4)."""
        return self.read_array(f"{self.features_dir()}/pca_40.npy")[:, :n_components]

    def umap(
        self, n_neighbors: int = UMAP_NEIGHBOURS, min_dist: float = UMAP_MIN_DIST
    ) -> np.ndarray:
        """UMAP of PCA-15, ``(n_galaxies, 2)`` float32."""
        return self.read_array(
            f"{self.features_dir()}/{umap_file(n_neighbors, min_dist)}"
        )

    def is_fresh(self, relative: str, key: dict[str, Any]) -> bool:
        """True when the artefact exists and was made from exactly ``key``."""
        if not (self.path / relative).exists():
            return False
        stored = self.read_json(_sidecar(relative))
        return stored is not None and stored == json.loads(json.dumps(key, default=str))


def umap_file(n_neighbors: int, min_dist: float) -> str:
    """File name of a UMAP: ``umap.npy`` for the default parameters."""
    if (n_neighbors, min_dist) == (UMAP_NEIGHBOURS, UMAP_MIN_DIST):
        return "umap.npy"
    return f"umap_n{n_neighbors}_d{min_dist:g}.npy"


def _sidecar(relative: str) -> str:
    return str(Path(relative).with_suffix(".json"))


def open_workspace(dataset: str, root: Path | None = None) -> Workspace:
    """The workspace of ``dataset`` under ``root`` (default: settings)."""
    if not dataset or "/" in dataset or dataset.startswith("."):
        raise MorphCoreError(f"invalid dataset name {dataset!r}")
    return Workspace((root or settings.workspace_root()) / dataset)


def list_workspaces(root: Path | None = None) -> list[str]:
    """Names of datasets with a workspace folder (prepared or not)."""
    root = root or settings.workspace_root()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "source.json").exists())
