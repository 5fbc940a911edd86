"""Fine-tuning runs as folders in the workspace, trained by worker processes.

``runs/<run_id>/`` holds ``request.json`` (what to train), ``status.json``
(queued, running, finished, failed, stopped), ``metrics.jsonl`` (one line per
epoch, appended as the worker goes), ``log.txt`` and, when finished,
``model.safetensors`` + ``run.json``. A worker is a separate process
(``python -m morph_core.finetune.worker <run folder>``, its own session), so a run
goes on when the browser closes; at most :data:`MAX_RUNNING` train at once and
the rest wait in the queue, started by whoever looks next (a page or a worker
that just finished). A worker that died is reported as failed, not running.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from filelock import FileLock

from morph_core.errors import MorphCoreError
from morph_core.finetune.labels import (
    Labels,
    labels_from_column,
    labels_from_ids,
    labels_from_ratings,
)
from morph_core.finetune.train import FineTuneConfig, Run
from morph_core.progress import ProgressFn
from morph_core.workspace import PREDICTIONS, Workspace

MAX_RUNNING = 1  # 2 cores: one training process uses both
RUNS = "runs"
STATES = ("queued", "running", "finished", "failed", "stopped")


@dataclass(frozen=True)
class LabelSource:
    """Where a run's labels come from: a column, a rater's ratings, or ids."""

    kind: str  # "column" | "ratings" | "ids"
    column: str | None = None
    threshold: float | None = None
    rater: str | None = None
    positive_from: int = 3
    positive: tuple[str, ...] = ()
    negative: tuple[str, ...] = ()

    def labels(self, workspace: Workspace, catalog: pd.DataFrame) -> Labels:
        if self.kind == "column":
            return labels_from_column(catalog, str(self.column), self.threshold)
        if self.kind == "ratings":
            from morph_core.ratings import RatingStore

            store = RatingStore(workspace.file("ratings.sqlite"))
            return labels_from_ratings(
                catalog, store.ratings(str(self.rater)), self.positive_from
            )
        if self.kind == "ids":
            return labels_from_ids(catalog, list(self.positive), list(self.negative))
        raise MorphCoreError(f"unknown label source {self.kind!r}")

    def describe(self) -> str:
        if self.kind == "column":
            return self.column + (
                f" >= {self.threshold:g}" if self.threshold is not None else ""
            )
        if self.kind == "ratings":
            return f"ratings of {self.rater} (>= {self.positive_from} is yes)"
        return f"{len(self.positive)} marked yes, {len(self.negative)} marked no"


def submit(
    workspace: Workspace,
    source: LabelSource,
    config: FineTuneConfig,
    init: str = "pretrained",
    name: str = "",
    sweep: str = "",
    launch: bool = True,
    check_init: bool = True,
) -> str:
    """Queue a run (checked first: bad labels fail here, not in the worker);
    starts it at once when a slot is free. Returns the run id."""
    from morph_core.encoder import build_encoder
    from morph_core.finetune.labels import balanced_split
    from morph_core.finetune.train import resolve_init

    catalog = workspace.catalog()
    labels = source.labels(workspace, catalog)
    balanced_split(labels, config.n_per_class, config.seed)
    if check_init:  # wrong or unsafe weights fail here, not in the worker
        build_encoder(resolve_init(init))
    run_id = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    folder = workspace.file(f"{RUNS}/{run_id}")
    folder.mkdir(parents=True)
    request = {
        "run_id": run_id,
        "name": name or f"{source.describe()}, {config.n_per_class}/class, {init}",
        "dataset": workspace.name,
        "workspace": str(workspace.path),
        "source": vars(source)
        | {"positive": list(source.positive), "negative": list(source.negative)},
        "config": vars(config),
        "init": init,
        "sweep": sweep,
        "created_at": _now(),
    }
    _write(folder / "request.json", request)
    _write(folder / "status.json", {"state": "queued"})
    if launch:
        start_queued(workspace)
    return run_id


def start_queued(workspace: Workspace) -> list[str]:
    """Start queued runs while fewer than :data:`MAX_RUNNING` are training."""
    started = []
    root = workspace.file(RUNS)
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / ".queue.lock"), timeout=30):
        runs = list_runs(workspace)
        running = int((runs["state"] == "running").sum()) if len(runs) else 0
        queued = (
            runs[runs["state"] == "queued"].sort_values("created_at")
            if len(runs)
            else runs
        )
        for run_id in queued["run_id"] if len(queued) else []:
            if running >= MAX_RUNNING:
                break
            _launch(root / run_id)
            running += 1
            started.append(run_id)
    return started


def _launch(folder: Path) -> None:
    log = open(folder / "log.txt", "ab")  # noqa: SIM115 - handed to the child
    process = subprocess.Popen(
        [sys.executable, "-m", "morph_core.finetune.worker", str(folder)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    log.close()
    _write(
        folder / "status.json",
        {"state": "running", "pid": process.pid, "started_at": _now()},
    )


def status(folder: Path) -> dict:
    """The run's status; a "running" run whose worker is gone becomes "failed"."""
    state = _read(folder / "status.json") or {"state": "failed", "error": "no status"}
    if state["state"] == "running" and not _alive(state.get("pid"), folder):
        time.sleep(0.2)  # the worker may be writing its last status right now
        state = _read(folder / "status.json") or state
        if state["state"] == "running" and not _alive(state.get("pid"), folder):
            state = state | {
                "state": "failed",
                "error": "the worker process died (killed or out of memory)",
                "finished_at": _now(),
            }
            _write(folder / "status.json", state)
    return state


