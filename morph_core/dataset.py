"""A dataset's workspace as the tools see it: the ONLY owner of artefact names.

Layout of ``<workspace_root>/<dataset>/`` (files written by a pipeline stage
carry a JSON sidecar with the input record they were made from)::

    source.json                   how the catalogue is read (manifest entry)
    generated.parquet, images/    a generated source's table and images
    checked.parquet, skipped.csv  rows that passed the catalogue checks; the rest
    features/<encoder>/
        features.npy              (n, n_features) float32, catalog.parquet order
        embedded.parquet          galaxy_id, image_hash of each features row
        failed.csv                galaxies whose image could not be decoded
        pca.npz, pca_40.npy       PCA model and projection
        umap.npy, umap_n*_d*.npy  UMAP of PCA-15 (default and other settings)
    catalog.parquet               the galaxies with features, in features order
    ellipse.npy                   ellipse-fit features (the anomaly baseline's)
    prepare.json                  last prepare: encoder, counts, seconds, version
    ratings.sqlite                the anomaly rater's ratings and batches
    runs/<run_id>/                fine-tuning runs (morph_core.runs)
    predictions/<run_id>.parquet  a fine-tuned classifier's column

Everything else asks :class:`PreparedDataset` for these; nothing builds a path.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from collections.abc import Container, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from morph_core import access, settings
from morph_core.access import OPERATOR, Visitor
from morph_core.data.catalog import SKIPPED_COLUMNS, empty_skipped, inside
from morph_core.data.manifest import (
    NAME_PATTERN,
    DatasetEntry,
    LabelsSpec,
    Manifest,
    load_manifest,
)
from morph_core.errors import MorphCoreError
from morph_core.model.spec import EncoderSpec
from morph_core.store.ratings import RatingStore
from morph_core.store.workspace import Workspace

SOURCE = "source.json"
GENERATED = "generated.parquet"
IMAGES = "images"
CHECKED = "checked.parquet"
SKIPPED = "skipped.csv"
CATALOG = "catalog.parquet"
ELLIPSE = "ellipse.npy"
PREPARED = "prepare.json"
RATINGS = "ratings.sqlite"
RUNS = "runs"
PREDICTIONS = "predictions"
PROGRESS = ".progress"  # beside the datasets: <root>/.progress/<name>.json
UMAP_DEFAULT = (15, 0.1)  # n_neighbors, min_dist: umap-learn's defaults, Walmsley+22


class PreparedDataset:
    """One dataset's artefacts: where each lives, how it is read, and its version.

    Parameters
    ----------
    workspace : Workspace
        The dataset's folder (``<workspace_root>/<name>``).

    Examples
    --------
    >>> ds = PreparedDataset(Workspace(Path("/tmp/nowhere/synthetic")))
    >>> ds.name, ds.is_prepared
    ('synthetic', False)
    >>> ds.umap_file(15, 0.1, encoder="enc")
    'features/enc/umap.npy'
    """

    def __init__(self, workspace: Workspace):
        self.workspace = workspace

    @property
    def name(self) -> str:
        return self.workspace.name

    @property
    def path(self) -> Path:
        return self.workspace.path

    def __repr__(self) -> str:
        return f"PreparedDataset({str(self.path)!r})"

    # -- names --------------------------------------------------------------------

    def encoder_folder(self, encoder: str | None = None) -> str:
        """``features/<encoder fingerprint>``, by default the last prepared one."""
        if encoder is None:
            summary = self.summary()
            if summary is None:
                raise MorphCoreError(f"dataset {self.name!r} is not prepared yet")
            encoder = summary["encoder"]["fingerprint"]
        return f"features/{encoder}"

    def features_file(self, encoder: str | None = None) -> str:
        return f"{self.encoder_folder(encoder)}/features.npy"

    def embedded_file(self, encoder: str | None = None) -> str:
        return f"{self.encoder_folder(encoder)}/embedded.parquet"

    def failed_file(self, encoder: str | None = None) -> str:
        return f"{self.encoder_folder(encoder)}/failed.csv"

    def pca_file(self, encoder: str | None = None) -> str:
        return f"{self.encoder_folder(encoder)}/pca.npz"

    def projection_file(self, encoder: str | None = None) -> str:
        """The PCA projection of every galaxy (its first 40 components)."""
        return f"{self.encoder_folder(encoder)}/pca_40.npy"

    def oddness_file(self, encoder: str | None = None) -> str:
        """Isolation-forest scores of every galaxy, one column per feature set."""
        return f"{self.encoder_folder(encoder)}/oddness.npy"

    def anomaly_file(self, part: str, encoder: str | None = None) -> str:
        """The standardised ``part`` ("cnn" or "ellipse") of the finder's features."""
        return f"{self.encoder_folder(encoder)}/anomaly_{part}.npy"

    def umap_file(
        self, n_neighbors: int, min_dist: float, encoder: str | None = None
    ) -> str:
        """``umap.npy`` for the default settings, ``umap_n<k>_d<d>.npy`` otherwise."""
        name = (
            "umap.npy"
            if (n_neighbors, min_dist) == UMAP_DEFAULT
            else f"umap_n{n_neighbors}_d{min_dist:g}.npy"
        )
        return f"{self.encoder_folder(encoder)}/{name}"

    def image_folder(self) -> Path:
        """Where generated and converted images are written."""
        return self.workspace.file(IMAGES)

    def runs_folder(self) -> Path:
        return self.workspace.file(RUNS)

    def run_folder(self, run_id: str) -> Path:
        """The folder of one fine-tuning run; ids are checked, never a path."""
        if not re.fullmatch(r"[A-Za-z0-9_-]+", run_id or ""):
            raise MorphCoreError(f"invalid run id {run_id!r}")
        return self.runs_folder() / run_id

    def predictions_file(self, run_id: str, owner: str | None = None) -> str:
        """A classifier's column: shared (``owner`` None: everyone sees it) or
        one visitor's own (``predictions/<owner key>/``)."""
        self.run_folder(run_id)  # checks the id
        if owner is None:
            return f"{PREDICTIONS}/{run_id}.parquet"
        if not re.fullmatch(r"[A-Za-z0-9_-]+", owner):
            raise MorphCoreError("invalid visitor key")
        return f"{PREDICTIONS}/{owner}/{run_id}.parquet"

    # -- what was prepared ----------------------------------------------------------

    def summary(self) -> dict[str, Any] | None:
        """The last prepare's record (``prepare.json``), ``None`` if never prepared."""
        return self.workspace.read_json(PREPARED)

    @property
    def is_prepared(self) -> bool:
        return self.summary() is not None

    def encoder_spec(self) -> EncoderSpec:
        """The encoder the dataset was last prepared with.

        Raises
        ------
        MorphCoreError
            Not prepared, or a published representation made by an encoder
            this server does not have (the message says what needs it).
        """
        spec = self.known_encoder()
        if spec is None:
            raise MorphCoreError(
                f"the features of {self.name!r} were made by an encoder this "
                "server does not have (a published representation): searching by "
                "an uploaded image and fine-tuning need that encoder; name it as "
                "the dataset's 'encoder' in data_manifest.yaml"
            )
        return spec

    def known_encoder(self) -> EncoderSpec | None:
        """The encoder the dataset was last prepared with; ``None`` for a table
        of features made by an encoder this server does not have.

        Raises
        ------
        MorphCoreError
            Not prepared.
        """
        summary = self.summary()
        if summary is None:
            raise MorphCoreError(f"dataset {self.name!r} is not prepared yet")
        record = summary["encoder"]["spec"]
        return EncoderSpec.from_record(record) if record is not None else None

    @property
    def representation_only(self) -> bool:
        """Prepared from a table of features: no image files, so no ellipse fits,
        and cutouts are fetched when shown."""
        return bool((self.summary() or {}).get("representation_only", False))

    def version(self) -> str:
        """Changes when a prepare changes any artefact or a classifier's column is
        added or removed; a prepare that changes nothing keeps it (cache key)."""
        summary = self.summary() or {}
        folder = self.workspace.file(PREDICTIONS)
        columns = sorted(p.name for p in folder.glob("*.parquet"))
        return digest([str(summary.get("version", "")), *columns])

    def source_entry(self) -> DatasetEntry | None:
        """The entry the dataset was last prepared from, if any."""
        record = self.workspace.read_json(SOURCE)
        return DatasetEntry.model_validate(record) if record is not None else None

    def progress(self) -> dict[str, Any] | None:
        """The newest prepare's progress (``state`` running, finished or failed;
        ``stage``, ``done``, ``total``, ``pid``; ``error`` when failed), kept
        beside the dataset's folder so that a failed first prepare, which
        leaves no folder, still says why. ``None`` when never prepared here."""
        return Workspace(self.path.parent / PROGRESS).read_json(f"{self.name}.json")

    def write_progress(self, record: dict[str, Any]) -> None:
        Workspace(self.path.parent / PROGRESS).write_json(f"{self.name}.json", record)

    def record_progress(self, **fields: Any) -> None:
        """Write the progress record of work done by this process (its pid and
        the time added), e.g. a prepare's or an adapt's."""
        self.write_progress({"pid": os.getpid(), "updated_at": time.time(), **fields})

    def save_source(self, entry: DatasetEntry) -> None:
        """Record the entry the dataset is prepared from (written when it changes)."""
        if self.source_entry() != entry:
            self.workspace.write_json(SOURCE, entry.model_dump())

    # -- readers --------------------------------------------------------------------

    def catalog(self) -> pd.DataFrame:
        """The galaxies that prepared, in features order, with the columns of
        the fine-tuned classifiers applied for everyone."""
        table = self.workspace.read_table(CATALOG)
        return with_columns(table, self.workspace.file(PREDICTIONS).glob("*.parquet"))

    def own_columns(self, owner: str, table: pd.DataFrame) -> pd.DataFrame:
        """``table`` (the catalogue) with the columns of one visitor's own
        applied classifiers added."""
        folder = self.workspace.file(PREDICTIONS) / owner
        if not re.fullmatch(r"[A-Za-z0-9_-]+", owner) or not folder.is_dir():
            return table
        return with_columns(table, folder.glob("*.parquet"))

    def skipped(self, encoder: str | None = None) -> pd.DataFrame:
        """Galaxies left out by the last prepare (with ``encoder``), and why."""
        names = [SKIPPED]
        if encoder is not None or self.is_prepared:
            names.append(self.failed_file(encoder))
        parts = [
            self.workspace.read_table(n) for n in names if self.workspace.exists(n)
        ]
        if not parts:
            return empty_skipped()
        return pd.concat(parts, ignore_index=True)[list(SKIPPED_COLUMNS)]

    def features(self) -> np.ndarray:
        """CNN features ``(n_galaxies, n_features)`` float32, memory-mapped."""
        return self.workspace.read_array(self.features_file())

    def pca_arrays(self) -> dict[str, np.ndarray]:
        """The fitted PCA as arrays (:class:`~morph_core.pipeline.reduce.PCAModel`)."""
        return self.workspace.read_npz(self.pca_file())

    def pca_features(self, n_components: int) -> np.ndarray:
        """The first ``n_components`` PCA columns, e.g. 10 for similarity (§2.4)."""
        return self.workspace.read_array(self.projection_file())[:, :n_components]

    def has_umap(self, n_neighbors: int, min_dist: float) -> bool:
        return self.workspace.exists(self.umap_file(n_neighbors, min_dist))

    def umap(self, n_neighbors: int, min_dist: float) -> np.ndarray:
        """UMAP of PCA-15 with these settings, ``(n_galaxies, 2)`` float32."""
        return self.workspace.read_array(self.umap_file(n_neighbors, min_dist))

    def ellipse(self) -> np.ndarray:
        """Ellipse-fit features of every galaxy, catalogue order."""
        return self.workspace.read_array(ELLIPSE, mmap=False)

    def image_hashes(self, encoder: str | None = None) -> list[str]:
        """Content hash of each galaxy's image, catalogue order."""
        embedded = self.workspace.read_table(self.embedded_file(encoder))
        return embedded["image_hash"].tolist()

    # -- ratings and runs -------------------------------------------------------------

    def rating_store(self, known_ids: Container[str] | None = None) -> RatingStore:
        """The dataset's rating log; ``known_ids`` limits what may be rated."""
        return RatingStore(self.workspace.file(RATINGS), known_ids=known_ids)

    def write_predictions(
        self, run_id: str, table: pd.DataFrame, owner: str | None = None
    ) -> None:
        """A run's columns (``galaxy_id`` + its predictions), joined to the catalogue
        of everyone (``owner`` None) or of one visitor."""
        self.workspace.write_table(self.predictions_file(run_id, owner), table)

    def delete_run(self, run_id: str) -> None:
        """Remove a run's folder and its predictions."""
        shutil.rmtree(self.run_folder(run_id), ignore_errors=True)
        folder = self.workspace.file(PREDICTIONS)
        for path in [folder / f"{run_id}.parquet", *folder.glob(f"*/{run_id}.parquet")]:
            path.unlink(missing_ok=True)


