"""Similarity search: exact nearest neighbours by Manhattan distance on PCA-10.

Walmsley+22 §2.4: the galaxies most similar to a query are its nearest neighbours
in the first 10 principal components of the CNN representation, by L1 distance.
A query is a galaxy of the catalogue (chosen by tag, id or sky position) or any
feature vector (an uploaded image).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from morph_core.data.sky import nearest, parse_position, separation_arcsec
from morph_core.errors import MorphCoreError

DUPLICATE_RADIUS_ARCSEC = 100.0  # neighbours this close on the sky are the same galaxy
_TAG = re.compile(r"#([\w-]+)(?::(\d+))?")


class NeighbourIndex:
    """Exact L1 nearest-neighbour index (faiss ``IndexFlat`` with ``METRIC_L1``).

    Queries only read the index, so one fitted index can serve many visitors.

    Examples
    --------
    >>> index = NeighbourIndex().fit(np.eye(3, dtype=np.float32))
    >>> index.query(np.array([[1, 0, 0]], np.float32), k=1)[1]
    array([[0]])
    """

    def fit(self, features: np.ndarray) -> NeighbourIndex:
        """Index ``(n_galaxies, n_dims)`` features; returns ``self``."""
        import faiss  # loaded by the pages that search, not by every page

        features = np.ascontiguousarray(features, dtype=np.float32)
        self.index_ = faiss.IndexFlat(features.shape[1], faiss.METRIC_L1)
        self.index_.add(features)
        return self

    @property
    def n_galaxies(self) -> int:
        return self.index_.ntotal

    def query(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Distances and rows of the ``k`` nearest galaxies, nearest first.

        Returns
        -------
        distances : ndarray of shape (n_queries, k), float32
        rows : ndarray of shape (n_queries, k), int64
        """
        vectors = np.ascontiguousarray(np.atleast_2d(vectors), dtype=np.float32)
        k = min(k, self.n_galaxies)
        distances, rows = self.index_.search(vectors, k)
        return distances, rows


def similar_galaxies(
    index: NeighbourIndex,
    catalog: pd.DataFrame,
    vector: np.ndarray,
    k: int = 7,
    query_row: int | None = None,
    exclude_radius_arcsec: float | None = None,
    exclude_tag: str | None = None,
    only: np.ndarray | None = None,
) -> pd.DataFrame:
    """The ``k`` galaxies nearest to ``vector``, as catalogue rows.

    Parameters
    ----------
    index : NeighbourIndex
        Fitted on the PCA-10 features of ``catalog`` (same row order).
    vector : ndarray of shape (n_dims,)
        The query's PCA-10 features.
    query_row : int, optional
        The query's own row: left out of the neighbours; its sky position is the
        centre of ``exclude_radius_arcsec``.
    exclude_radius_arcsec : float, optional
        Leave out neighbours this close to the query on the sky (duplicate
        detections of the same galaxy). Needs ``ra``/``dec``.
    exclude_tag : str, optional
        Leave out galaxies already carrying this tag (to find new ones).
    only : ndarray of bool, optional
        Neighbours must be among these rows (e.g. a classifier's column >= 0.5).

    Returns
    -------
    DataFrame
        ``rank`` (1 = most similar), ``distance`` (L1, PCA-10 units), then the
        catalogue columns; ``sep_arcsec`` from the query when positions are known.
    """
    drop = np.zeros(len(catalog), dtype=bool)
    if query_row is not None:
        drop[query_row] = True
    sep = None
    if query_row is not None and {"ra", "dec"} <= set(catalog.columns):
        centre = catalog.iloc[query_row]
        if np.isfinite([centre["ra"], centre["dec"]]).all():
            sep = separation_arcsec(
                catalog["ra"], catalog["dec"], centre["ra"], centre["dec"]
            )
            if exclude_radius_arcsec:
                drop |= np.nan_to_num(sep, nan=np.inf) < exclude_radius_arcsec
    if exclude_tag:
        drop |= tag_counts(catalog, exclude_tag) > 0
    if only is not None:
        drop |= ~np.asarray(only, bool)

    wanted = min(k, int((~drop).sum()))
    fetch = min(index.n_galaxies, k + int(drop.sum()))
    distances, rows = index.query(vector, fetch)
    keep = ~drop[rows[0]]
    rows, distances = rows[0][keep][:wanted], distances[0][keep][:wanted]
    result = catalog.iloc[rows].copy()
    result.insert(0, "distance", distances)
    result.insert(0, "rank", np.arange(1, len(rows) + 1))
    if sep is not None:
        result["sep_arcsec"] = sep[rows].round(1)
    return result.reset_index(drop=True)


