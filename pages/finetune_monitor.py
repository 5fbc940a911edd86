"""Fine-tune monitor: train a classifier for a new question from a few labels
(or regress a vote fraction, or learn the decision tree's vote counts), watch
the runs live, compare them, and use the result in the other tools."""

import streamlit as st

from morph_core import access
from morph_core.app import actions, cache, identity, routing, widgets
from morph_core.errors import MorphCoreError
from morph_core.model.weights import CHOICES
from morph_core.runs import queue
from morph_core.runs.sweep import sweep
from morph_core.training.config import (
    FINETUNE_STRATEGIES,
    SCHEDULES,
    TASKS,
    FinetuneConfig,
)

SWEEP_COUNTS = [4, 10, 20, 50, 100, 200]
INIT_LABELS = {"pretrained": "pretrained encoder", "random": "random init"}
STRATEGY_LABELS = {"head": "head only", "staged": "head, then unfreeze"}
SCHEDULE_LABELS = {"constant": "constant", "cosine": "cosine, 1 epoch warm-up"}
LR_DECAYS = [1.0, 0.75, 0.5]
TASK_LABELS = {
    "classify": "classes",
    "fraction": "a vote fraction",
    "votes": "the vote counts (decision tree)",
}

st.title("Fine-tune monitor")
st.caption(
    "Adapt the pretrained encoder (the one the dataset was prepared with) to a new "
    "question, e.g. rings, from a handful of labels (paper §4): the head first, then "
    "the encoder unfrozen from the top block down, early stopping, the best epoch "
    "kept. Runs train in their own process: close the page and they go on."
)
dataset = routing.require_dataset(routing.MONITOR)
ds = cache.dataset(dataset)
visitor = identity.visitor()
rules = access.policy()
table_only = ds.representation_only  # a published table: no images here
inits_here = ["pretrained"] if table_only else CHOICES

with st.expander("Start a run", expanded=True):
    if table_only:
        st.info(
            "This dataset is a table of features without images here: a run "
            "trains a head on those features (a few seconds)."
        )
    task = st.radio(
        "Learn",
        ["classify"] if table_only else TASKS,
        format_func=TASK_LABELS.get,
        horizontal=True,
        key="finetune.task",
        help="Classes: cross-entropy, scored by ROC AUC. A vote fraction: "
        "regression (mean squared error). Vote counts: every answer of the "
        "chosen questions at once, with the Dirichlet-multinomial likelihood of "
        "the votes (Walmsley et al. 2022); both scored by the mean vote-fraction "
        "error.",
    )
    source = widgets.label_source(dataset, visitor, task)
    cols = st.columns(4)
    n_per_class = cols[0].number_input(
        "Labels per class" if task == "classify" else "Labelled galaxies",
        2,
        rules.limits.labels_per_class,
        20,
        key="finetune.n_per_class",
    )
    init = cols[1].selectbox(
        "Start from", inits_here, key="finetune.init", format_func=INIT_LABELS.get
    )
    strategy = cols[2].selectbox(
        "Strategy",
        ["head"] if table_only else FINETUNE_STRATEGIES,
        index=0 if table_only else 1,
        key="finetune.strategy",
        format_func=STRATEGY_LABELS.get,
    )
    seed = cols[3].number_input("Seed", 0, 10_000, 0, key="finetune.seed")
    cols = st.columns(4)
    schedule = cols[0].selectbox(
        "Learning rate",
        SCHEDULES,
        key="finetune.schedule",
        format_func=SCHEDULE_LABELS.get,
    )
    lr_decay = cols[1].selectbox(
        "Rate per deeper block",
        LR_DECAYS,
        key="finetune.lr_decay",
        format_func=lambda d: "the same" if d == 1 else f"x {d:g}",
        disabled=strategy == "head",
        help="Each block unfrozen below the top trains at this times the rate of "
        "the one above it (layer-wise decay, as Zoobot offers).",
    )
    options = {"schedule": schedule, "lr_decay": float(lr_decay), "task": task}
    weights = ""
    if rules.allows(visitor, "weights_path") and not table_only:
        weights = st.text_input(
            "Or start from a weights file (optional path: .safetensors or a timm "
            "folder)",
            key="finetune.weights",
        )
    if st.button("Start run", type="primary", key="finetune.start"):
        try:
            config = FinetuneConfig(
                n_per_class=int(n_per_class),
                strategy=strategy,
                seed=int(seed),
                **options,
            )
            run_id = queue.submit(
                ds, source, config, weights.strip() or init, visitor=visitor
            )
            st.success(f"Run {run_id} queued.")
        except MorphCoreError as e:
            st.error(widgets.plain(f"Cannot start this run: {e}"))

with st.expander("Label-count sweep"):
    st.write(
        "Runs for each label count × initialisation × repeat, then test accuracy and "
        "AUC (regressions: vote-fraction error) against label count (the paper's "
        "ring figure), with the labels, task and strategy chosen above."
    )
    # a form: the choices go with the button, so a quick change made while the
    # page reruns is not lost, and an Enter in "Repeats" launches nothing
    with st.form("finetune.sweep_form", border=False, enter_to_submit=False):
        counts = st.multiselect(
            "Label counts (per class)" if task == "classify" else "Labelled galaxies",
            [2, *SWEEP_COUNTS],
            SWEEP_COUNTS,
            key="finetune.sweep_counts",
        )
        inits = st.multiselect(
            "Initialisations", inits_here, inits_here, key="finetune.sweep_inits"
        )
        repeats = st.number_input("Repeats", 1, 10, 3, key="finetune.sweep_repeats")
        launched = st.form_submit_button("Launch sweep", key="finetune.sweep")
    if launched:
        try:
            config = FinetuneConfig(strategy=strategy, **options)
            sweep_id, run_ids, dropped = sweep(
                ds, source, counts, inits, int(repeats), config, visitor
            )
            note = f" ({dropped} left out: too few labels)" if dropped else ""
            st.success(f"Sweep {sweep_id}: {len(run_ids)} runs queued{note}.")
        except MorphCoreError as e:
            st.error(widgets.plain(f"Cannot start this sweep: {e}"))


widgets.runs_monitor(dataset, visitor)

st.subheader("Act on runs")
runs = queue.list_runs(ds, visitor).set_index("run_id")
if not runs.empty:
    target = st.selectbox(
        "Run",
        runs.index[::-1],
        key="finetune.target",
        format_func=lambda r: f"{r} · {runs.loc[r, 'name']}",
    )
    cols = st.columns(3)
    if cols[0].button("Stop", key="finetune.stop"):
        queue.stop(ds, target, visitor)
        st.info(f"Run {target} will stop after its current epoch.")
    if cols[1].button("Apply to the whole dataset", key="finetune.apply"):
        try:
            columns = actions.apply_run(dataset, target, visitor)
            added = (
                f"column `{columns[0]}`"
                if len(columns) == 1
                else f"{len(columns)} columns (`{columns[0]}`, …)"
            )
            them = "it" if len(columns) == 1 else "them"
            st.success(
                f"Added {added}: colour the UMAP explorer by {them}, or filter "
                f"similar galaxies by {them}."
            )
        except MorphCoreError as e:
            st.error(widgets.plain(f"Cannot apply: {e}"))
    sure = cols[2].checkbox("I want to delete it", key="finetune.confirm_delete")
    if cols[2].button("Delete", key="finetune.delete", disabled=not sure):
        queue.delete(ds, target, visitor)
        st.rerun()
