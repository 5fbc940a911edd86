"""The run queue: submit, start, stop, delete and list a dataset's runs.

A worker is a separate process (``python -m morph_core.runs.worker <run folder>``,
its own session), so a run goes on when the browser closes. At most
:func:`morph_core.settings.run_workers` train at once (one on a 2-core server);
the rest wait, started by whoever looks next (a page, or a worker that just
finished).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from filelock import FileLock

from morph_core import access
from morph_core.access import OPERATOR, Refused, Visitor
from morph_core.data.manifest import load_manifest
from morph_core.dataset import PreparedDataset
from morph_core.errors import MorphCoreError
from morph_core.model.spec import EncoderSpec
from morph_core.model.weights import CHOICES, PRETRAINED, resolve_encoder
from morph_core.runs.folder import WORKER_MODULE, RunFolder, now, seconds_between
from morph_core.runs.sources import LabelSource
from morph_core.settings import PROJECT_ROOT, run_workers
from morph_core.training.config import FinetuneConfig

COLUMNS = (
    "run_id",
    "name",
    "owner",
    "state",
    "init",
    "strategy",
    "task",
    "n_per_class",
    "seed",
    "sweep",
    "epochs",
    "best_val_auc",
    "best_val_error",
    "test_accuracy",
    "test_auc",
    "test_error",
    "seconds",
    "error",
    "created_at",
)


def submit(
    dataset: PreparedDataset,
    source: LabelSource,
    config: FinetuneConfig,
    init: str = "pretrained",
    name: str = "",
    sweep: str = "",
    launch: bool = True,
    encoder: EncoderSpec | None = None,
    visitor: Visitor = OPERATOR,
    counted: bool = False,
) -> str:
    """Queue a run, checked first (bad labels or weights, or a quota of the
    hosting policy, fail here, not in the worker); it starts at once when a
    slot is free. Returns the run id.

    Parameters
    ----------
    init : str
        The weights choice (:func:`~morph_core.model.weights.resolve_encoder`):
        "pretrained" is the encoder the dataset was prepared with.
    encoder : EncoderSpec, optional
        ``init`` already resolved (a sweep resolves each init once).
    visitor : Visitor
        Who asks: the run is theirs (only they and admins see and act on it).
    counted : bool
        The queue quota was already checked for this run (a sweep checks all
        its runs at once, holding :func:`queue_lock`).

    Raises
    ------
    Refused
        Over a quota (labels per class, runs per visitor, the whole queue), or
        a weights file asked for by a visitor of a public server.
    """
    rules = access.policy()
    if config.n_per_class > rules.limits.labels_per_class:
        raise Refused(
            f"At most {rules.limits.labels_per_class} labels per class here "
            f"(asked for {config.n_per_class})."
        )
    if init not in CHOICES:
        rules.require(visitor, "weights_path")
    if source.kind == "ratings" and not rules.sees(visitor, source.rater):
        raise Refused("A run may learn only from your own ratings here.")
    catalog = dataset.catalog()
    labels = source.targets(dataset, catalog, config.task)
    labels.split(config.n_per_class, config.seed, config.draw)
    if encoder is None:
        encoder = run_encoder(dataset, init, config)
    created = datetime.now(UTC)
    run_id = created.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    folder = RunFolder(dataset.run_folder(run_id))
    with queue_lock(dataset):
        if not counted:
            check_queue(dataset, visitor, 1)
        folder.write_request(
            {
                "run_id": run_id,
                "name": name or _run_name(source, config, init),
                "dataset": dataset.name,
                "workspace": str(dataset.path),
                "source": vars(source),
                "config": vars(config),
                "init": init,
                "encoder": vars(encoder) if encoder is not None else None,
                "sweep": sweep,
                "owner": visitor.key,
                "owner_name": visitor.name,
                "created_at": created.isoformat(timespec="milliseconds"),
            }
        )
        folder.write_status({"state": "queued"})
    if launch:
        start_queued(dataset)
    return run_id


def run_encoder(
    dataset: PreparedDataset, init: str, config: FinetuneConfig
) -> EncoderSpec | None:
    """The encoder a run starts from (``init`` as for
    :func:`~morph_core.model.weights.resolve_encoder`). A table of features has
    no images here: its runs train a head on its features, from the encoder
    that made them (``None`` when this server does not have it).

    Raises
    ------
    Refused
        Another run than a head from the pretrained encoder, on such a table.
    """
    if dataset.representation_only:
        if init != PRETRAINED or config.strategy != "head":
            raise Refused(
                "This dataset is a table of features, without images here: runs "
                "train a head on its features (strategy 'head only', from the "
                "pretrained encoder)."
            )
        return dataset.known_encoder()
    return resolve_encoder(init, load_manifest(), dataset.encoder_spec())


def _run_name(source: LabelSource, config: FinetuneConfig, init: str) -> str:
    options = config.describe()
    return f"{source.describe()}, {config.labels_text()}, {init}" + (
        f", {options}" if options else ""
    )


def queue_lock(dataset: PreparedDataset) -> FileLock:
    """The dataset's queue lock (one object per file: re-entrant in a process)."""
    root = dataset.runs_folder()
    root.mkdir(parents=True, exist_ok=True)
    return FileLock(str(root / ".queue.lock"), timeout=30, is_singleton=True)