def with_columns(table: pd.DataFrame, files: Iterable[Path]) -> pd.DataFrame:
    """``table`` left-joined on ``galaxy_id`` to each prediction file's column."""
    for path in sorted(files):
        extra = pd.read_parquet(path)
        clash = [c for c in extra if c in table and c != "galaxy_id"]
        extra = extra.drop(columns=clash)
        table = table.merge(extra, on="galaxy_id", how="left")
    return table


def check_name_free(entry: DatasetEntry, root: Path) -> None:
    """Refuse to prepare ``entry`` into a dataset prepared from another source
    (re-preparing the same source is fine).

    Raises
    ------
    MorphCoreError
        The name is taken; the message says so.
    """
    before = open_dataset(entry.name, root).source_entry()
    if before is not None and (before.source, before.path) != (
        entry.source,
        entry.path,
    ):
        raise MorphCoreError(
            f"a dataset called {entry.name!r} already exists; choose another name"
        )


def digest(items: Iterable[str]) -> str:
    """One fingerprint of a list of strings, e.g. image content hashes (order
    matters): the way every input record fingerprints a list."""
    return hashlib.sha256("\n".join(items).encode()).hexdigest()


# -- naming datasets ----------------------------------------------------------------


def open_dataset(name: str, root: Path | None = None) -> PreparedDataset:
    """The dataset called ``name`` under ``root`` (default: settings).

    Raises
    ------
    MorphCoreError
        ``name`` is not a plain dataset name (a path, or hidden).
    """
    if not re.match(NAME_PATTERN, name or ""):
        raise MorphCoreError(f"invalid dataset name {name!r}")
    return PreparedDataset(Workspace((root or settings.workspace_root()) / name))


