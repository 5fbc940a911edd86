"""Figures of the fine-tune monitor: live curves of runs and the label-count sweep."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

METRICS = {
    "val_loss": "validation loss",
    "train_loss": "training loss",
    "val_auc": "validation ROC AUC",
    "val_accuracy": "validation accuracy",
}


def curves_figure(histories: dict[str, pd.DataFrame]) -> go.Figure:
    """Loss and validation AUC per epoch, one colour per run; the epoch where a
    new unfreezing stage starts is marked."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss", "validation ROC AUC"))
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
        fig.add_scatter(
            x=history["epoch"],
            y=history["val_auc"],
            name=f"{name}: {METRICS['val_auc']}",
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
    (mean and std over repeats): the paper's Fig. 9 for any question."""
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=("test ROC AUC", "test accuracy")
    )
    for i, (init, rows) in enumerate(summary.groupby("init", sort=True)):
        rows = rows.sort_values("n_per_class")
        for col, metric in enumerate(("test_auc", "test_accuracy"), start=1):
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
    fig.update_xaxes(type="log", title_text="labels per class")
    fig.update_layout(height=360, margin={"t": 40, "b": 10})
    return fig


_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b"]
