"""Fine-tuning to regression targets: a vote fraction and the decision tree's
vote counts (Dirichlet-multinomial), pretrained vs random init (issue 16).

Usage: ``.venv/bin/python benchmarks/finetune_targets.py [--repeats 2]``

On the synthetic demo sky (12,000 galaxies; the default encoder was pretrained
on another seed): (1) ``has-spiral-arms_yes_fraction`` (the share of
volunteers who saw spiral arms; only galaxies that reached the question),
(2) every question's vote counts (ten questions, 38 answers, "odd" and
"odd-feature" included, which pretraining never saw). Runs at 20, 100 and 500
labelled galaxies from the pretrained encoder and from random init: the head
on frozen features, then the top two unfreezing stages (4 epochs each, as
``benchmarks/finetune.py``). Test vote-fraction error (mean absolute; for the
counts, the mean over questions) on a fixed test set of 500 galaxies, against
predicting the training galaxies' mean fraction.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.report import record, synthetic_survey  # noqa: E402
from morph_core.data.manifest import load_manifest  # noqa: E402
from morph_core.model.weights import resolve_encoder  # noqa: E402
from morph_core.runs.sweep import summarise  # noqa: E402
from morph_core.training.config import FinetuneConfig  # noqa: E402
from morph_core.training.finetune import train_run  # noqa: E402
from morph_core.training.targets import (  # noqa: E402
    Targets,
    fraction_targets,
    vote_targets,
)

COUNTS = (20, 100, 500)
INITS = ("pretrained", "random")
FRACTION = "has-spiral-arms_yes_fraction"


def mean_guess_error(targets: Targets, train: np.ndarray, test: np.ndarray) -> float:
    """The error of predicting every test galaxy the training galaxies' mean
    fraction (per answer; for counts, per question then averaged)."""
    values = targets.values
    if not targets.questions:
        return float(np.abs(values[test, 0] - values[train, 0].mean()).mean())
    errors = []
    for _, a, b in targets.questions:
        votes = values[:, a:b].sum(1)
        fractions = values[:, a:b] / np.maximum(votes, 1)[:, None]
        asked_train, asked_test = train[votes[train] > 0], test[votes[test] > 0]
        if len(asked_train) and len(asked_test):
            guess = fractions[asked_train].mean(0)
            errors.append(np.abs(fractions[asked_test] - guess).mean())
    return float(np.mean(errors))


def sweep(catalog: pd.DataFrame, task: str, targets: Targets, repeats: int):
    manifest = load_manifest()
    specs = {init: resolve_encoder(init, manifest) for init in INITS}
    rows = []
    for seed in range(repeats):
        for n in COUNTS:
            split = targets.split(n, seed)
            for init in INITS:
                config = FinetuneConfig(
                    n_per_class=n,
                    seed=seed,
                    task=task,
                    stages=2,
                    stage_epochs=4,
                    stage_patience=2,
                )
                start = time.perf_counter()
                run = train_run(catalog, targets, split, specs[init], config)
                rows.append(
                    {
                        "init": init,
                        "n_per_class": n,
                        "seed": seed,
                        "test_error": run.test["error"],
                        "mean_guess_error": mean_guess_error(
                            targets,
                            np.concatenate([split.train, split.val]),
                            split.test,
                        ),
                        "n_test": run.test["n_test"],
                        "seconds": round(time.perf_counter() - start, 1),
                    }
                )
                print(task, rows[-1], flush=True)
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--synthetic", type=int, default=12000)
    args = parser.parse_args()
    start = time.perf_counter()
    catalog = synthetic_survey(args.synthetic)
    tasks = {
        "fraction": ("vote fraction: " + FRACTION, fraction_targets(catalog, FRACTION)),
        "votes": ("vote counts: every question", vote_targets(catalog)),
    }
    results: dict = {"repeats": args.repeats, "tasks": {}}
    lines = [
        "| target | labelled galaxies | error pretrained | error random "
        "| mean-fraction guess |",
        "|---|---|---|---|---|",
    ]
    for task, (title, targets) in tasks.items():
        runs = sweep(catalog, task, targets, args.repeats)
        summary = summarise(runs.drop(columns="mean_guess_error"))
        guess = runs.groupby("n_per_class")["mean_guess_error"].mean()
        results["tasks"][task] = {
            "title": title,
            "runs": runs.to_dict("records"),
            "summary": summary.to_dict("records"),
        }
        wide = summary.pivot(index="n_per_class", columns="init")
        for n, row in wide.iterrows():
            cells = [
                f"{row[('test_error_mean', i)]:.3f} ± "
                f"{np.nan_to_num(row[('test_error_std', i)]):.3f}"
                for i in INITS
            ]
            lines.append(
                f"| {title} | {n} | " + " | ".join(cells) + f" | {guess[n]:.3f} |"
            )
    minutes = (time.perf_counter() - start) / 60
    results["minutes"] = round(minutes, 1)
    lines += [
        "",
        f"Test set: 500 galaxies (fixed per seed), {args.repeats} seeds; whole run "
        f"{minutes:.1f} minutes on 2 CPU cores.",
    ]
    record("finetune_targets", results, "\n".join(lines))


if __name__ == "__main__":
    main()
