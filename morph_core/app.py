"""The only Streamlit-importing module of the library: cache wrappers and widgets.

Heavy objects are loaded once per server process and shared read-only
(``st.cache_resource``); tables are cached per dataset version
(``st.cache_data``). Wrappers take cheap keys (workspace root, dataset name,
version), never the heavy objects; long work never runs inside a cached function.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from morph_core import settings
from morph_core.datasets import available_datasets, encoder_spec, resolve_dataset
from morph_core.errors import ImageError
from morph_core.images import load_image
from morph_core.manifest import DatasetEntry, Manifest, load_manifest
from morph_core.prepare import STAGES, PrepareSummary, prepare
from morph_core.workspace import open_workspace


def _root() -> str:
    return str(settings.workspace_root())


@st.cache_resource(show_spinner=False)
def _manifest(path: str, mtime_ns: int) -> Manifest:
    return load_manifest(Path(path))


def manifest() -> Manifest:
    """The validated manifest, reloaded when the file changes."""
    path = settings.manifest_path()
    return _manifest(str(path), path.stat().st_mtime_ns if path.exists() else 0)


def datasets() -> list[str]:
    """Manifest datasets, then the user's own prepared folders."""
    return available_datasets(manifest(), Path(_root()))


def summary(dataset: str) -> dict | None:
    """The last prepare's record, ``None`` when the dataset is not prepared."""
    return open_workspace(dataset, Path(_root())).summary()


def version(dataset: str) -> int:
    """Changes whenever the dataset is prepared again (cache key)."""
    path = open_workspace(dataset, Path(_root())).file("prepare.json")
    return path.stat().st_mtime_ns if path.exists() else 0


def catalog(dataset: str) -> pd.DataFrame:
    """The prepared catalogue (a copy per call: safe to modify)."""
    return _catalog(_root(), dataset, version(dataset))


@st.cache_data(max_entries=16, show_spinner=False)
def _catalog(root: str, dataset: str, version: int) -> pd.DataFrame:
    return open_workspace(dataset, Path(root)).catalog()


def workspace_path(dataset: str) -> Path:
    return open_workspace(dataset, Path(_root())).path


def skipped(dataset: str) -> pd.DataFrame:
    return open_workspace(dataset, Path(_root())).skipped()


@st.cache_data(max_entries=64, show_spinner=False)
def thumbnail(file: str, size: int = 160) -> np.ndarray | None:
    """A colour thumbnail of one image file, ``None`` if it cannot be read now."""
    try:
        image = load_image(file, channels=3)
    except ImageError:
        return None
    step = max(1, max(image.shape[:2]) // size)
    return image[::step, ::step]


def gallery(table: pd.DataFrame, columns: int = 6, caption: str = "galaxy_id") -> None:
    """Thumbnails of the galaxies in ``table`` in a grid, captioned."""
    cells = st.columns(columns)
    for i, (_, row) in enumerate(table.iterrows()):
        image = thumbnail(row["file"])
        with cells[i % columns]:
            if image is None:
                st.warning(f"{row[caption]}: image unreadable")
            else:
                st.image(image, caption=str(row[caption]), width="stretch")


def entry(dataset: str) -> DatasetEntry:
    return resolve_dataset(dataset, manifest(), Path(_root()))


def run_prepare(dataset_entry: DatasetEntry) -> PrepareSummary:
    """Prepare with one progress bar per stage; raises MorphCoreError on bad input."""
    bar = st.progress(0.0, text="Starting…")

    def progress(stage: str, done: int, total: int) -> None:
        step = STAGES.index(stage)
        fraction = (step + done / max(total, 1)) / len(STAGES)
        bar.progress(min(fraction, 1.0), text=f"{stage}: {done}/{total}")

    try:
        return prepare(
            dataset_entry,
            open_workspace(dataset_entry.name, Path(_root())),
            encoder_spec(None, manifest()),
            progress=progress,
        )
    finally:
        bar.empty()
