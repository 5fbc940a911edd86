"""Widgets the pages share: thumbnails, galleries, label sources, run monitor."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image
from streamlit.runtime.uploaded_file_manager import UploadedFile

from morph_core import access
from morph_core.access import Visitor
from morph_core.app import cache
from morph_core.app.figures import curves_figure, sweep_figure
from morph_core.data.cutouts import is_url, local_files
from morph_core.data.images import load_image
from morph_core.data.sky import links
from morph_core.errors import ImageError
from morph_core.runs import queue
from morph_core.runs.folder import STATES
from morph_core.runs.sources import LabelSource
from morph_core.runs.sweep import sweep_summary
from morph_core.training.config import Task


@st.cache_data(max_entries=4096, show_spinner=False)
def thumbnail(file: str, size: int = 160) -> bytes | None:
    """A colour JPEG thumbnail of one image file, ``None`` if it cannot be read
    now (encoded once: a page then sends the bytes as they are)."""
    try:
        image = load_image(file, channels=3)
    except ImageError:
        return None
    step = max(1, max(image.shape[:2]) // size)
    buffer = io.BytesIO()
    Image.fromarray(image[::step, ::step]).save(buffer, format="JPEG", quality=88)
    return buffer.getvalue()


def gallery(
    table: pd.DataFrame,
    dataset: str,
    columns: int = 6,
    details: Sequence[str] = (),
) -> None:
    """Thumbnails of the galaxies in ``table`` in a grid, captioned with their id
    and the ``details`` columns, with links to the surveys' viewers where the
    dataset's positions are real (not on the synthetic sky)."""
    sky = cache.real_sky(dataset)
    cells = st.columns(columns)
    files = table["file"].astype(str).tolist() if "file" in table else []
    local = local_files(files)  # cutouts of a published table: fetched in parallel
    for i, (_, row) in enumerate(table.iterrows()):
        caption = " · ".join(
            [str(row["galaxy_id"])] + [f"{c} {_short(row[c])}" for c in details]
        )
        image = thumbnail(local[i]) if local[i] else None
        with cells[i % columns]:
            if image is None:
                st.warning(plain(f"{row['galaxy_id']}: {_missing(files[i])}"))
            else:
                st.image(image, caption=plain(caption), width="stretch")
            position = [row.get("ra", np.nan), row.get("dec", np.nan)]
            if sky and np.isfinite(np.asarray(position, dtype=float)).all():
                st.caption(
                    " · ".join(
                        f"[{name}]({url})"
                        for name, url in links(row["ra"], row["dec"]).items()
                    )
                )


def _missing(file: str) -> str:
    """Why a galaxy's image is not shown."""
    if not file:
        return "no cutout for this dataset"
    if is_url(file):
        return "cutout not available now (offline, or the cutout server failed)"
    return "image unreadable"


def _short(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&])")


def plain(text: str) -> str:
    """``text`` escaped so that Streamlit shows it as typed: no Markdown, links,
    images or HTML from what a visitor typed or a catalogue holds."""
    return _MARKDOWN.sub(r"\\\1", str(text)).replace("\n", "  \n")


def label_source(dataset: str, visitor: Visitor, task: Task) -> LabelSource:
    """Where a fine-tuning run's labels come from. For classes: a catalogue
    column (with a threshold for numbers), a rater's ratings (the visitor's
    own; anyone's for whoever may see all), or galaxies marked in the
    explorer; for a fraction, a column of numbers in 0..1; for vote counts,
    the questions to learn (none chosen: all)."""
    if task == "fraction":
        column = st.selectbox(
            "Fraction to learn",
            cache.fraction_columns(dataset),
            key="finetune.fraction",
        )
        return LabelSource("column", column=column)
    if task == "votes":
        found = cache.vote_questions(dataset)
        if not found:
            st.info(
                "This catalogue has no vote counts (whole-number columns named "
                "question_answer, e.g. smooth-or-featured_smooth)."
            )
        questions = st.multiselect(
            "Questions (none chosen: every one)", found, key="finetune.questions"
        )
        return LabelSource("votes", questions=tuple(questions))
    kind = st.radio(
        "Labels from",
        list(SOURCE_LABELS),
        format_func=SOURCE_LABELS.get,
        horizontal=True,
        key="finetune.source",
    )
    cols = st.columns([2, 1])
    if kind == "column":
        column = cols[0].selectbox(
            "Column", cache.label_columns(dataset), key="finetune.column"
        )
        catalog = cache.catalog(dataset)
        numeric = column is not None and pd.api.types.is_float_dtype(catalog[column])
        threshold = cols[1].number_input(
            "Yes when value ≥",
            value=0.5,
            key="finetune.threshold",
            disabled=not numeric,
            help="For a number such as a vote fraction; 0/1, true/false or text "
            "columns need none.",
        )
        return LabelSource(
            "column", column=column, threshold=threshold if numeric else None
        )
    if kind == "ratings":
        raters = cache.rating_store(dataset).raters().set_index("rater")["name"]
        mine = {visitor.key: f"my ratings ({visitor.label})"}
        if access.policy().allows(visitor, "see_all"):
            mine |= {k: f"{n} ({k[:4]})" for k, n in raters.items() if k not in mine}
        rater = cols[0].selectbox(
            "Rater", list(mine), format_func=mine.get, key="finetune.rater"
        )
        positive_from = cols[1].number_input(
            "Yes from rating", 1, 5, 3, key="finetune.positive_from"
        )
        return LabelSource("ratings", rater=rater, positive_from=int(positive_from))
    selection = st.session_state.get("umap.selection")
    selection = [] if selection is None else selection  # ids: a list or a Series
    marked = st.session_state.setdefault("finetune.marked", {"yes": [], "no": []})
    cols = st.columns(3)
    cols[0].write(f"Explorer selection: {len(selection)} galaxies")
    for col, answer in zip(cols[1:], ("yes", "no"), strict=True):
        if col.button(f"Mark selection {answer}", key=f"finetune.mark_{answer}"):
            marked[answer] = sorted(set(marked[answer]) | set(selection))
    st.write(f"Marked: {len(marked['yes'])} yes, {len(marked['no'])} no.")
    return LabelSource(
        "ids", positive=tuple(marked["yes"]), negative=tuple(marked["no"])
    )


