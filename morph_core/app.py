"""The only Streamlit-importing module of the library: cache wrappers and widgets.

Heavy objects are loaded once per server process and shared read-only
(``st.cache_resource``); tables are cached per dataset version
(``st.cache_data``). Wrappers take cheap keys (workspace root, dataset name,
version), never the heavy objects; long work never runs inside a cached function.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from morph_core import explorer, settings
from morph_core.anomaly.feature_sets import anomaly_features
from morph_core.anomaly.gp import isolation_scores
from morph_core.anomaly.rater import (
    RaterModel,
    RaterState,
    fit_rater,
    rater_state,
    skip,
)
from morph_core.datasets import available_datasets, encoder_spec, resolve_dataset
from morph_core.encoder_spec import EncoderSpec
from morph_core.errors import ImageError
from morph_core.features import PCA_SIMILARITY, PCAModel
from morph_core.images import decode_image, load_image
from morph_core.manifest import DatasetEntry, Manifest, load_manifest
from morph_core.prepare import STAGES, PrepareSummary, compute_umap, prepare
from morph_core.ratings import RatingStore
from morph_core.similarity import NeighbourIndex
from morph_core.sky import links
from morph_core.workspace import PREDICTIONS, Workspace, open_workspace, umap_file


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
    """Changes whenever the dataset is prepared again or a classifier's column is
    added or removed (cache key)."""
    ws = open_workspace(dataset, Path(_root()))
    return sum(
        path.stat().st_mtime_ns
        for path in (ws.file("prepare.json"), ws.file(PREDICTIONS))
        if path.exists()
    )


def catalog(dataset: str) -> pd.DataFrame:
    """The prepared catalogue (a copy per call: safe to modify)."""
    return _catalog(_root(), dataset, version(dataset))


@st.cache_data(max_entries=16, show_spinner=False)
def _catalog(root: str, dataset: str, version: int) -> pd.DataFrame:
    return open_workspace(dataset, Path(root)).catalog()


def workspace_path(dataset: str) -> Path:
    return open_workspace(dataset, Path(_root())).path


def workspace(dataset: str) -> Workspace:
    return open_workspace(dataset, Path(_root()))


def label_columns(dataset: str) -> list[str]:
    """Catalogue columns a classifier can learn, likeliest first: true/false
    columns, vote fractions, class names, then other numbers."""
    table = catalog(dataset)
    usable = [
        name
        for name in explorer.colour_columns(table)[1:]
        if table[name].notna().any()
        and not name.startswith("pred_")
        and name not in ("ra", "dec")
    ]

    def rank(name: str) -> int:
        values = table[name]
        if pd.api.types.is_bool_dtype(values):
            return 0
        if name.endswith("_fraction"):
            return 1
        return 2 if not pd.api.types.is_numeric_dtype(values) else 3

    return sorted(usable, key=rank)


def skipped(dataset: str) -> pd.DataFrame:
    return open_workspace(dataset, Path(_root())).skipped()


@st.cache_data(max_entries=512, show_spinner=False)
def thumbnail(file: str, size: int = 160) -> np.ndarray | None:
    """A colour thumbnail of one image file, ``None`` if it cannot be read now."""
    try:
        image = load_image(file, channels=3)
    except ImageError:
        return None
    step = max(1, max(image.shape[:2]) // size)
    return image[::step, ::step]


def gallery(table: pd.DataFrame, columns: int = 6, details: Sequence[str] = ()) -> None:
    """Thumbnails of the galaxies in ``table`` in a grid, captioned with their id
    and the ``details`` columns."""
    cells = st.columns(columns)
    for i, (_, row) in enumerate(table.iterrows()):
        caption = " · ".join(
            [str(row["galaxy_id"])] + [f"{c} {_short(row[c])}" for c in details]
        )
        image = thumbnail(row["file"])
        with cells[i % columns]:
            if image is None:
                st.warning(f"{row['galaxy_id']}: image unreadable")
            else:
                st.image(image, caption=caption, width="stretch")
            if np.isfinite([row.get("ra", np.nan), row.get("dec", np.nan)]).all():
                st.caption(
                    " · ".join(
                        f"[{name}]({url})"
                        for name, url in links(row["ra"], row["dec"]).items()
                    )
                )


def _short(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def require_dataset(page: str) -> str:
    """The dataset picked in the sidebar if prepared; otherwise a message and a stop.

    ``page`` is the calling page's path (``pages/x.py``). A page opened by a link
    before ``Home.py`` ever ran in this server (Streamlit then runs it alone,
    without the sidebar) goes through ``Home.py`` and comes back.
    """
    if "dataset" not in st.session_state:
        st.session_state["home.goto"] = (page, st.query_params.to_dict())
        st.switch_page("Home.py")
    dataset = st.session_state.get("dataset")
    if not dataset or summary(dataset) is None:
        st.info(
            f"Prepare {'the dataset ' + repr(dataset) if dataset else 'a dataset'} "
            "on the Home page first."
        )
        st.stop()
    return dataset


def umap(dataset: str, n_neighbors: int, min_dist: float) -> np.ndarray | None:
    """A stored UMAP of the dataset, ``None`` when not computed for these settings."""
    ws = open_workspace(dataset, Path(_root()))
    if not ws.exists(f"{ws.features_dir()}/{umap_file(n_neighbors, min_dist)}"):
        return None
    return _umap(_root(), dataset, version(dataset), n_neighbors, min_dist)


@st.cache_data(max_entries=16, show_spinner=False)
def _umap(root, dataset, version, n_neighbors, min_dist) -> np.ndarray:
    return np.array(open_workspace(dataset, Path(root)).umap(n_neighbors, min_dist))


def run_umap(dataset: str, n_neighbors: int, min_dist: float) -> None:
    """Compute and store a UMAP with these settings, with a progress bar."""
    bar = st.progress(
        0.0, text=f"UMAP with {n_neighbors} neighbours, min_dist {min_dist}…"
    )
    try:
        compute_umap(
            open_workspace(dataset, Path(_root())),
            n_neighbors,
            min_dist,
            progress=lambda d, n: bar.progress(d / n, text=f"UMAP {d}/{n}"),
        )
    finally:
        bar.empty()


def pca_features(dataset: str, n_components: int = PCA_SIMILARITY) -> np.ndarray:
    return _pca_features(_root(), dataset, version(dataset), n_components)


@st.cache_data(max_entries=8, show_spinner=False)
def _pca_features(root, dataset, version, n_components) -> np.ndarray:
    return np.array(open_workspace(dataset, Path(root)).pca_features(n_components))


def neighbour_index(dataset: str) -> NeighbourIndex:
    """Exact L1 index on PCA-10, built once per dataset version and shared."""
    return _neighbour_index(_root(), dataset, version(dataset))


@st.cache_resource(max_entries=8, show_spinner="Building the similarity index…")
def _neighbour_index(root: str, dataset: str, version: int) -> NeighbourIndex:
    return NeighbourIndex().fit(_pca_features(root, dataset, version, PCA_SIMILARITY))


@st.cache_resource(max_entries=8, show_spinner=False)
def _pca_model(root: str, dataset: str, version: int) -> PCAModel:
    return open_workspace(dataset, Path(root)).pca()


@st.cache_resource(max_entries=2, show_spinner="Loading the CNN…")
def _encoder(spec: EncoderSpec):
    from morph_core.encoder import build_encoder  # torch only when an image is uploaded

    return build_encoder(spec)


def embed_upload(dataset: str, data: bytes, name: str) -> np.ndarray:
    """PCA-10 vector of an uploaded image, with the dataset's encoder and PCA.

    Raises ImageError for a file that is not a usable image.
    """
    from morph_core.encoder import embed_image

    spec = EncoderSpec.from_record(summary(dataset)["encoder"]["spec"])
    image = decode_image(data, spec.channels, name)
    features = embed_image(image, _encoder(spec), spec)
    model = _pca_model(_root(), dataset, version(dataset))
    return model.transform(features[None])[0, :PCA_SIMILARITY]


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


@st.cache_resource(max_entries=4, show_spinner="Scoring how unusual each galaxy is…")
def _anomaly_features(root: str, dataset: str, version: int, feature_set: str):
    ws = open_workspace(dataset, Path(root))
    bar = st.progress(0.0, text="Fitting ellipses to every galaxy (once)…")
    try:
        features = anomaly_features(
            ws, feature_set, lambda done, total: bar.progress(done / total)
        )
    finally:
        bar.empty()
    return features, isolation_scores(features)


@st.cache_resource(max_entries=8, show_spinner=False)
def _store(root: str, dataset: str, version: int) -> RatingStore:
    ws = open_workspace(dataset, Path(root))
    ids = _catalog(root, dataset, version)["galaxy_id"].astype(str)
    return RatingStore(ws.file("ratings.sqlite"), known_ids=ids)


def rating_store(dataset: str) -> RatingStore:
    """The dataset's rating store (one per server, shared: it holds only a path)."""
    return _store(_root(), dataset, version(dataset))


def rater(
    dataset: str,
    name: str,
    strategy: str,
    feature_set: str = "cnn",
    retrain: bool = False,
) -> RaterState:
    """A rater's batch and model; the model is refitted only when ratings change."""
    root, v = _root(), version(dataset)
    store = rating_store(dataset)
    model = _rater_model(
        root, dataset, v, name, strategy, feature_set, store.version(name)
    )
    return rater_state(
        open_workspace(dataset, Path(root)),
        store,
        _catalog(root, dataset, v),
        model,
        name,
        strategy,
        retrain,
        feature_set,
    )


@st.cache_resource(max_entries=64, show_spinner=False)
def _rater_model(
    root: str,
    dataset: str,
    version: int,
    name: str,
    strategy: str,
    feature_set: str,
    ratings_version: int,
) -> RaterModel:
    features, oddness = _anomaly_features(root, dataset, version, feature_set)
    return fit_rater(
        _store(root, dataset, version),
        _catalog(root, dataset, version),
        features,
        oddness,
        name,
        strategy,
    )


def skip_galaxy(dataset: str, name: str, galaxy_id: str) -> None:
    skip(open_workspace(dataset, Path(_root())), name, galaxy_id)
