"""Cached loaders of the pages: each artefact read once per dataset version.

Heavy, shared, read-only objects (the catalogue, the similarity index, the map,
the rating store) are ``st.cache_resource``; small tables and arrays are
``st.cache_data`` (a copy per call). Every wrapper is keyed on cheap values
(workspace root, dataset name, :meth:`~morph_core.dataset.PreparedDataset.version`),
never on the objects, and only reads: long work (embedding, UMAP, ellipse fits)
is done by prepare.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import pandas as pd
import streamlit as st

from morph_core import access, settings
from morph_core.access import RateLimiter
from morph_core.app import figures
from morph_core.data.images import decode_image
from morph_core.data.manifest import DatasetEntry, Manifest, load_manifest
from morph_core.dataset import (
    PreparedDataset,
    dataset_names,
    open_dataset,
    resolve_dataset,
)
from morph_core.errors import MorphCoreError
from morph_core.pipeline.reduce import PCA_SIMILARITY, PCAModel
from morph_core.runs import embedder
from morph_core.store.ratings import Batch, RatingStore
from morph_core.store.workshops import WorkshopStore
from morph_core.tools.explorer import NO_COLOUR
from morph_core.tools.similarity import NeighbourIndex
from morph_core.training.labels import label_columns as _label_columns
from morph_core.training.targets import fraction_columns as _fraction_columns
from morph_core.training.targets import vote_questions as _questions_in

if TYPE_CHECKING:  # the rater's modules load scikit-learn: only on its page
    import plotly.graph_objects as go

    from morph_core.tools.anomaly.session import RaterModel
    from morph_core.workshop.classroom import ClassResults

T = TypeVar("T")
CLASS_REFRESH_S = 3  # a workshop's results are recomputed at most this often


@st.cache_resource(show_spinner=False)
def limiter() -> RateLimiter:
    """The server's one rate limiter (shared by every session)."""
    return RateLimiter(access.policy().limits.requests_per_minute)


def _root() -> str:
    return str(settings.workspace_root())


def dataset(name: str) -> PreparedDataset:
    """The dataset ``name`` in the server's workspace (cheap: holds a path)."""
    return open_dataset(name, Path(_root()))


def manifest() -> Manifest:
    """The validated manifest, reloaded when the file changes."""
    path = settings.manifest_path()
    return _manifest(str(path), path.stat().st_mtime_ns if path.exists() else 0)


@st.cache_resource(show_spinner=False)
def _manifest(path: str, mtime_ns: int) -> Manifest:
    return load_manifest(Path(path))


def datasets() -> list[str]:
    """Manifest datasets, then the user's own prepared folders."""
    return dataset_names(manifest(), Path(_root()))


def entry(name: str) -> DatasetEntry:
    return resolve_dataset(name, manifest(), Path(_root()))


def real_sky(name: str) -> bool:
    """Whether the dataset's ``ra``/``dec`` are real positions (links to the
    surveys' viewers make sense), not the synthetic sky's made-up ones."""
    try:
        return entry(name).source != "synthetic"
    except MorphCoreError:
        return False


def summary(name: str) -> dict | None:
    """The last prepare's record, ``None`` when the dataset is not prepared."""
    return dataset(name).summary()


def catalog(name: str) -> pd.DataFrame:
    """The prepared catalogue as this visitor sees it: with everyone's applied
    classifiers and their own. One frame shared by every visitor: derive new
    frames from it (pandas copies on write), never assign into it."""
    table = _catalog(_root(), name, dataset(name).version())
    key = st.session_state.get("visitor.key")
    return dataset(name).own_columns(key, table) if key else table


@st.cache_resource(max_entries=16, show_spinner=False)  # a copy per call cost 10 ms
def _catalog(root: str, name: str, version: str) -> pd.DataFrame:
    return open_dataset(name, Path(root)).catalog()


