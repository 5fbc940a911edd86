"""Fine-tune monitor: train a classifier for a new question from a few labels,
watch the runs live, compare them, and use the result in the other tools."""

import pandas as pd
import streamlit as st

from morph_core import app
from morph_core.errors import MorphCoreError
from morph_core.finetune import runs as finetune_runs
from morph_core.finetune.monitor import curves_figure, sweep_figure
from morph_core.finetune.train import STRATEGIES, FineTuneConfig

SWEEP_COUNTS = [4, 10, 20, 50, 100, 200]

st.title("Fine-tune monitor")
st.caption(
    "Adapt the pretrained encoder to a new question (e.g. rings) from a handful of "
    "labels (paper §4): the head first, then the encoder unfrozen from the top "
    "block down, early stopping, the best epoch kept. Runs train in their own "
    "process: close the page and they go on."
)
dataset = app.require_dataset("pages/finetune_monitor.py")
workspace = app.workspace(dataset)
catalog = app.catalog(dataset)

with st.expander("Start a run", expanded=True):
    source_kind = st.radio(
        "Labels from",
        ["column", "ratings", "ids"],
        format_func={
            "column": "a catalogue column",
            "ratings": "a rater's ratings",
            "ids": "galaxies marked in the explorer",
        }.get,
        horizontal=True,
        key="finetune.source",
    )
    source = None
    if source_kind == "column":
        cols = st.columns([2, 1])
        column = cols[0].selectbox(
            "Column", app.label_columns(dataset), key="finetune.column"
        )
        numeric = column is not None and pd.api.types.is_float_dtype(catalog[column])
        threshold = cols[1].number_input(
            "Yes when value ≥",
            value=0.5,
            key="finetune.threshold",
            disabled=not numeric,
            help="For a number such as a vote fraction; 0/1, true/false or text "
            "columns need none.",
        )
        source = finetune_runs.LabelSource(
            "column", column=column, threshold=threshold if numeric else None
        )
    elif source_kind == "ratings":
        cols = st.columns([2, 1])
        rater = cols[0].text_input("Rater name", key="finetune.rater")
        positive_from = cols[1].number_input(
            "Yes from rating", 1, 5, 3, key="finetune.positive_from"
        )
        source = finetune_runs.LabelSource(
            "ratings", rater=rater.strip(), positive_from=int(positive_from)
        )
    else:
        selection = st.session_state.get("umap.selection") or []
        marked = st.session_state.setdefault("finetune.marked", {"yes": [], "no": []})
        cols = st.columns(3)
        cols[0].write(f"Explorer selection: {len(selection)} galaxies")
        if cols[1].button("Mark selection yes", key="finetune.mark_yes"):
            marked["yes"] = sorted(set(marked["yes"]) | set(selection))
        if cols[2].button("Mark selection no", key="finetune.mark_no"):
            marked["no"] = sorted(set(marked["no"]) | set(selection))
        st.write(f"Marked: {len(marked['yes'])} yes, {len(marked['no'])} no.")
        source = finetune_runs.LabelSource(
            "ids", positive=tuple(marked["yes"]), negative=tuple(marked["no"])
        )
    cols = st.columns(4)
    n_per_class = cols[0].number_input(
        "Labels per class", 2, 5000, 20, key="finetune.n_per_class"
    )
    init = cols[1].selectbox(
        "Start from",
        ["pretrained", "random"],
        key="finetune.init",
        format_func={"pretrained": "pretrained encoder", "random": "random init"}.get,
    )
    strategy = cols[2].selectbox(
        "Strategy",
        STRATEGIES,
        index=1,
        key="finetune.strategy",
        format_func={"head": "head only", "staged": "head, then unfreeze"}.get,
    )
    seed = cols[3].number_input("Seed", 0, 10_000, 0, key="finetune.seed")
    weights = st.text_input(
        "Or start from a weights file (optional path: .safetensors or a timm folder)",
        key="finetune.weights",
    )
    if st.button("Start run", type="primary", key="finetune.start"):
        try:
            config = FineTuneConfig(
                n_per_class=int(n_per_class), strategy=strategy, seed=int(seed)
            )
            run_id = finetune_runs.submit(
                workspace, source, config, weights.strip() or init
            )
            st.success(f"Run {run_id} queued.")
        except MorphCoreError as e:
            st.error(f"Cannot start this run: {e}")