def own_datasets(root: Path | None = None) -> list[str]:
    """Names of datasets with a workspace folder (prepared or not)."""
    root = root or settings.workspace_root()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / SOURCE).exists())


def dataset_names(manifest: Manifest, root: Path | None = None) -> list[str]:
    """Manifest datasets first, then the user's own prepared folders."""
    own = [n for n in own_datasets(root) if n not in manifest.datasets]
    return list(manifest.datasets) + own


def resolve_dataset(
    name: str, manifest: Manifest, root: Path | None = None
) -> DatasetEntry:
    """The entry of ``name``: from the manifest, else a folder prepared before."""
    if name in manifest.datasets:
        return manifest.datasets[name]
    entry = open_dataset(name, root).source_entry()
    if entry is not None:
        return entry
    return manifest.dataset(name)  # raises with the list of known datasets


def folder_entry(
    name: str,
    folder: Path,
    catalog: str = "catalog.csv",
    columns: dict[str, str] | None = None,
    stretch: str = "asinh",
    labels: LabelsSpec | None = None,
    visitor: Visitor = OPERATOR,
) -> DatasetEntry:
    """A dataset entry for a user's folder of cutouts (JPEG, PNG or FITS).

    ``catalog`` is a path inside ``folder`` (never absolute, never ``..``);
    without a CSV every image in the folder becomes a galaxy named after its
    file. ``stretch`` (asinh or lupton) renders FITS cutouts. On a public
    server only admins may name a server folder.
    """
    access.policy().require(visitor, "own_folder")
    if not str(folder).strip() or not Path(folder).expanduser().is_dir():
        raise MorphCoreError(f"folder not found: {str(folder)!r}")
    inside(Path(folder).expanduser(), catalog)
    return _own_entry(
        name,
        "image_folder",
        folder,
        labels,
        catalog=catalog,
        columns=columns or {},
        stretch=stretch,
    )