def files(name: str, galaxy_ids: list[str]) -> pd.Series:
    """The image file (or cutout URL) of each of these galaxies, by ``galaxy_id``
    (unknown ids are left out)."""
    rows = galaxy_index(name).get_indexer(galaxy_ids)
    rows = rows[rows >= 0]
    table = _catalog(_root(), name, dataset(name).version())
    return pd.Series(
        table["file"].to_numpy()[rows], index=table["galaxy_id"].iloc[rows]
    )


def kept(name: str, source: object, settings: tuple, compute: Callable[[], T]) -> T:
    """``compute()`` kept in this visitor's session under ``name`` while
    ``source`` is the same object and ``settings`` are equal: e.g. a selection's
    rows and their sorted order, found once rather than at every rerun (a third
    of a million galaxies at a million)."""
    held = st.session_state.get(name)
    if held is not None and held[0] is source and held[1] == settings:
        return held[2]
    value = compute()
    keep(name, source, settings, value)
    return value


def keep(name: str, source: object, settings: tuple, value: object) -> None:
    """Keep ``value`` for :func:`kept` (found elsewhere, e.g. by a callback)."""
    st.session_state[name] = (source, settings, value)


def galaxy_index(name: str) -> pd.Index:
    """The catalogue's ``galaxy_id`` as an index, its hash table built once per
    dataset version (0.2 s at a million galaxies, at every explorer run before)."""
    return _galaxy_index(_root(), name, dataset(name).version())


@st.cache_resource(max_entries=16, show_spinner=False)
def _galaxy_index(root: str, name: str, version: str) -> pd.Index:
    return pd.Index(_catalog(root, name, version)["galaxy_id"])


def tags(name: str) -> list[str]:
    """Every tag in the dataset's catalogue, most used first (counted once per
    version: 40 ms at 12k, at every run of the similarity page)."""
    return _tags(_root(), name, dataset(name).version())


@st.cache_resource(max_entries=16, show_spinner=False)
def _tags(root: str, name: str, version: str) -> list[str]:
    from morph_core.tools.similarity import tags_in

    return tags_in(_catalog(root, name, version))


def label_columns(name: str) -> list[str]:
    """Catalogue columns a classifier can learn, likeliest first."""
    return _label_columns(catalog(name))


def fraction_columns(name: str) -> list[str]:
    """Catalogue columns a fraction regression can learn."""
    return _fraction_columns(catalog(name))


def vote_questions(name: str) -> list[str]:
    """The catalogue's decision-tree questions with vote counts (found once per
    dataset version)."""
    return _vote_questions(_root(), name, dataset(name).version())


@st.cache_resource(max_entries=16, show_spinner=False)
def _vote_questions(root: str, name: str, version: str) -> list[str]:
    return list(_questions_in(_catalog(root, name, version)))


def umap(name: str, n_neighbors: int, min_dist: float) -> np.ndarray | None:
    """A stored UMAP of the dataset, ``None`` when not computed for these settings."""
    ds = dataset(name)
    if not ds.has_umap(n_neighbors, min_dist):
        return None
    return _umap(_root(), name, ds.version(), n_neighbors, min_dist)


@st.cache_resource(max_entries=16, show_spinner=False)
def _umap(root, name, version, n_neighbors, min_dist) -> np.ndarray:
    """One read-only array shared by every run (``cache_data`` copied it at each
    run: 8 MB at a million galaxies)."""
    embedding = np.array(open_dataset(name, Path(root)).umap(n_neighbors, min_dist))
    embedding.flags.writeable = False
    return embedding