SOURCE_LABELS = {
    "column": "a catalogue column",
    "ratings": "a rater's ratings",
    "ids": "galaxies marked in the explorer",
}


def runs_monitor(dataset: str, visitor: Visitor) -> None:
    """The visitor's runs of the dataset (everyone's for whoever may see all):
    their table, the live curves of the selected ones (or the newest), failures,
    and each sweep's summary figure; redrawn every 2 s only while a run is
    queued or running."""
    runs = queue.list_runs(cache.dataset(dataset), visitor)
    active = bool(runs["state"].isin(["queued", "running"]).any())
    st.fragment(_runs_view, run_every=2.0 if active else None)(dataset, visitor, active)


def _runs_view(dataset: str, visitor: Visitor, was_active: bool) -> None:
    ds = cache.dataset(dataset)
    queue.start_queued(ds)
    runs = queue.list_runs(ds, visitor)
    active = bool(runs["state"].isin(["queued", "running"]).any())
    if was_active and not active:
        st.rerun()  # everything settled: redraw the page once, then stop polling
    if runs.empty:
        st.info("No runs yet: start one above.")
        return
    st.subheader("Runs")
    counts = runs["state"].value_counts()
    st.caption(
        " · ".join(f"{counts.get(s, 0)} {s}" for s in STATES)
        + " (select rows to overlay their curves)"
    )
    scores = st.column_config.NumberColumn(format="%.3f")
    table = st.dataframe(
        runs.drop(columns=["error", "created_at", "owner"]),
        hide_index=True,
        on_select="rerun",
        selection_mode="multi-row",
        key="finetune.table",
        column_config=dict.fromkeys(
            [
                "best_val_auc",
                "best_val_error",
                "test_accuracy",
                "test_auc",
                "test_error",
            ],
            scores,
        ),
    )
    for _, row in runs[runs["state"] == "failed"].iterrows():
        st.warning(f"Run {row['run_id']} failed: {row['error']}")
    chosen = runs.iloc[table.selection.rows] if table.selection.rows else runs.tail(1)
    histories = {r: queue.history(ds, r, visitor) for r in chosen["run_id"]}
    st.plotly_chart(curves_figure(histories), key="finetune.curves")
    votes = chosen[(chosen["task"] == "votes") & (chosen["state"] == "finished")]
    if len(votes):
        st.caption("Test vote-fraction error per question (mean absolute)")
        st.dataframe(
            queue.question_errors(ds, list(votes["run_id"]), visitor),
            column_config=dict.fromkeys(votes["run_id"], scores),
        )
    sweeps = [s for s in runs["sweep"].unique() if s]
    if sweeps:
        sweep_id = st.selectbox("Sweep", sweeps, key="finetune.sweep_view")
        summary = sweep_summary(runs, sweep_id)
        if summary.empty:
            st.info("No run of this sweep has finished yet.")
        else:
            st.plotly_chart(sweep_figure(summary), key="finetune.sweep_plot")
            st.dataframe(summary, hide_index=True)


QUERY_ROUTES = {  # the similarity page's ways to a query
    "tag": "Tag",
    "galaxy id": "Galaxy id",
    "sky position": "Sky position",
    "explorer": "From the explorer",
    "image": "Upload an image",
}


def similarity_query(
    tags: list[str], on_upload: Callable[[], None] | None = None
) -> tuple[str, str | None, UploadedFile | None]:
    """The query inputs of the similarity page: how (one of the dataset's
    ``tags``, an id, a sky position, the explorer's galaxy, an upload) and what.
    Returns the library's route (the explorer's galaxy is a "galaxy id"), the
    value and the upload;
    ``on_upload`` is called when a file is uploaded or removed."""
    from_explorer = st.session_state.get("similarity.from_explorer")
    if from_explorer:
        st.session_state["similarity.route"] = "explorer"
    route = st.radio(
        "Query by",
        list(QUERY_ROUTES),
        format_func=QUERY_ROUTES.get,
        horizontal=True,
        key="similarity.route",
    )
    value, upload = None, None
    if route == "tag":
        if tags:
            value = st.selectbox("Tag", tags, key="similarity.tag")
        else:
            st.info(
                "Nobody tagged galaxies in this dataset: query by id or image instead."
            )
    elif route == "galaxy id":
        value = st.text_input("Galaxy id or IAU name", key="similarity.id")
    elif route == "sky position":
        value = st.text_input(
            "RA Dec (degrees, sexagesimal or an IAU name)",
            placeholder="150.1 2.2 or 10:00:24 +02:12:00",
            key="similarity.position",
        )
    elif route == "explorer":
        value = from_explorer
        st.write(
            f"Galaxy chosen in the explorer: **{plain(value)}**"
            if value
            else "Choose a galaxy on the UMAP explorer page first."
        )
    else:
        limits = access.policy().limits
        upload = st.file_uploader(
            f"A galaxy image (JPEG/PNG, up to {limits.upload_bytes / 2**20:.0f} MB "
            f"and {limits.upload_pixels / 1e6:g} megapixels)",
            type=["jpg", "jpeg", "png"],
            key="similarity.upload",
            on_change=on_upload,
        )
    return ("galaxy id" if route == "explorer" else route), value, upload