def hdf5_entry(
    name: str,
    path: Path,
    labels: LabelsSpec | None = None,
    visitor: Visitor = OPERATOR,
) -> DatasetEntry:
    """A dataset entry for an HDF5 image stack (``images``, optional ``ra``/``dec``)."""
    access.policy().require(visitor, "own_folder")
    if not Path(path).expanduser().is_file():
        raise MorphCoreError(f"HDF5 file not found: {str(path)!r}")
    return _own_entry(name, "hdf5", path, labels)


def table_entry(
    name: str,
    path: Path,
    cutouts: str | None = None,
    columns: dict[str, str] | None = None,
    feature_columns: str | None = None,
    encoder: str | None = None,
    labels: LabelsSpec | None = None,
    visitor: Visitor = OPERATOR,
) -> DatasetEntry:
    """A dataset entry for a table of precomputed features (parquet or CSV, or
    a folder of parquet shards such as ``embed-distributed`` writes): a
    published representation, or a user's own; ``cutouts`` is a URL or a
    path template over its columns (:mod:`morph_core.data.cutouts`), and
    ``encoder`` the manifest weights that made the features, if known."""
    access.policy().require(visitor, "own_folder")
    if not Path(path).expanduser().exists():
        raise MorphCoreError(f"feature table not found: {str(path)!r}")
    return _own_entry(
        name,
        "features",
        path,
        labels,
        columns=columns or {},
        cutouts=cutouts or None,
        feature_columns=feature_columns or None,
        encoder=encoder or None,
    )


def _own_entry(name, source, path, labels, **fields) -> DatasetEntry:
    if not re.match(NAME_PATTERN, name or ""):
        raise MorphCoreError(
            f"dataset name {name!r}: use letters, digits, '_', '-' or '.', no spaces"
        )
    if name in load_manifest().datasets:
        raise MorphCoreError(
            f"{name!r} is a dataset of this server (data_manifest.yaml); choose "
            "another name"
        )
    return DatasetEntry(
        name=name,
        kind="dataset",
        source=source,
        path=str(Path(path).expanduser().resolve()),
        labels=labels,
        description=f"images in {path}",
        licence="the user's own",
        citation="",
        **fields,
    )
