"""The UMAP explorer's selections: which galaxies a click, box or lasso on the
map holds, sorted and paged (§2.3). The map itself is drawn by
:func:`morph_core.app.figures.map_figure`."""

from __future__ import annotations

import numpy as np
import pandas as pd

from morph_core.data.catalog import descriptive_columns

NO_COLOUR = "(none)"
MAX_POINTS = 50_000  # drawn as points; beyond, a sample over a density image


def colour_columns(catalog: pd.DataFrame) -> list[str]:
    """Columns a map can be coloured by: numbers, and text with few values."""
    return [NO_COLOUR, *descriptive_columns(catalog)]


def selected_rows(selection: dict, embedding: np.ndarray | None = None) -> list[int]:
    """Catalogue rows of a Plotly selection event.

    Clicked and drawn points come through their ``customdata``. With
    ``embedding``, every galaxy inside a drawn box or lasso is selected too, so a
    map drawn from a sample still selects all the galaxies of a region.
    """
    rows = {
        int(p["customdata"][0])
        for p in selection.get("points", [])
        if p.get("customdata") is not None
    }
    if embedding is not None:
        x, y = embedding[:, 0], embedding[:, 1]
        for box in selection.get("box", []):
            (x0, x1), (y0, y1) = sorted(box["x"][:2]), sorted(box["y"][:2])
            rows |= set(np.flatnonzero((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)))
        for lasso in selection.get("lasso", []):
            rows |= set(np.flatnonzero(_inside(x, y, lasso["x"], lasso["y"])))
    return sorted(int(r) for r in rows)


def _inside(x: np.ndarray, y: np.ndarray, px: list, py: list) -> np.ndarray:
    """Even-odd rule: which points lie inside the polygon (px, py); only the
    points inside its bounding box are tested against each edge (a hand-drawn
    lasso has a hundred edges; a survey a million points)."""
    px, py = np.asarray(px, float), np.asarray(py, float)
    inside = np.zeros(len(x), dtype=bool)
    if len(px) < 3:
        return inside
    box = np.flatnonzero(
        (x >= px.min()) & (x <= px.max()) & (y >= py.min()) & (y <= py.max())
    )
    inside[box] = _inside_polygon(x[box], y[box], px, py)
    return inside


def _inside_polygon(
    x: np.ndarray, y: np.ndarray, px: np.ndarray, py: np.ndarray
) -> np.ndarray:
    inside = np.zeros(len(x), dtype=bool)
    for (xa, ya), (xb, yb) in zip(
        zip(px, py, strict=True),
        zip(np.roll(px, 1), np.roll(py, 1), strict=True),
        strict=True,
    ):
        crosses = (ya > y) != (yb > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_cross = xa + (y - ya) * (xb - xa) / (yb - ya)
        inside ^= crosses & (x < x_cross)
    return inside


def rows_of(index: pd.Index, galaxy_ids: list[str]) -> list[int]:
    """Catalogue rows (in catalogue order) of the galaxies of ``galaxy_ids`` that
    it holds; ``index`` is the catalogue's ``galaxy_id`` as an index, kept
    between calls (3 ms for 6,000 of 12,000; ``isin`` on Arrow strings took 25)."""
    rows = index.get_indexer(galaxy_ids)
    return np.unique(rows[rows >= 0]).tolist()


def sorted_rows(
    catalog: pd.DataFrame, rows: list[int], sort_by: str = "galaxy_id", ascending=True
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
