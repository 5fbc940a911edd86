"""Plotly figures of the pages: the UMAP map, a fine-tuning run's live curves and
the label-count sweep. Plain functions of tables and arrays (no Streamlit)."""

from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from PIL import Image
from plotly.subplots import make_subplots

from morph_core.tools.explorer import MAX_POINTS, NO_COLOUR
from morph_core.workshop.lessons import N_PICKS, N_RATINGS

if TYPE_CHECKING:
    from morph_core.workshop.classroom import ClassResults


def map_figure(
    catalog: pd.DataFrame,
    embedding: np.ndarray,
    colour: str = NO_COLOUR,
    hover: list[str] | None = None,
    max_points: int = MAX_POINTS,
    random_state: int = 0,
    density: dict | None = None,
) -> go.Figure:
    """A WebGL scatter of the UMAP embedding; each point's ``customdata`` is its
    catalogue row (then its hover columns' values, if any), its ``text`` its id.

    Parameters
    ----------
    embedding : ndarray of shape (n_galaxies, 2)
    colour : str
        A catalogue column or :data:`NO_COLOUR`; numbers get a colour scale,
        text one colour per value.
    hover : list of str, optional
        Columns shown on hover besides ``galaxy_id``.
    max_points : int
        Above this many galaxies a random sample is drawn as points, over a
        density image of them all (a box or lasso still selects every galaxy
        inside: :func:`morph_core.tools.explorer.selected_rows`).
    density : dict, optional
        That image, made before by :func:`density_image` (made here if needed).
    """
    rows = np.arange(len(catalog))
    if len(rows) > max_points:
        rows = np.sort(
            np.random.default_rng(random_state).choice(rows, max_points, False)
        )
    hover = [c for c in (hover or []) if c in catalog.columns and c != "galaxy_id"]
    data = catalog.iloc[rows]
    ids = data["galaxy_id"].astype(str).to_numpy()  # shown on hover, as text
    template = "<b>%{text}</b>" + "".join(
        f"<br>{c}: %{{customdata[{i + 1}]}}" for i, c in enumerate(hover)
    )
    if hover:  # the row, then the hover columns, as text
        custom = np.column_stack(
            [rows.astype(str)] + [data[c].astype(str) for c in hover]
        )
    else:  # the row alone, a typed array: a third of the JSON, written 10x faster
        custom = rows.astype(np.int32)
    fig = go.Figure()
    values = data[colour] if colour != NO_COLOUR else None
    if values is not None and not pd.api.types.is_numeric_dtype(values):
        for value in sorted(values.dropna().astype(str).unique()):
            mask = (values.astype(str) == value).to_numpy()
            xy = embedding[rows[mask]]
            fig.add_trace(_trace(xy, custom[mask], ids[mask], template, value))
    else:
        marker = {"size": 4, "opacity": 0.8}
        if values is not None:
            marker |= {
                "color": values,
                "colorscale": "Viridis",
                "showscale": True,
                "colorbar": {"title": colour},
            }
        xy = embedding[rows]
        fig.add_trace(_trace(xy, custom, ids, template, "galaxies", marker))
    if len(rows) < len(catalog):
        image = density or density_image(embedding)
        fig.add_layout_image(image, xref="x", yref="y", sizing="stretch", layer="below")
        fig.update_xaxes(range=[image["x"], image["x"] + image["sizex"]])
        fig.update_yaxes(range=[image["y"] - image["sizey"], image["y"]])
    fig.update_layout(
        dragmode="lasso",
        height=620,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        xaxis={"title": "UMAP 1", "showticklabels": False},
        yaxis={"title": "UMAP 2", "showticklabels": False},
        legend={"title": colour, "itemsizing": "constant"},
    )
    return fig


