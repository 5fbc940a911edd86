"""The run queue: submit, start, stop, delete and list a dataset's runs.

A worker is a separate process (``python -m morph_core.runs.worker <run folder>``,
its own session), so a run goes on when the browser closes. At most
:func:`morph_core.settings.run_workers` train at once (one on a 2-core server);
the rest wait, started by whoever looks next (a page, or a worker that just
finished).
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from filelock import FileLock

from morph_core.data.manifest import load_manifest
from morph_core.dataset import PreparedDataset
from morph_core.errors import MorphCoreError
from morph_core.model.spec import EncoderSpec
from morph_core.model.weights import resolve_encoder
from morph_core.runs.folder import WORKER_MODULE, RunFolder, now, seconds_between
from morph_core.runs.sources import LabelSource
from morph_core.settings import PROJECT_ROOT, run_workers
from morph_core.training.config import FinetuneConfig
from morph_core.training.labels import balanced_split

COLUMNS = (
    "run_id",
    "name",
    "state",
    "init",
    "strategy",
    "n_per_class",
    "seed",
    "sweep",
    "epochs",
    "best_val_auc",
    "test_accuracy",
    "test_auc",
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
) -> str:
    """Queue a run, checked first (bad labels or weights fail here, not in the
    worker); it starts at once when a slot is free. Returns the run id.

    Parameters
    ----------
    init : str
        The weights choice (:func:`~morph_core.model.weights.resolve_encoder`):
        "pretrained" is the encoder the dataset was prepared with.
    encoder : EncoderSpec, optional
        ``init`` already resolved (a sweep resolves each init once).
    """
    catalog = dataset.catalog()
    labels = source.labels(dataset, catalog)
    balanced_split(labels, config.n_per_class, config.seed)
    if encoder is None:
        encoder = resolve_encoder(init, load_manifest(), dataset.encoder_spec())
    run_id = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    folder = RunFolder(dataset.run_folder(run_id))
    folder.write_request(
        {
            "run_id": run_id,
            "name": name or f"{source.describe()}, {config.n_per_class}/class, {init}",
            "dataset": dataset.name,
            "workspace": str(dataset.path),
            "source": vars(source),
            "config": vars(config),
            "init": init,
            "encoder": vars(encoder),
            "sweep": sweep,
            "created_at": now(),
        }
    )
    folder.write_status({"state": "queued"})
    if launch:
        start_queued(dataset)
    return run_id


def start_queued(dataset: PreparedDataset) -> list[str]:
    """Start queued runs while fewer than :func:`~morph_core.settings.run_workers`
    are training."""
    started = []
    root = dataset.runs_folder()
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / ".queue.lock"), timeout=30):
        runs = list_runs(dataset)
        running = int((runs["state"] == "running").sum())
        queued = runs[runs["state"] == "queued"].sort_values("created_at")
        for run_id in queued["run_id"]:
            if running >= run_workers():
                break
            _launch(RunFolder(dataset.run_folder(run_id)))
            running += 1
            started.append(run_id)
    return started


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


def run_folder(dataset: PreparedDataset, run_id: str) -> RunFolder:
    """The folder of an existing run.

    Raises
    ------
    MorphCoreError
        No such run in this dataset.
    """
    folder = RunFolder(dataset.run_folder(run_id))
    if not folder.exists():
        raise MorphCoreError(f"no run {run_id!r} in {dataset.name!r}")
    return folder


def history(dataset: PreparedDataset, run_id: str) -> pd.DataFrame:
    """A run's epoch records so far."""
    return run_folder(dataset, run_id).history()


def list_runs(dataset: PreparedDataset) -> pd.DataFrame:
    """One row per run: id, name, state, config, best validation and test scores."""
    root = dataset.runs_folder()
    rows = []
    for path in sorted(root.glob("*/")) if root.exists() else []:
        folder = RunFolder(path)
        request = folder.request()
        if request is None:
            continue
        state = folder.status()
        epochs = folder.history()
        best = epochs[epochs["best"]].tail(1) if "best" in epochs else epochs
        test = state.get("test", {})
        rows.append(
            {
                "run_id": request["run_id"],
                "name": request["name"],
                "state": state["state"],
                "init": request["init"],
                "strategy": request["config"]["strategy"],
                "n_per_class": request["config"]["n_per_class"],
                "seed": request["config"]["seed"],
                "sweep": request.get("sweep", ""),
                "epochs": len(epochs),
                "best_val_auc": float(best["val_auc"].iloc[0]) if len(best) else np.nan,
                "test_accuracy": test.get("accuracy", np.nan),
                "test_auc": test.get("auc", np.nan),
                "seconds": seconds_between(
                    state.get("started_at"), state.get("finished_at")
                ),
                "error": state.get("error", ""),
                "created_at": request["created_at"],
            }
        )
    return pd.DataFrame(rows, columns=list(COLUMNS))


def stop(dataset: PreparedDataset, run_id: str) -> None:
    """Ask a run to stop after its current epoch (a queued run stops at once)."""
    folder = run_folder(dataset, run_id)
    state = folder.status()
    if state["state"] == "queued":
        folder.write_status({"state": "stopped", "finished_at": now()})
    elif state["state"] == "running":
        folder.request_stop()


def delete(dataset: PreparedDataset, run_id: str) -> None:
    """Remove a run (a running one is stopped first) and its predictions."""
    stop(dataset, run_id)
    dataset.delete_run(run_id)