def check_queue(dataset: PreparedDataset, visitor: Visitor, n_new: int) -> None:
    """Refuse ``n_new`` more runs of ``visitor`` over the policy's quotas (call
    it holding :func:`queue_lock`)."""
    limits = access.policy().limits
    if visitor.role == "admin" or limits.runs_per_visitor is None:
        return
    runs = list_runs(dataset)
    waiting = runs[runs["state"].isin(["queued", "running"])]
    mine = int((waiting["owner"] == visitor.key).sum())
    if mine + n_new > limits.runs_per_visitor:
        raise Refused(
            f"You have {mine} run(s) queued or running; at most "
            f"{limits.runs_per_visitor} at once here. Wait for one to finish, or "
            "stop one."
        )
    queued = int((runs["state"] == "queued").sum())
    if limits.queue_total is not None and queued + n_new > limits.queue_total:
        raise Refused(
            f"The queue is full ({queued} runs waiting). Try again in a few minutes."
        )


def start_queued(dataset: PreparedDataset) -> list[str]:
    """Start queued runs while fewer than :func:`~morph_core.settings.run_workers`
    are training, fairly (:func:`_fair_picks`), each in a new worker process."""
    with queue_lock(dataset):
        runs = list_runs(dataset)
        started = _fair_picks(dataset, runs, run_workers() - _n_running(runs))
        for run_id in started:
            _launch(RunFolder(dataset.run_folder(run_id)))
    return started


def claim_next(dataset: PreparedDataset, worker: Path) -> RunFolder | None:
    """The run a worker that just finished one trains next, in its own process
    (torch and the encoder stay loaded: a head-only run then takes about a
    second, not the five of a new process); ``None`` when none waits or the
    slot is not free. ``worker`` is the folder the worker was started for.
    """
    with queue_lock(dataset):
        runs = list_runs(dataset)
        picks = _fair_picks(dataset, runs, min(1, run_workers() - _n_running(runs)))
        if not picks:
            return None
        folder = RunFolder(dataset.run_folder(picks[0]))
        folder.write_status(
            {
                "state": "running",
                "pid": os.getpid(),
                "worker": str(worker),
                "started_at": now(),
            }
        )
        return folder


def _n_running(runs: pd.DataFrame) -> int:
    return int((runs["state"] == "running").sum())


def _fair_picks(dataset: PreparedDataset, runs: pd.DataFrame, slots: int) -> list[str]:
    """Up to ``slots`` queued runs to start now, fairly: round-robin over the
    visitors who wait (whoever started a run least recently goes first), one
    running run per visitor while others wait, oldest run first within a
    visitor."""
    busy = set(runs[runs["state"] == "running"]["owner"])
    last_start = _last_starts(dataset, runs)
    queued = runs[runs["state"] == "queued"].sort_values("created_at", kind="stable")
    picks: list[str] = []
    while len(picks) < slots and len(queued):
        free = queued[~queued["owner"].isin(busy)]
        pool = free if len(free) else queued
        owner = min(pool["owner"].unique(), key=lambda o: last_start.get(o, ""))
        run_id = pool[pool["owner"] == owner]["run_id"].iloc[0]
        picks.append(run_id)
        busy.add(owner)
        last_start[owner] = now()
        queued = queued[queued["run_id"] != run_id]
    return picks


def _last_starts(dataset: PreparedDataset, runs: pd.DataFrame) -> dict[str, str]:
    """When each owner's newest run started (ISO time; never: absent)."""
    starts: dict[str, str] = {}
    for run_id, owner in zip(runs["run_id"], runs["owner"], strict=True):
        started = RunFolder(dataset.run_folder(run_id)).status().get("started_at")
        if started and started > starts.get(owner, ""):
            starts[owner] = started
    return starts


