"""One run's folder: what to train, its state, its epochs, and its worker.

``runs/<run_id>/`` holds ``request.json`` (what to train), ``status.json``
(queued, running, finished, failed, stopped), ``metrics.jsonl`` (one line per
epoch, appended as the worker goes), ``log.txt``, ``stop`` (asks the worker to
stop) and, when finished, ``model.safetensors`` + ``run.json``. A run whose
worker died is reported as failed, not running.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

STATES = ("queued", "running", "finished", "failed", "stopped")
WORKER_MODULE = "morph_core.runs.worker"


class RunFolder:
    """The files of one run (see the module docstring)."""

    def __init__(self, path: Path):
        self.path = Path(path)

    @property
    def log_file(self) -> Path:
        return self.path / "log.txt"

    def exists(self) -> bool:
        return (self.path / "request.json").exists()

    def request(self) -> dict | None:
        return _read(self.path / "request.json")

    def write_request(self, record: dict) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        _write(self.path / "request.json", record)

    def status(self) -> dict:
        """The run's status; a "running" run whose worker is gone becomes "failed"."""
        state = _read(self.path / "status.json") or {
            "state": "failed",
            "error": "no status",
        }
        if state["state"] == "running" and not self._alive(state):
            time.sleep(0.2)  # the worker may be writing its last status right now
            state = _read(self.path / "status.json") or state
            if state["state"] == "running" and not self._alive(state):
                state = state | {
                    "state": "failed",
                    "error": "the worker process died (killed or out of memory)",
                    "finished_at": now(),
                }
                self.write_status(state)
        return state

    def write_status(self, record: dict) -> None:
        _write(self.path / "status.json", record)

    def history(self) -> pd.DataFrame:
        """Epoch records so far (empty before the first epoch)."""
        path = self.path / "metrics.jsonl"
        if not path.exists():
            return pd.DataFrame()
        lines = path.read_text().splitlines()
        return pd.DataFrame([json.loads(line) for line in lines if line.strip()])

    def append_epoch(self, record: dict) -> None:
        with open(self.path / "metrics.jsonl", "a") as out:
            out.write(json.dumps(record) + "\n")

    def request_stop(self) -> None:
        (self.path / "stop").touch()

    def stop_requested(self) -> bool:
        """Stop asked, or the run deleted while training."""
        return (self.path / "stop").exists() or not self.exists()

    def _alive(self, state: dict) -> bool:
        """Whether the worker training this run runs: the one started for it,
        or the one that took it after its own run (``worker``: its folder)."""
        worker = state.get("worker", str(self.path))
        return process_alive(state.get("pid"), WORKER_MODULE, worker)


def process_alive(pid: int | None, *markers: str) -> bool:
    """Whether process ``pid`` runs and its command line holds every marker (a
    pid may have been reused by another program); a zombie has finished."""
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return True
    if not all(marker in cmdline for marker in markers):
        return False
    stat = Path(f"/proc/{pid}/stat").read_text().split()
    return stat[2] != "Z"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def seconds_between(started: str | None, finished: str | None) -> float:
    """Seconds from ``started`` to ``finished`` (or now); NaN when not started."""
    if not started:
        return float("nan")
    end = datetime.fromisoformat(finished) if finished else datetime.now(UTC)
    return round((end - datetime.fromisoformat(started)).total_seconds(), 1)


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _write(path: Path, record: dict) -> None:
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record, indent=1, default=str))
    os.replace(tmp, path)