def _alive(pid: int | None, folder: Path) -> bool:
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:  # the pid may have been reused by another program
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return True
    if "morph_core.finetune.worker" not in cmdline or str(folder) not in cmdline:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text().split()
    return stat[2] != "Z"  # a zombie has finished


def metrics(folder: Path) -> pd.DataFrame:
    """Epoch records so far (empty before the first epoch)."""
    path = folder / "metrics.jsonl"
    if not path.exists():
        return pd.DataFrame()
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return pd.DataFrame(lines)


def list_runs(workspace: Workspace) -> pd.DataFrame:
    """One row per run: id, name, state, config, best validation and test scores."""
    root = workspace.file(RUNS)
    rows = []
    for folder in sorted(root.glob("*/")) if root.exists() else []:
        request = _read(folder / "request.json")
        if request is None:
            continue
        state = status(folder)
        history = metrics(folder)
        best = (
            history[history["best"]].tail(1)
            if len(history) and "best" in history
            else history.tail(0)
        )
        test = state.get("test", {})
        started, finished = state.get("started_at"), state.get("finished_at")
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
                "epochs": len(history),
                "best_val_auc": float(best["val_auc"].iloc[0]) if len(best) else np.nan,
                "test_accuracy": test.get("accuracy", np.nan),
                "test_auc": test.get("auc", np.nan),
                "seconds": _seconds(started, finished),
                "error": state.get("error", ""),
                "created_at": request["created_at"],
            }
        )
    columns = [
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
    ]
    return pd.DataFrame(rows, columns=columns)


def stop(workspace: Workspace, run_id: str) -> None:
    """Ask a run to stop after its current epoch (a queued run stops at once)."""
    folder = _folder(workspace, run_id)
    state = status(folder)
    if state["state"] == "queued":
        _write(folder / "status.json", {"state": "stopped", "finished_at": _now()})
    elif state["state"] == "running":
        (folder / "stop").touch()


def delete(workspace: Workspace, run_id: str) -> None:
    """Remove a run (a running one is stopped first) and its predictions."""
    folder = _folder(workspace, run_id)
    stop(workspace, run_id)
    shutil.rmtree(folder, ignore_errors=True)
    workspace.file(f"{PREDICTIONS}/{run_id}.parquet").unlink(missing_ok=True)


