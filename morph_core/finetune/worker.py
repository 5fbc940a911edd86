"""The worker process of one run: ``python -m morph_core.finetune.worker <folder>``.

Reads the run's request, trains, appends each epoch to ``metrics.jsonl``, and
writes the final status; then starts the next queued run, if any.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

import torch

from morph_core.finetune.labels import balanced_split
from morph_core.finetune.runs import LabelSource, _now, _read, _write, start_queued
from morph_core.finetune.train import (
    FineTuneConfig,
    StopRequested,
    resolve_init,
    train_run,
)
from morph_core.workspace import Workspace


def main(folder: Path) -> int:
    request = _read(folder / "request.json")
    if request is None:
        return 1
    torch.set_num_threads(2)
    workspace = Workspace(Path(request["workspace"]))
    state = _read(folder / "status.json") or {}
    source = request["source"]
    source = LabelSource(
        **source
        | {"positive": tuple(source["positive"]), "negative": tuple(source["negative"])}
    )
    try:
        catalog = workspace.catalog()
        labels = source.labels(workspace, catalog)
        config = FineTuneConfig(**request["config"])
        split = balanced_split(labels, config.n_per_class, config.seed)

        def on_epoch(record: dict) -> None:
            with open(folder / "metrics.jsonl", "a") as out:
                out.write(json.dumps(record) + "\n")

        def should_stop() -> bool:
            return (folder / "stop").exists() or not (folder / "request.json").exists()

        run = train_run(
            catalog,
            labels,
            split,
            resolve_init(request["init"]),
            config,
            None,
            None,
            on_epoch,
            should_stop,
        )
        if not folder.exists():
            start_queued(workspace)
            return 0
        run.save(folder)
        state |= {"state": "finished", "test": run.test, "finished_at": _now()}
    except StopRequested:
        state |= {"state": "stopped", "finished_at": _now()}
    except Exception as e:  # reported on the page; the traceback goes to log.txt
        traceback.print_exc()
        state |= {"state": "failed", "error": str(e), "finished_at": _now()}
    if folder.exists():  # not when the run was deleted mid-run
        _write(folder / "status.json", state)
    start_queued(workspace)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
