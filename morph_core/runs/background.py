"""Prepares started in the background, one after the other in one process
(``python -m morph_core.runs.background --workspace ROOT NAME...``), so that a
first start serves pages at once: a small first-look sky is ready in about half
a minute while the demo sky follows; and an encoder adapted to a dataset's
images (``python -m morph_core adapt``), at a lower CPU priority than the web
server. Home shows their progress (``PreparedDataset.progress``)."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from morph_core.dataset import PreparedDataset
from morph_core.runs.folder import process_alive
from morph_core.settings import PROJECT_ROOT

NICENESS = "10"  # adapting yields the CPU to the web server's pages
STARTING_S = 30  # how long a new process may take to show its command line
LOG_NAME = "background.log"  # in <workspace root>/.progress/


def preparing(dataset: PreparedDataset) -> dict | None:
    """The progress of a prepare of ``dataset`` that is running (or waiting for
    its turn in a running chain) now, if any."""
    record = dataset.progress()
    if record is None or record.get("state") != "running":
        return None
    pid = record.get("pid")
    just_started = time.time() - record.get("updated_at", 0) < STARTING_S
    if process_alive(pid, "morph_core") or (just_started and process_alive(pid)):
        return record  # a process just started may not show its command line yet
    return None


def prepare_in_background(datasets: list[PreparedDataset]) -> list[str]:
    """Start preparing, in this order and in one process, those of ``datasets``
    (all in one workspace) neither prepared nor being prepared; returns their
    names. The output goes to ``<workspace root>/.progress/background.log``."""
    todo = [d for d in datasets if not d.is_prepared and not preparing(d)]
    if not todo:
        return []
    root = todo[0].path.parent
    log_path = root / ".progress" / LOG_NAME
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "morph_core.runs.background",
                "--workspace",
                str(root.resolve()),
                *(d.name for d in todo),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=PROJECT_ROOT,
        )
    for before, dataset in zip([None, *todo], todo, strict=False):
        dataset.write_progress(
            {
                "state": "running",
                "stage": "starting" if before is None else "waiting",
                "waiting_for": before.name if before is not None else None,
                "done": 0,
                "total": 1,
                "pid": process.pid,
                "updated_at": time.time(),
            }
        )
    return [d.name for d in todo]


def adapt_in_background(dataset: PreparedDataset) -> None:
    """Start adapting the encoder to ``dataset``'s images, then preparing it
    with the result (``python -m morph_core adapt``, its default settings), at
    a lower CPU priority; the output goes to the background log. Nothing
    starts while a prepare or adapt of it runs."""
    if preparing(dataset):
        return
    root = dataset.path.parent
    log_path = root / ".progress" / LOG_NAME
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [
                "nice",
                "-n",
                NICENESS,
                sys.executable,
                "-m",
                "morph_core",
                "--workspace",
                str(root.resolve()),
                "adapt",
                dataset.name,
            ],
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


def main(argv: list[str] | None = None) -> int:
    """Prepare each named dataset in turn (a failed one does not stop the next:
    its progress record says why it failed)."""
    from morph_core import cli

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--workspace", required=True)
    parser.add_argument("names", nargs="+")
    args = parser.parse_args(argv)
    codes = [
        cli.main(["--workspace", args.workspace, "prepare", name])
        for name in args.names
    ]
    return max(codes)


if __name__ == "__main__":
    sys.exit(main())
