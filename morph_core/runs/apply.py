"""Apply a finished run: its prediction for every galaxy, as catalogue columns
the explorer colours by and similarity filters by."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from morph_core import access
from morph_core.access import OPERATOR, Visitor
from morph_core.dataset import PreparedDataset
from morph_core.errors import MorphCoreError
from morph_core.progress import ProgressFn
from morph_core.runs.queue import run_folder


def apply(
    dataset: PreparedDataset,
    run_id: str,
    progress: ProgressFn | None = None,
    visitor: Visitor = OPERATOR,
) -> list[str]:
    """Predict every galaxy with a finished run; saved as a column
    ``pred_<run name>_<id>`` (a class's probability, the class, or the
    fraction), or for vote counts one column per answer,
    ``pred_<id>_<question>_<answer>_fraction``. Returns the columns' names.

    When the run kept the dataset's encoder as it was (head only), the head
    reads the prepared features; otherwise every image goes through the
    fine-tuned encoder (admins only on a public server: it is the web
    server's CPU). The column is everyone's when ``visitor`` may see all
    (local, admins), else only theirs.
    """
    from morph_core.training.finetune import FinetuneRun  # torch only here

    rules = access.policy()
    folder = run_folder(dataset, run_id, visitor)
    if folder.status()["state"] != "finished":
        raise MorphCoreError(f"run {run_id} has not finished")
    run = FinetuneRun.load(folder.path)
    catalog = dataset.catalog()
    prepared = dataset.known_encoder()
    same_encoder = run.spec is None or (
        prepared is not None and prepared.fingerprint() == run.spec.fingerprint()
    )
    if run.encoder_changed or not same_encoder:
        rules.require(visitor, "apply_encoder")
    if not run.encoder_changed and same_encoder:
        p = run.predict_features(np.asarray(dataset.features()))
    else:
        p = run.predict(catalog, progress=progress)
    if run.config.task == "votes":
        names = [f"pred_{run_id[-6:]}_{answer}_fraction" for answer in run.classes]
        columns = dict(zip(names, p.T, strict=True))
    else:
        name = (folder.request() or {}).get("name", "")
        value = p[:, -1] if p.shape[1] <= 2 else p.argmax(1)
        columns = {f"pred_{_slug(name)}_{run_id[-6:]}": value}
    table = pd.DataFrame({"galaxy_id": catalog["galaxy_id"], **columns})
    shared = rules.allows(visitor, "see_all")
    dataset.write_predictions(run_id, table, None if shared else visitor.key)
    return list(columns)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:48].strip("_")
