"""Label-count sweeps: runs for every label count x initialisation x repeat,
summarised as test AUC and accuracy against labels per class (the paper's ring
figure, §4.2, for any question)."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pandas as pd

from morph_core import access
from morph_core.access import OPERATOR, Refused, Visitor
from morph_core.dataset import PreparedDataset
from morph_core.errors import MorphCoreError
from morph_core.runs.queue import (
    check_queue,
    queue_lock,
    run_encoder,
    start_queued,
    submit,
)
from morph_core.runs.sources import LabelSource
from morph_core.training.config import FinetuneConfig
from morph_core.training.labels import LabelError


def sweep(
    dataset: PreparedDataset,
    source: LabelSource,
    counts: list[int],
    inits: list[str],
    repeats: int,
    config: FinetuneConfig,
    visitor: Visitor = OPERATOR,
) -> tuple[str, list[str], list[int]]:
    """Queue the runs of a sweep for ``visitor``. Counts more than the labels
    allow are left out and returned. Returns the sweep id, the run ids and the
    counts left out.

    Raises
    ------
    Refused
        More runs than the policy's sweep size, or than the visitor's quota.
    """
    labels = source.targets(dataset, dataset.catalog(), config.task)
    usable, dropped = [], []
    for n in counts:
        try:
            labels.split(n, 0)
            usable.append(n)
        except LabelError:
            dropped.append(n)
    if not usable:
        raise MorphCoreError(
            f"no label count in {counts} fits the labels {labels.counts()}"
        )
    n_runs = repeats * len(usable) * len(inits)
    limit = access.policy().limits.sweep_runs
    if limit is not None and visitor.role != "admin" and n_runs > limit:
        raise Refused(
            f"A sweep may queue at most {limit} runs here; this one is {n_runs} "
            "(fewer label counts, initialisations or repeats)."
        )
    encoders = {init: run_encoder(dataset, init, config) for init in inits}
    sweep_id = "sweep-" + uuid.uuid4().hex[:6]
    with queue_lock(dataset):
        check_queue(dataset, visitor, n_runs)
        run_ids = []
        for seed in range(repeats):
            for n in usable:
                run_config = replace(config, n_per_class=n, seed=seed)
                name = f"{source.describe()}, {run_config.labels_text()}"
                run_ids += [
                    submit(
                        dataset,
                        source,
                        run_config,
                        init,
                        name=f"{name}, {init}, seed {seed}",
                        sweep=sweep_id,
                        launch=False,
                        encoder=encoders[init],
                        visitor=visitor,
                        counted=True,
                    )
                    for init in inits
                ]
    start_queued(dataset)
    return sweep_id, run_ids, dropped


def sweep_summary(runs: pd.DataFrame, sweep_id: str) -> pd.DataFrame:
    """:func:`summarise` of the sweep's finished runs."""
    return summarise(runs[(runs["sweep"] == sweep_id) & (runs["state"] == "finished")])


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """Per init and label count: the mean and std of ``test_auc``,
    ``test_accuracy`` and ``test_error`` (regressions), those ``runs`` has,
    e.g. ``test_auc_mean``, and ``n_runs``."""
    metrics = [m for m in ("test_auc", "test_accuracy", "test_error") if m in runs]
    groups = runs.groupby(["init", "n_per_class"])
    table = groups[metrics].agg(["mean", "std"])
    table.columns = [f"{metric}_{stat}" for metric, stat in table.columns]
    table["n_runs"] = groups.size()
    return table.reset_index()