def tag_counts(catalog: pd.DataFrame, tag: str) -> np.ndarray:
    """How often each galaxy was given ``tag`` (``#ring`` or ``ring``), int array."""
    if "tags" not in catalog.columns:
        return np.zeros(len(catalog), dtype=int)
    name = tag.lstrip("#").lower()
    counts = np.zeros(len(catalog), dtype=int)
    for i, text in enumerate(catalog["tags"].fillna("").astype(str)):
        for found, count in _TAG.findall(text.lower()):
            if found == name:
                counts[i] += int(count) if count else 1
    return counts


def tags_in(catalog: pd.DataFrame) -> list[str]:
    """Every tag used in the catalogue, most used first, e.g. ``['#ring', ...]``."""
    if "tags" not in catalog.columns:
        return []
    totals: dict[str, int] = {}
    for text in catalog["tags"].fillna("").astype(str):
        for name, count in _TAG.findall(text.lower()):
            totals[name] = totals.get(name, 0) + (int(count) if count else 1)
    return [f"#{n}" for n, _ in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))]


def row_by_tag(catalog: pd.DataFrame, tag: str) -> tuple[int, int]:
    """The galaxy given ``tag`` most often (the paper's query) and its count."""
    counts = tag_counts(catalog, tag)
    if counts.max(initial=0) == 0:
        raise MorphCoreError(f"nobody used the tag {tag!r} in this dataset")
    row = int(np.argmax(counts))
    return row, int(counts[row])


def row_by_id(catalog: pd.DataFrame, text: str) -> int:
    """The row of a ``galaxy_id`` (exact, then case-insensitive)."""
    text = text.strip()
    ids = catalog["galaxy_id"].astype(str)
    hits = np.flatnonzero(ids == text)
    if not len(hits):
        hits = np.flatnonzero(ids.str.lower() == text.lower())
    if not len(hits):
        raise MorphCoreError(f"no galaxy with id {text!r} in this dataset")
    return int(hits[0])


def row_by_position(
    catalog: pd.DataFrame, text: str, radius_arcsec: float
) -> tuple[int, float]:
    """The catalogue galaxy nearest to a typed sky position, within a radius.

    Returns the row and its separation in arcsec.
    """
    if not {"ra", "dec"} <= set(catalog.columns) or catalog["ra"].isna().all():
        raise MorphCoreError("this dataset has no sky positions (ra, dec)")
    try:
        ra, dec = parse_position(text)
    except ValueError as e:
        raise MorphCoreError(str(e)) from e
    row, sep = nearest(
        catalog["ra"].to_numpy(float), catalog["dec"].to_numpy(float), ra, dec
    )
    if sep > radius_arcsec:
        raise MorphCoreError(
            f"no galaxy within {radius_arcsec:g} arcsec of RA {ra:.5f}, Dec {dec:.5f} "
            f"(nearest: {catalog['galaxy_id'].iloc[row]} at {sep:.0f} arcsec)"
        )
    return row, sep


ROUTES = ("tag", "galaxy id", "sky position", "image")