with st.expander("Label-count sweep"):
    st.write(
        "Runs for each label count × initialisation × repeat, then test "
        "accuracy and AUC against label count (the paper's ring figure), with the "
        "labels and strategy chosen above."
    )
    counts = st.multiselect(
        "Label counts (per class)",
        [2, *SWEEP_COUNTS],
        SWEEP_COUNTS,
        key="finetune.sweep_counts",
    )
    inits = st.multiselect(
        "Initialisations",
        ["pretrained", "random"],
        ["pretrained", "random"],
        key="finetune.sweep_inits",
    )
    repeats = st.number_input("Repeats", 1, 10, 3, key="finetune.sweep_repeats")
    if st.button("Launch sweep", key="finetune.sweep"):
        try:
            sweep_id, run_ids, dropped = finetune_runs.sweep(
                workspace,
                source,
                counts,
                inits,
                int(repeats),
                FineTuneConfig(strategy=strategy),
            )
            note = f" ({dropped} left out: too few labels)" if dropped else ""
            st.success(f"Sweep {sweep_id}: {len(run_ids)} runs queued{note}.")
        except MorphCoreError as e:
            st.error(f"Cannot start this sweep: {e}")


@st.fragment(run_every=2.0)
def monitor() -> None:
    runs = finetune_runs.list_runs(workspace)
    if runs.empty:
        st.info("No runs yet: start one above.")
        return
    st.subheader("Runs")
    counts = runs["state"].value_counts()
    st.caption(
        " · ".join(f"{counts.get(s, 0)} {s}" for s in finetune_runs.STATES)
        + " (select rows to overlay their curves)"
    )
    table = st.dataframe(
        runs.drop(columns=["error", "created_at"]),
        hide_index=True,
        on_select="rerun",
        selection_mode="multi-row",
        key="finetune.table",
        column_config={
            "best_val_auc": st.column_config.NumberColumn(format="%.3f"),
            "test_accuracy": st.column_config.NumberColumn(format="%.3f"),
            "test_auc": st.column_config.NumberColumn(format="%.3f"),
        },
    )
    failed = runs[runs["state"] == "failed"]
    for _, row in failed.iterrows():
        st.warning(f"Run {row['run_id']} failed: {row['error']}")
    chosen = runs.iloc[table.selection.rows] if table.selection.rows else runs.tail(1)
    histories = {
        row["run_id"]: finetune_runs.metrics(workspace.file(f"runs/{row['run_id']}"))
        for _, row in chosen.iterrows()
    }
    st.plotly_chart(curves_figure(histories), key="finetune.curves")
    sweeps = [s for s in runs["sweep"].unique() if s]
    if sweeps:
        sweep_id = st.selectbox("Sweep", sweeps, key="finetune.sweep_view")
        summary = finetune_runs.sweep_summary(runs, sweep_id)
        if summary.empty:
            st.info("No run of this sweep has finished yet.")
        else:
            st.plotly_chart(sweep_figure(summary), key="finetune.sweep_plot")
            st.dataframe(summary, hide_index=True)


monitor()

st.subheader("Act on runs")
runs = finetune_runs.list_runs(workspace)
if not runs.empty:
    target = st.selectbox(
        "Run",
        runs["run_id"].tolist()[::-1],
        key="finetune.target",
        format_func=lambda r: f"{r} · {runs.set_index('run_id').loc[r, 'name']}",
    )
    cols = st.columns(3)
    if cols[0].button("Stop", key="finetune.stop"):
        finetune_runs.stop(workspace, target)
        st.info(f"Run {target} will stop after its current epoch.")
    if cols[1].button("Apply to the whole dataset", key="finetune.apply"):
        bar = st.progress(0.0, text="Predicting every galaxy…")
        try:
            column = finetune_runs.apply(
                workspace, target, lambda done, total: bar.progress(done / total)
            )
            st.success(
                f"Added column `{column}`: colour the UMAP explorer by it, or filter "
                "similar galaxies by it."
            )
        except MorphCoreError as e:
            st.error(f"Cannot apply: {e}")
        finally:
            bar.empty()
    with cols[2]:
        sure = st.checkbox("I want to delete it", key="finetune.confirm_delete")
        if st.button("Delete", key="finetune.delete", disabled=not sure):
            finetune_runs.delete(workspace, target)
            st.rerun()