def density_image(embedding: np.ndarray, bins: int = 400) -> dict:
    """Every galaxy of a map as a grey density image (log counts, a PNG of a
    few tens of kB whatever the number of galaxies): a Plotly layout image's
    ``source``, ``x``, ``y`` (its top left corner), ``sizex`` and ``sizey``."""
    x, y = embedding[:, 0], embedding[:, 1]
    (x0, x1), (y0, y1) = (x.min(), x.max()), (y.min(), y.max())
    counts, _, _ = np.histogram2d(y, x, bins=bins, range=[[y0, y1], [x0, x1]])
    shade = np.log1p(counts[::-1])  # image rows run from the top
    grey = 255 - (200 * shade / max(shade.max(), 1e-9)).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(grey).save(buffer, format="PNG", optimize=True)
    return {
        "source": "data:image/png;base64,"
        + base64.b64encode(buffer.getvalue()).decode(),
        "x": float(x0),
        "y": float(y1),
        "sizex": float(x1 - x0),
        "sizey": float(y1 - y0),
    }


def _trace(xy, custom, text, template, name, marker=None) -> go.Scattergl:
    return go.Scattergl(
        x=xy[:, 0],
        y=xy[:, 1],
        mode="markers",
        name=name,
        customdata=custom,
        text=text,
        hovertemplate=template + "<extra></extra>",
        marker=marker or {"size": 4, "opacity": 0.8},
    )


METRICS = {
    "val_loss": "validation loss",
    "train_loss": "training loss",
    "val_auc": "validation ROC AUC",
    "val_accuracy": "validation accuracy",
    "val_error": "validation vote-fraction error",
}


def curves_figure(histories: dict[str, pd.DataFrame]) -> go.Figure:
    """Loss and validation AUC (regressions: the mean vote-fraction error) per
    epoch, one colour per run; the epoch where a new unfreezing stage starts is
    marked."""
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=("loss", "validation ROC AUC or vote-fraction error"),
    )
    for i, (name, history) in enumerate(histories.items()):
        if history.empty:
            continue
        colour = _COLOURS[i % len(_COLOURS)]
        for metric, dash in (("train_loss", "dot"), ("val_loss", "solid")):
            fig.add_scatter(
                x=history["epoch"],
                y=history[metric],
                name=f"{name}: {METRICS[metric]}",
                line={"color": colour, "dash": dash},
                customdata=history["stage"],
                hovertemplate="epoch %{x}: %{y:.3f} (%{customdata})<extra></extra>",
                row=1,
                col=1,
            )
        score = "val_auc" if "val_auc" in history else "val_error"
        fig.add_scatter(
            x=history["epoch"],
            y=history[score],
            name=f"{name}: {METRICS[score]}",
            line={"color": colour},
            customdata=history["stage"],
            hovertemplate="epoch %{x}: %{y:.3f} (%{customdata})<extra></extra>",
            row=1,
            col=2,
        )
        starts = history[history["stage"] != history["stage"].shift()]
        fig.add_scatter(
            x=starts["epoch"],
            y=starts["val_loss"],
            mode="markers+text",
            text=starts["stage"],
            textposition="top center",
            marker={"color": colour, "symbol": "triangle-up", "size": 9},
            showlegend=False,
            hoverinfo="skip",
            row=1,
            col=1,
        )
    fig.update_xaxes(title_text="epoch")
    fig.update_layout(
        height=380, margin={"t": 40, "b": 10}, legend={"font": {"size": 10}}
    )
    return fig


def sweep_figure(summary: pd.DataFrame) -> go.Figure:
    """Test ROC AUC and accuracy against labels per class, pretrained vs random
    (mean and std over repeats): the paper's Fig. 9 for any question. A
    regression's sweep shows its test vote-fraction error."""
    regression = summary["test_auc_mean"].isna().all()
    metrics = ("test_error",) if regression else ("test_auc", "test_accuracy")
    titles = {
        "test_auc": "test ROC AUC",
        "test_accuracy": "test accuracy",
        "test_error": "test vote-fraction error",
    }
    fig = make_subplots(
        rows=1, cols=len(metrics), subplot_titles=[titles[m] for m in metrics]
    )
    for i, (init, rows) in enumerate(summary.groupby("init", sort=True)):
        rows = rows.sort_values("n_per_class")
        for col, metric in enumerate(metrics, start=1):
            fig.add_scatter(
                x=rows["n_per_class"],
                y=rows[f"{metric}_mean"],
                error_y={"type": "data", "array": rows[f"{metric}_std"].fillna(0)},
                name=str(init),
                legendgroup=str(init),
                showlegend=col == 1,
                line={"color": _COLOURS[i % len(_COLOURS)]},
                row=1,
                col=col,
            )
    fig.update_xaxes(
        type="log", title_text="labelled galaxies" if regression else "labels per class"
    )
    fig.update_layout(height=360, margin={"t": 40, "b": 10})
    return fig