@dataclass
class SimilarityResult:
    """A query and its neighbours.

    Attributes
    ----------
    query : DataFrame
        The query galaxy's catalogue row (empty for an uploaded image).
    note : str
        How the query was found, for the user.
    neighbours : DataFrame
        From :func:`similar_galaxies`.
    n_tagged : int, optional
        For a tag query: how many neighbours carry the tag.
    """

    query: pd.DataFrame
    note: str
    neighbours: pd.DataFrame
    n_tagged: int | None = None


def search(
    index: NeighbourIndex,
    catalog: pd.DataFrame,
    pca_10: np.ndarray,
    route: str,
    value: str | np.ndarray,
    k: int = 7,
    exclude_radius_arcsec: float | None = DUPLICATE_RADIUS_ARCSEC,
    exclude_tagged: bool = False,
    match_radius_arcsec: float = 10.0,
    only: tuple[str, float] | None = None,
) -> SimilarityResult:
    """Find the query by ``route`` and return its ``k`` most similar galaxies.

    Parameters
    ----------
    route : str
        One of :data:`ROUTES`. ``value`` is a tag, a galaxy id, a typed sky
        position, or an image's PCA-10 vector.
    exclude_tagged : bool
        For a tag query, leave out galaxies that already carry the tag.
    match_radius_arcsec : float
        A sky position must be this close to a catalogue galaxy.
    only : (column, minimum), optional
        Keep neighbours whose ``column`` is at least ``minimum``, e.g. a
        fine-tuned classifier's ``pred_...`` column.

    Raises
    ------
    MorphCoreError
        Unknown route, id or tag; a malformed or empty position.
    """
    if not 1 <= k <= 100:
        raise MorphCoreError(f"ask for 1 to 100 neighbours, not {k}")
    tag = None
    if route == "image":
        row, vector, note = None, np.asarray(value, np.float32), "the uploaded image"
    else:
        if not isinstance(value, str) or not value.strip():
            raise MorphCoreError(f"give a {route} to search for")
        if route == "tag":
            tag = value if value.startswith("#") else f"#{value}"
            row, count = row_by_tag(catalog, tag)
            note = f"the galaxy tagged {tag} most often ({count} times)"
        elif route == "galaxy id":
            row = row_by_id(catalog, value)
            note = f"galaxy {catalog['galaxy_id'].iloc[row]}"
        elif route == "sky position":
            row, sep = row_by_position(catalog, value, match_radius_arcsec)
            note = f"the galaxy nearest to {value.strip()} ({sep:.1f} arcsec away)"
        else:
            raise MorphCoreError(f"unknown query route {route!r}; use one of {ROUTES}")
        vector = pca_10[row]
    neighbours = similar_galaxies(
        index,
        catalog,
        vector,
        k,
        query_row=row,
        exclude_radius_arcsec=exclude_radius_arcsec,
        exclude_tag=tag if exclude_tagged else None,
        only=_at_least(catalog, *only) if only else None,
    )
    n_tagged = None
    if tag is not None:
        n_tagged = int((tag_counts(neighbours, tag) > 0).sum())
    query = catalog.iloc[[row]] if row is not None else catalog.iloc[[]]
    return SimilarityResult(query.reset_index(drop=True), note, neighbours, n_tagged)


def filter_columns(catalog: pd.DataFrame) -> list[str]:
    """Number columns neighbours can be filtered by: applied classifiers'
    ``pred_`` columns first, then the others (not positions)."""
    numeric = [
        c
        for c in catalog.columns
        if c not in ("ra", "dec") and pd.api.types.is_float_dtype(catalog[c])
    ]
    return sorted(numeric, key=lambda c: not c.startswith("pred_"))


def _at_least(catalog: pd.DataFrame, column: str, minimum: float) -> np.ndarray:
    if column not in catalog.columns:
        raise MorphCoreError(f"no column {column!r} to filter by")
    values = pd.to_numeric(catalog[column], errors="coerce").to_numpy()
    keep = np.nan_to_num(values, nan=-np.inf) >= minimum
    if not keep.any():
        raise MorphCoreError(f"no galaxy has {column} >= {minimum:g}")
    return keep