def _launch(folder: RunFolder) -> None:
    log = open(folder.log_file, "ab")  # noqa: SIM115 - handed to the child
    process = subprocess.Popen(
        [sys.executable, "-m", WORKER_MODULE, str(folder.path)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=PROJECT_ROOT,
    )
    log.close()
    folder.write_status({"state": "running", "pid": process.pid, "started_at": now()})


def run_folder(
    dataset: PreparedDataset, run_id: str, visitor: Visitor = OPERATOR
) -> RunFolder:
    """The folder of an existing run that ``visitor`` may see.

    Raises
    ------
    MorphCoreError
        No such run in this dataset, or another visitor's (the same message:
        whether someone else's run exists is not told).
    """
    folder = RunFolder(dataset.run_folder(run_id))
    owner = (folder.request() or {}).get("owner", "")
    if not folder.exists() or not access.policy().sees(visitor, owner):
        raise MorphCoreError(f"no run {run_id!r} in {dataset.name!r}")
    return folder


def history(
    dataset: PreparedDataset, run_id: str, visitor: Visitor = OPERATOR
) -> pd.DataFrame:
    """A run's epoch records so far."""
    return run_folder(dataset, run_id, visitor).history()


def list_runs(dataset: PreparedDataset, visitor: Visitor = OPERATOR) -> pd.DataFrame:
    """One row per run ``visitor`` may see: id, name, owner, state, config, best
    validation and test scores (AUC and accuracy for classes; for regressions
    ``error``, the mean absolute vote-fraction error)."""
    rules = access.policy()
    root = dataset.runs_folder()
    rows = []
    for path in sorted(root.glob("*/")) if root.exists() else []:
        folder = RunFolder(path)
        request = folder.request()
        if request is None or not rules.sees(visitor, request.get("owner", "")):
            continue
        state = folder.status()
        epochs = folder.history()
        best = epochs[epochs["best"]].tail(1) if "best" in epochs else epochs
        test = state.get("test", {})
        rows.append(
            {
                "run_id": request["run_id"],
                "name": request["name"],
                "owner": request.get("owner", ""),
                "state": state["state"],
                "init": request["init"],
                "strategy": request["config"]["strategy"],
                "task": request["config"].get("task", "classify"),
                "n_per_class": request["config"]["n_per_class"],
                "seed": request["config"]["seed"],
                "sweep": request.get("sweep", ""),
                "epochs": len(epochs),
                "best_val_auc": _best(best, "val_auc"),
                "best_val_error": _best(best, "val_error"),
                "test_accuracy": test.get("accuracy", np.nan),
                "test_auc": test.get("auc", np.nan),
                "test_error": test.get("error", np.nan),
                "seconds": seconds_between(
                    state.get("started_at"), state.get("finished_at")
                ),
                "error": state.get("error", ""),
                "created_at": request["created_at"],
            }
        )
    return pd.DataFrame(rows, columns=list(COLUMNS))


def question_errors(
    dataset: PreparedDataset, run_ids: list[str], visitor: Visitor = OPERATOR
) -> pd.DataFrame:
    """The test vote-fraction error per question (rows) of finished vote-count
    runs (columns)."""
    errors = {}
    for run_id in run_ids:
        test = run_folder(dataset, run_id, visitor).status().get("test", {})
        errors[run_id] = {
            k.split("/", 1)[1]: v for k, v in test.items() if k.startswith("error/")
        }
    return pd.DataFrame(errors)


def _best(best: pd.DataFrame, metric: str) -> float:
    """The best epoch's ``metric`` (NaN: no epoch yet, or not this task's)."""
    return float(best[metric].iloc[0]) if len(best) and metric in best else np.nan


def stop(dataset: PreparedDataset, run_id: str, visitor: Visitor = OPERATOR) -> None:
    """Ask a run to stop after its current epoch (a queued run stops at once)."""
    folder = run_folder(dataset, run_id, visitor)
    state = folder.status()
    if state["state"] == "queued":
        folder.write_status({"state": "stopped", "finished_at": now()})
    elif state["state"] == "running":
        folder.request_stop()


def delete(dataset: PreparedDataset, run_id: str, visitor: Visitor = OPERATOR) -> None:
    """Remove a run (a running one is stopped first) and its predictions."""
    stop(dataset, run_id, visitor)
    dataset.delete_run(run_id)
