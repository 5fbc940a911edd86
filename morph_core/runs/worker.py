"""The worker process of one run: ``python -m morph_core.runs.worker <folder>``.

Reads the run's request, trains at a lower CPU priority than the web server,
appends each epoch to ``metrics.jsonl``, and writes the final status; then
trains the next queued run in the same process
(:func:`~morph_core.runs.queue.claim_next`), until none waits.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path

from morph_core.dataset import PreparedDataset
from morph_core.model.spec import EncoderSpec
from morph_core.runs.folder import RunFolder, now
from morph_core.runs.queue import claim_next, start_queued
from morph_core.runs.sources import LabelSource
from morph_core.store.workspace import Workspace
from morph_core.training.config import FinetuneConfig

NICENESS = 10  # training yields the CPU to the web server's pages
THREADS = "2"  # torch's threads: both cores of a small server (at lower priority)


def main(path: Path) -> int:
    folder = RunFolder(path)
    request = folder.request()
    if request is None:
        return 1
    os.nice(NICENESS)
    os.environ.setdefault("OMP_NUM_THREADS", THREADS)  # read when torch loads
    dataset = PreparedDataset(Workspace(Path(request["workspace"])))
    while folder is not None:  # then the next queued run, in this process
        train(dataset, folder)
        folder = claim_next(dataset, path)
    start_queued(dataset)
    return 0


def train(dataset: PreparedDataset, folder: RunFolder) -> None:
    """Train one run and write its final status (a traceback goes to its log)."""
    from morph_core.training.finetune import train_run
    from morph_core.training.loop import StopRequested

    request = folder.request()
    state = folder.status()
    try:
        catalog = dataset.catalog()
        config = FinetuneConfig(**request["config"])
        source = LabelSource.from_record(request["source"])
        labels = source.targets(dataset, catalog, config.task)
        record = request["encoder"]  # None: a table's features, encoder not here
        spec = EncoderSpec.from_record(record) if record is not None else None
        own = config.strategy == "head" and (
            spec is None or spec == dataset.known_encoder()
        )
        run = train_run(
            catalog,
            labels,
            labels.split(config.n_per_class, config.seed, config.draw),
            spec,
            config,
            on_epoch=folder.append_epoch,
            should_stop=folder.stop_requested,
            features=dataset.features() if own else None,  # no image read
        )
        if not folder.exists():  # deleted while training
            return
        run.save(folder.path)
        state |= {"state": "finished", "test": run.test, "finished_at": now()}
    except StopRequested:
        state |= {"state": "stopped", "finished_at": now()}
    except Exception as e:  # reported on the page; the traceback goes to log.txt
        if folder.exists():
            with open(folder.log_file, "a") as log:
                traceback.print_exc(file=log)
        state |= {"state": "failed", "error": str(e), "finished_at": now()}
    if folder.exists():  # not when the run was deleted mid-run
        folder.write_status(state)


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
