"""The UMAP explorer: the survey as a 2-D map, coloured by any column (§2.3)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

NO_COLOUR = "(none)"
MAX_POINTS = 200_000  # drawn with WebGL; beyond it a random sample is drawn
_HIDDEN = {"galaxy_id", "file"}
_MAX_CATEGORIES = 20


def colour_columns(catalog: pd.DataFrame) -> list[str]:
    """Columns a map can be coloured by: numbers, and text with few values."""
    columns = [NO_COLOUR]
    for name in catalog.columns:
        if name in _HIDDEN:
            continue
        values = catalog[name]
        if pd.api.types.is_numeric_dtype(values) or (
            values.nunique(dropna=True) <= _MAX_CATEGORIES
        ):
            columns.append(name)
    return columns


def map_figure(
    catalog: pd.DataFrame,
    embedding: np.ndarray,
    colour: str = NO_COLOUR,
    hover: list[str] | None = None,
    max_points: int = MAX_POINTS,
    random_state: int = 0,
) -> go.Figure:
    """A WebGL scatter of the UMAP embedding; each point's ``customdata`` is its row.

    Parameters
    ----------
    embedding : ndarray of shape (n_galaxies, 2)
    colour : str
        A catalogue column or :data:`NO_COLOUR`; numbers get a colour scale,
        text one colour per value.
    hover : list of str, optional
        Columns shown on hover besides ``galaxy_id``.
    max_points : int
        Above this many galaxies a random sample is drawn.
    """
    rows = np.arange(len(catalog))
    if len(rows) > max_points:
        rows = np.sort(
            np.random.default_rng(random_state).choice(rows, max_points, False)
        )
    hover = [c for c in (hover or []) if c in catalog.columns and c != "galaxy_id"]
    data = catalog.iloc[rows]
    template = "<b>%{customdata[1]}</b>" + "".join(
        f"<br>{c}: %{{customdata[{i + 2}]}}" for i, c in enumerate(hover)
    )
    custom = np.column_stack(
        [rows, data["galaxy_id"].astype(str)] + [data[c].astype(str) for c in hover]
    )
    fig = go.Figure()
    values = data[colour] if colour != NO_COLOUR else None
    if values is not None and not pd.api.types.is_numeric_dtype(values):
        for value in sorted(values.dropna().astype(str).unique()):
            mask = (values.astype(str) == value).to_numpy()
            fig.add_trace(_trace(embedding[rows[mask]], custom[mask], template, value))
    else:
        marker = {"size": 4, "opacity": 0.8}
        if values is not None:
            marker |= {
                "color": values,
                "colorscale": "Viridis",
                "showscale": True,
                "colorbar": {"title": colour},
            }
        fig.add_trace(_trace(embedding[rows], custom, template, "galaxies", marker))
    fig.update_layout(
        dragmode="lasso",
        height=620,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        xaxis={"title": "UMAP 1", "showticklabels": False},
        yaxis={"title": "UMAP 2", "showticklabels": False},
        legend={"title": colour, "itemsizing": "constant"},
    )
    return fig


def _trace(xy, custom, template, name, marker=None) -> go.Scattergl:
    return go.Scattergl(
        x=xy[:, 0],
        y=xy[:, 1],
        mode="markers",
        name=name,
        customdata=custom,
        hovertemplate=template + "<extra></extra>",
        marker=marker or {"size": 4, "opacity": 0.8},
    )


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
    """Even-odd rule: which points lie inside the polygon (px, py)."""
    inside = np.zeros(len(x), dtype=bool)
    px, py = np.asarray(px, float), np.asarray(py, float)
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


def selection_table(
    catalog: pd.DataFrame, rows: list[int], sort_by: str = "galaxy_id", ascending=True
) -> pd.DataFrame:
    """The selected galaxies, sorted by a column."""
    table = catalog.iloc[rows]
    if sort_by in table.columns:
        table = table.sort_values(sort_by, ascending=ascending, kind="stable")
    return table.reset_index(drop=True)


def page_of(table: pd.DataFrame, page: int, per_page: int) -> pd.DataFrame:
    """Rows of page ``page`` (1-based) of ``per_page`` rows."""
    start = (max(page, 1) - 1) * per_page
    return table.iloc[start : start + per_page]


def n_pages(n_rows: int, per_page: int) -> int:
    return max(1, -(-n_rows // per_page))