def map_figure(
    name: str, n_neighbors: int, min_dist: float, colour: str, hover: list[str]
) -> go.Figure | None:
    """The explorer's map of a stored UMAP (``None`` when not computed), built
    once per dataset version and settings: every visitor's rerun shares it (it
    is not changed by drawing it). A visitor's own applied columns colour their
    own map."""
    if not dataset(name).has_umap(n_neighbors, min_dist):
        return None
    root, version = _root(), dataset(name).version()
    if {colour, *hover} - {NO_COLOUR} <= set(_catalog(root, name, version).columns):
        return _map_figure(
            root, name, version, n_neighbors, min_dist, colour, tuple(hover)
        )
    embedding = umap(name, n_neighbors, min_dist)
    density = map_density(name, n_neighbors, min_dist)
    return figures.map_figure(catalog(name), embedding, colour, hover, density=density)


@st.cache_resource(max_entries=32, show_spinner=False)
def _map_figure(root, name, version, n_neighbors, min_dist, colour, hover):
    return figures.map_figure(
        _catalog(root, name, version),
        _umap(root, name, version, n_neighbors, min_dist),
        colour,
        list(hover),
        density=_density(root, name, version, n_neighbors, min_dist),
    )


def map_density(name: str, n_neighbors: int, min_dist: float) -> dict:
    """The density image under every map of these settings
    (:func:`~morph_core.app.figures.density_image`), made once: 0.13 s of each
    new colouring at a million galaxies before."""
    version = dataset(name).version()
    return _density(_root(), name, version, n_neighbors, min_dist)


@st.cache_resource(max_entries=16, show_spinner=False)
def _density(root, name, version, n_neighbors, min_dist) -> dict:
    return figures.density_image(_umap(root, name, version, n_neighbors, min_dist))


def pca_features(name: str, n_components: int = PCA_SIMILARITY) -> np.ndarray:
    return _pca_features(_root(), name, dataset(name).version(), n_components)


@st.cache_data(max_entries=8, show_spinner=False)
def _pca_features(root, name, version, n_components) -> np.ndarray:
    return np.array(open_dataset(name, Path(root)).pca_features(n_components))


def neighbour_index(name: str) -> NeighbourIndex:
    """Exact L1 index on PCA-10, built once per dataset version and shared."""
    return _neighbour_index(_root(), name, dataset(name).version())


@st.cache_resource(max_entries=8, show_spinner="Building the similarity index…")
def _neighbour_index(root: str, name: str, version: str) -> NeighbourIndex:
    return NeighbourIndex().fit(_pca_features(root, name, version, PCA_SIMILARITY))


@st.cache_resource(max_entries=8, show_spinner=False)
def _pca_model(root: str, name: str, version: str) -> PCAModel:
    return PCAModel.from_arrays(open_dataset(name, Path(root)).pca_arrays())


def warm_embedder(name: str) -> None:
    """Load the dataset's CNN in the embedding worker now, in the background (a
    few seconds), so that an upload does not wait for it; a no-op once loaded
    (it never waits for an embedding in progress)."""
    embedder.shared().warm(dataset(name).encoder_spec())


def embed_upload(name: str, data: bytes, filename: str) -> np.ndarray:
    """PCA-10 vector of an uploaded image, with the dataset's encoder (in the
    embedding worker process) and PCA; the same file again is not re-embedded.

    Raises ImageError for a file that is not a usable image or is over the
    policy's upload limits (bytes, pixels, bit depth: checked before decoding).
    """
    return _embed_upload(_root(), name, dataset(name).version(), data, filename)


@st.cache_data(max_entries=256, show_spinner=False)
def _embed_upload(
    root: str, name: str, version: str, data: bytes, filename: str
) -> np.ndarray:
    ds = open_dataset(name, Path(root))
    spec = ds.encoder_spec()
    limits = access.policy().limits
    image = decode_image(
        data,
        spec.channels,
        filename,
        max_bytes=limits.upload_bytes,
        max_pixels=limits.upload_pixels,
        max_bits=limits.upload_bits,
        draft=4 * spec.image_size,
    )
    features = embedder.shared().embed(image, spec)  # torch lives there
    model = _pca_model(root, name, version)
    return model.transform(features[None])[0, :PCA_SIMILARITY]