_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b"]


def interest_map(
    catalog: pd.DataFrame,
    interest: np.ndarray,
    embedding: np.ndarray,
    density: dict | None = None,
) -> go.Figure:
    """A small UMAP coloured by a rater's predicted interest (one per
    catalogue row); ``density`` as for :func:`map_figure`."""
    ranked = catalog.assign(interest=interest)
    figure = map_figure(ranked, embedding, "interest", ["interest"], density=density)
    return figure.update_layout(height=300, showlegend=False)


# -- a workshop's class (morph_core.workshop.classroom.ClassResults) -----------------


def lesson_figure(lesson_id: str, results: ClassResults) -> go.Figure:
    """The figure a lesson reproduces, built from the class's results."""
    if lesson_id == "explorer":
        return selections_figure(results.progress)
    if lesson_id == "similarity":
        return picks_figure(results.progress, N_PICKS * results.ring_rate)
    if lesson_id == "rater":
        return found_figure(results.curves, results.interesting_rate, N_RATINGS)
    return class_curve_figure(results.runs)


def _class_layout(fig: go.Figure, x: str, y: str) -> go.Figure:
    fig.update_xaxes(title_text=x)
    fig.update_yaxes(title_text=y)
    return fig.update_layout(height=300, margin={"t": 30, "b": 10})


def selections_figure(progress: pd.DataFrame) -> go.Figure:
    """Lesson 1: each participant's lasso as completeness against purity."""
    done = progress[progress.get("explorer", pd.Series(dtype=str)) == "done"]
    fig = go.Figure(
        go.Scatter(
            x=done.get("completeness", []),
            y=done.get("purity", []),
            text=done.get("name", []),
            mode="markers+text",
            textposition="top center",
        )
    )
    fig.update_xaxes(range=[0, 1.05])
    fig.update_yaxes(range=[0, 1.1])
    return _class_layout(fig, "completeness (mergers caught)", "purity (are mergers)")


def picks_figure(progress: pd.DataFrame, random_expected: float) -> go.Figure:
    """Lesson 2: true rings among each participant's picks, against chance."""
    done = progress[progress.get("similarity", pd.Series(dtype=str)) == "done"]
    fig = go.Figure(go.Bar(x=done.get("name", []), y=done.get("rings_picked", [])))
    fig.add_hline(
        y=random_expected,
        line_dash="dash",
        annotation_text=f"random pick: {random_expected:.1f}",
    )
    return _class_layout(fig, "participant", "true rings picked")


def found_figure(curves: pd.DataFrame, rate: float, n: int) -> go.Figure:
    """Lesson 3: interesting galaxies met after each rating, per participant,
    with a random order's expectation (the paper's Fig. 8, made by the class)."""
    fig = go.Figure()
    for i, (name, rows) in enumerate(curves.groupby("name", sort=False)):
        fig.add_scatter(
            x=rows["n_rated"],
            y=rows["found"],
            name=str(name),
            mode="lines",
            line={"color": _COLOURS[i % len(_COLOURS)]},
        )
    fig.add_scatter(
        x=[0, n],
        y=[0, n * rate],
        name="random order",
        mode="lines",
        line={"dash": "dash", "color": "grey"},
    )
    return _class_layout(fig, "galaxies rated", "rings and lenses met")


def class_curve_figure(runs: pd.DataFrame) -> go.Figure:
    """Lesson 4: every finished run's test AUC against labels per class, and
    the class's mean (the paper's ring figure, made by the class)."""
    done = runs[runs["state"] == "finished"]
    mean = done.groupby("n_per_class")["test_auc"].mean()
    fig = go.Figure(
        go.Scatter(
            x=done["n_per_class"],
            y=done["test_auc"],
            text=done.get("participant"),
            mode="markers",
            name="runs",
            marker={"opacity": 0.6},
        )
    )
    fig.add_scatter(x=mean.index, y=mean.values, name="class mean", mode="lines")
    fig.update_xaxes(type="log")
    return _class_layout(fig, "labels per class", "test ROC AUC (rings)")
