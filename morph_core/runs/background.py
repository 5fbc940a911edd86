"""A prepare started in the background (``python -m morph_core prepare <name>``
in its own session), so that a first start serves pages at once while the demo
sky is being prepared; Home shows its progress (``PreparedDataset.progress``)."""

from __future__ import annotations

import subprocess
import sys
import time

from morph_core.dataset import PreparedDataset
from morph_core.runs.folder import process_alive
from morph_core.settings import PROJECT_ROOT

PREPARE_MARKER = "prepare"
STARTING_S = 30  # how long a new process may take to show its command line


def preparing(dataset: PreparedDataset) -> dict | None:
    """The progress of a prepare of ``dataset`` that is running now, if any."""
    record = dataset.progress()
    if record is None or record.get("state") != "running":
        return None
    pid = record.get("pid")
    just_started = time.time() - record.get("updated_at", 0) < STARTING_S
    if process_alive(pid, "morph_core") or (just_started and process_alive(pid)):
        return record  # a process just started may not show its command line yet
    return None


def prepare_in_background(dataset: PreparedDataset) -> bool:
    """Start preparing ``dataset`` unless it is prepared or being prepared;
    returns whether one was started. Its output goes to
    ``<workspace root>/.progress/<name>.log``."""
    if dataset.is_prepared or preparing(dataset):
        return False
    log_path = dataset.path.parent / ".progress" / f"{dataset.name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "morph_core", PREPARE_MARKER, dataset.name],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=PROJECT_ROOT,
        )
    dataset.write_progress(
        {
            "state": "running",
            "stage": "starting",
            "done": 0,
            "total": 1,
            "pid": process.pid,
            "updated_at": time.time(),
        }
    )
    return True