def rating_store(name: str) -> RatingStore:
    """The dataset's rating store (one per server, shared: it holds only a path)."""
    return _rating_store(_root(), name, dataset(name).version())


@st.cache_resource(max_entries=8, show_spinner=False)
def _rating_store(root: str, name: str, version: str) -> RatingStore:
    ids = _galaxy_index(root, name, version)
    return open_dataset(name, Path(root)).rating_store(known_ids=ids)


@st.cache_resource(max_entries=4, show_spinner=False)
def _anomaly_features(root: str, name: str, version: str, feature_set: str):
    """The finder's standardised features and their isolation-forest scores
    (made by prepare: memory-mapped, shared by every rater)."""
    from morph_core.pipeline.anomaly import stored_features, stored_oddness

    ds = open_dataset(name, Path(root))
    return stored_features(ds, feature_set), stored_oddness(ds, feature_set)


@dataclass
class RaterState:
    """What a rater sees: their batch (the galaxies still to rate are
    ``batch.remaining``) and the model that chose it."""

    batch: Batch
    model: RaterModel


def rater(
    name: str,
    rater_key: str,
    start: str,
    feature_set: str = "cnn",
    retrain: bool = False,
) -> RaterState:
    """A rater's batch, kept until used up, and the model fitted once for it."""
    from morph_core.tools.anomaly.session import batch_for

    root, version = _root(), dataset(name).version()

    def fit(ratings_version: int) -> RaterModel:
        return _rater_model(
            root, name, version, rater_key, start, feature_set, ratings_version
        )

    settings = {"start": start, "features": feature_set}
    batch, model = batch_for(rating_store(name), rater_key, settings, fit, retrain)
    return RaterState(batch, model)


@st.cache_resource(max_entries=32, ttl="1h", show_spinner=False)  # 24 MB each at 1M
def _rater_model(
    root: str,
    name: str,
    version: str,
    rater_key: str,
    start: str,
    feature_set: str,
    ratings_version: int,
) -> RaterModel:
    from morph_core.tools.anomaly.session import fit_rater

    features, oddness = _anomaly_features(root, name, version, feature_set)
    store = _rating_store(root, name, version)
    return fit_rater(
        store.ratings(rater_key, until=ratings_version),
        _galaxy_index(root, name, version),
        features,
        oddness,
        start,
    )


# -- workshops -----------------------------------------------------------------------


def workshops() -> WorkshopStore:
    """The server's workshop store (shared: it holds only a path)."""
    return _workshops(_root())


@st.cache_resource(show_spinner=False)
def _workshops(root: str) -> WorkshopStore:
    from morph_core.workshop.classroom import store

    return store()


def class_results(workshop_id: str) -> ClassResults:
    """A workshop's class results, at most a few seconds old: one computation
    serves every participant and the instructor's dashboard."""
    return _class_results(_root(), workshop_id)


def class_figures(workshop_id: str) -> dict[str, go.Figure]:
    """Each lesson's figure of the class, shared by every participant's page
    (built at most every few seconds: 30 traces of Plotly take a while)."""
    return _class_figures(_root(), workshop_id)


@st.cache_resource(ttl=CLASS_REFRESH_S, max_entries=16, show_spinner=False)
def _class_figures(root: str, workshop_id: str) -> dict[str, go.Figure]:
    from morph_core.workshop.lessons import LESSONS

    results = _class_results(root, workshop_id)
    return {lesson: figures.lesson_figure(lesson, results) for lesson in LESSONS}


@st.cache_data(ttl=CLASS_REFRESH_S, max_entries=16, show_spinner=False)
def _class_results(root: str, workshop_id: str) -> ClassResults:
    from morph_core.workshop.classroom import class_results

    workshop = _workshops(root).get(workshop_id)
    return class_results(
        _workshops(root), workshop, open_dataset(workshop.dataset, Path(root))
    )
