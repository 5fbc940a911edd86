"""The UMAP explorer's selections: which galaxies a click, box or lasso on the
map holds, sorted and paged (§2.3). The map itself is drawn by
:func:`morph_core.app.figures.map_figure`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from morph_core.data.catalog import descriptive_columns

NO_COLOUR = "(none)"
MAX_POINTS = 20_000  # drawn as points; beyond, a sample over a density image


def colour_columns(catalog: pd.DataFrame) -> list[str]:
    """Columns a map can be coloured by: numbers, and text with few values."""
    return [NO_COLOUR, *descriptive_columns(catalog)]


def selected_rows(selection: dict, embedding: np.ndarray) -> np.ndarray:
    """Catalogue rows of a Plotly selection event on the map of ``embedding``,
    sorted.

    Clicked and drawn points come through their ``customdata``; every galaxy
    inside a drawn box or lasso is selected too, so a map drawn from a sample
    still selects all the galaxies of a region (a third of a million rows as one
    array, not a set of Python numbers).
    """
    clicked = np.array(
        [r for p in selection.get("points", []) if (r := _row(p)) is not None],
        dtype=np.int64,
    )
    x, y = embedding[:, 0], embedding[:, 1]
    chosen = np.zeros(len(embedding), dtype=bool)  # (np.unique of 400,000: 0.17 s)
    chosen[clicked[(clicked >= 0) & (clicked < len(chosen))]] = True
    for bx, by in _shapes(selection.get("box"), 2):
        (x0, x1), (y0, y1) = sorted(bx[:2]), sorted(by[:2])
        chosen |= (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
    for px, py in _shapes(selection.get("lasso"), 3):
        chosen |= _inside(x, y, px, py)
    return np.flatnonzero(chosen)


def _shapes(shapes, least: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The ``x`` and ``y`` vertices of each drawn box or lasso the browser sent,
    as finite numbers; a shape with fewer than ``least`` or unusable vertices is
    left out (a page's own event never has one)."""
    out = []
    for shape in shapes if isinstance(shapes, list) else []:
        try:
            px = np.asarray(shape["x"], dtype=float)
            py = np.asarray(shape["y"], dtype=float)
        except (TypeError, KeyError, ValueError):
            continue
        if px.ndim == py.ndim == 1 and len(px) == len(py) >= least:
            if np.isfinite(px).all() and np.isfinite(py).all():
                out.append((px, py))
    return out


def _row(point: dict) -> int | None:
    """The catalogue row a clicked point carries: a number, or text when the
    map shows hover columns (the browser sends it back: anything but a whole
    number is ignored)."""
    custom = point.get("customdata") if isinstance(point, dict) else None
    value = custom[0] if isinstance(custom, list) and custom else custom
    if isinstance(value, str) and value.isdecimal():
        return int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _inside(x: np.ndarray, y: np.ndarray, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Even-odd rule: which points lie inside the polygon (px, py).

    Only the points inside its bounding box are tested, sorted by ``y``, so each
    edge toggles just the run of points level with it: about two edges' work
    per point rather than one per edge (a hand-drawn lasso of 120 edges around
    400,000 of a million points: 0.46 s tested edge by edge)."""
    inside = np.zeros(len(x), dtype=bool)
    box = np.flatnonzero(
        (x >= px.min()) & (x <= px.max()) & (y >= py.min()) & (y <= py.max())
    )
    order = box[np.argsort(y[box])]
    xs, ys = x[order].astype(float), y[order].astype(float)
    hit = np.zeros(len(order), dtype=bool)
    for (xa, ya), (xb, yb) in zip(
        zip(px, py, strict=True),
        zip(np.roll(px, 1), np.roll(py, 1), strict=True),
        strict=True,
    ):
        if ya == yb:
            continue  # a level edge is crossed by no point's ray
        # the points with min(ya, yb) <= y < max(ya, yb): one run of the sorted y
        start, stop = np.searchsorted(ys, sorted((ya, yb)), side="left")
        level = slice(start, stop)
        x_cross = xa + (ys[level] - ya) * (xb - xa) / (yb - ya)
        hit[level] ^= xs[level] < x_cross
    inside[order] = hit
    return inside


def rows_of(index: pd.Index, galaxy_ids: Sequence[str]) -> np.ndarray:
    """Catalogue rows (in catalogue order) of the galaxies of ``galaxy_ids`` that
    it holds; ``index`` is the catalogue's ``galaxy_id`` as an index, kept
    between calls (3 ms for 6,000 of 12,000; ``isin`` on Arrow strings took 25)."""
    rows = index.get_indexer(galaxy_ids)
    return np.unique(rows[rows >= 0])


def sorted_rows(
    catalog: pd.DataFrame, rows: np.ndarray, sort_by: str = "galaxy_id", ascending=True
) -> np.ndarray:
    """The selected catalogue rows, ordered by a column (stable; missing values
    last): only the page shown is then taken from the catalogue, not the
    whole selection (a third of a million galaxies sorted in 30 ms)."""
    rows = np.asarray(rows, dtype=np.int64)
    if sort_by not in catalog.columns or not len(rows):
        return rows
    values = catalog[sort_by].iloc[rows]
    order = values.reset_index(drop=True).sort_values(
        ascending=ascending, kind="stable", na_position="last"
    )
    return rows[order.index.to_numpy()]


def selection_table(catalog: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """The catalogue rows ``rows``, in that order (a page, or the download)."""
    return catalog.iloc[rows].reset_index(drop=True)


def page_of(rows: np.ndarray, page: int, per_page: int) -> np.ndarray:
    """Rows of page ``page`` (1-based) of ``per_page`` rows."""
    start = (max(page, 1) - 1) * per_page
    return rows[start : start + per_page]


def n_pages(n_rows: int, per_page: int) -> int:
    return max(1, -(-n_rows // per_page))
