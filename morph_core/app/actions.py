"""Long actions a page starts, each behind a progress bar. The work itself is the
library's; modules that load GalSim, OpenCV or torch are imported only here,
when the action runs, never when a page renders."""

from __future__ import annotations

import streamlit as st

from morph_core.access import Visitor
from morph_core.app import cache
from morph_core.data.manifest import DatasetEntry
from morph_core.model.weights import resolve_encoder


def run_prepare(entry: DatasetEntry, visitor: Visitor):
    """Prepare a dataset with one progress bar over its stages; raises
    MorphCoreError on bad input or a refusal of the policy, and leaves the
    previous prepare as it was."""
    from morph_core.pipeline.prepare import STAGES, prepare

    bar = st.progress(0.0, text="Starting…")

    def progress(stage: str, done: int, total: int) -> None:
        fraction = (STAGES.index(stage) + done / max(total, 1)) / len(STAGES)
        bar.progress(min(fraction, 1.0), text=f"{stage}: {done}/{total}")

    try:
        return prepare(
            entry,
            cache.dataset(entry.name),
            resolve_encoder(None, cache.manifest()),
            progress=progress,
            visitor=visitor,
        )
    finally:
        bar.empty()


def run_umap(name: str, n_neighbors: int, min_dist: float, visitor: Visitor) -> None:
    """Compute and store a UMAP with these settings, with a progress bar."""
    from morph_core.pipeline.umap import recompute_umap

    bar = st.progress(
        0.0, text=f"UMAP with {n_neighbors} neighbours, min_dist {min_dist}…"
    )
    try:
        recompute_umap(
            cache.dataset(name),
            n_neighbors,
            min_dist,
            lambda done, total: bar.progress(done / total, text=f"UMAP {done}/{total}"),
            visitor,
        )
    finally:
        bar.empty()


def apply_run(name: str, run_id: str, visitor: Visitor) -> list[str]:
    """Predict every galaxy with a finished run (catalogue columns); returns the
    columns' names."""
    from morph_core.runs.apply import apply

    bar = st.progress(0.0, text="Predicting every galaxy…")
    try:
        return apply(
            cache.dataset(name),
            run_id,
            lambda done, total: bar.progress(done / total),
            visitor,
        )
    finally:
        bar.empty()