def apply(workspace: Workspace, run_id: str, progress: ProgressFn | None = None) -> str:
    """Predict every galaxy with a finished run; saved as a catalogue column
    ``pred_<run name>`` the explorer can colour by. Returns the column name."""
    folder = _folder(workspace, run_id)
    if status(folder)["state"] != "finished":
        raise MorphCoreError(f"run {run_id} has not finished")
    run = Run.load(folder)
    catalog = workspace.catalog()
    summary = workspace.summary() or {}
    same_encoder = (
        summary.get("encoder", {}).get("fingerprint") == run.spec.fingerprint()
    )
    if not run.encoder_changed and same_encoder:
        p = run.predict_features(np.asarray(workspace.features()))
    else:
        p = run.predict(catalog, progress=progress)
    request = _read(folder / "request.json") or {}
    column = f"pred_{_slug(request.get('name', ''))}_{run_id[-6:]}"
    table = pd.DataFrame(
        {
            "galaxy_id": catalog["galaxy_id"],
            column: p[:, -1] if p.shape[1] == 2 else p.argmax(1),
        }
    )
    workspace.write_table(f"{PREDICTIONS}/{run_id}.parquet", table)
    return column


def sweep(
    workspace: Workspace,
    source: LabelSource,
    counts: list[int],
    inits: list[str],
    repeats: int,
    config: FineTuneConfig,
) -> tuple[str, list[str], list[int]]:
    """Queue runs for every label count x initialisation x repeat (the paper's
    label-count figure). Counts more than the labels allow are left out and
    returned. Returns the sweep id, the run ids and the counts left out."""
    from morph_core.finetune.labels import LabelError, balanced_split

    labels = source.labels(workspace, workspace.catalog())
    usable, dropped = [], []
    for n in counts:
        try:
            balanced_split(labels, n, 0)
            usable.append(n)
        except LabelError:
            dropped.append(n)
    if not usable:
        raise MorphCoreError(
            f"no label count in {counts} fits the labels {labels.counts()}"
        )
    from morph_core.encoder import build_encoder
    from morph_core.finetune.train import resolve_init

    for init in inits:  # once per init, not once per run
        build_encoder(resolve_init(init))
    sweep_id = "sweep-" + uuid.uuid4().hex[:6]
    run_ids = [
        submit(
            workspace,
            source,
            FineTuneConfig(**(vars(config) | {"n_per_class": n, "seed": seed})),
            init,
            name=f"{source.describe()}, {n}/class, {init}, seed {seed}",
            sweep=sweep_id,
            launch=False,
            check_init=False,
        )
        for seed in range(repeats)
        for n in usable
        for init in inits
    ]
    start_queued(workspace)
    return sweep_id, run_ids, dropped


def sweep_summary(runs: pd.DataFrame, sweep_id: str) -> pd.DataFrame:
    """:func:`summarise` of the sweep's finished runs."""
    return summarise(runs[(runs["sweep"] == sweep_id) & (runs["state"] == "finished")])


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """Per init and label count: ``test_auc_mean``, ``test_auc_std``,
    ``test_accuracy_mean``, ``test_accuracy_std`` and ``n_runs``."""
    groups = runs.groupby(["init", "n_per_class"])
    table = groups[["test_auc", "test_accuracy"]].agg(["mean", "std"])
    table.columns = [f"{metric}_{stat}" for metric, stat in table.columns]
    table["n_runs"] = groups.size()
    return table.reset_index()


def _folder(workspace: Workspace, run_id: str) -> Path:
    folder = workspace.file(f"{RUNS}/{run_id}")
    if not (folder / "request.json").exists():
        raise MorphCoreError(f"no run {run_id!r} in {workspace.name!r}")
    return folder


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:48].strip("_")


def _seconds(started: str | None, finished: str | None) -> float:
    if not started:
        return np.nan
    end = datetime.fromisoformat(finished) if finished else datetime.now(UTC)
    return round((end - datetime.fromisoformat(started)).total_seconds(), 1)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _write(path: Path, record: dict) -> None:
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record, indent=1, default=str))
    os.replace(tmp, path)
