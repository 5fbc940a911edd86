"""Fine-tuning with few labels: pretrained vs ImageNet vs random init
(Walmsley+22 §4, Figs. 7 and 9).

Usage: ``.venv/bin/python benchmarks/finetune.py [--repeats 3]``

For rings (never a pretraining target) on (1) the synthetic demo sky (true
``ring`` column) and (2) the real ../shared/data/decals_rings set (235 rings,
235 not): runs at 4, 10, 20, 50, 100 and 200 labels per class (where the labels
allow after the fixed test set), each from the pretrained default encoder, from
the same architecture randomly initialised, and from ImageNet EfficientNet-Lite0
(``imagenet-efficientnet_lite0``: colour, 224 px, init ``imagenet``), ``--repeats``
seeds each.
Strategy: the head on frozen features (Adam 1e-3, early stopping), then the
first two unfreezing stages (the top, then block 7) at 1e-5, 4 epochs each with
patience 2: the CPU budget does not allow all six stages for 72 runs. Test
accuracy and ROC AUC, mean ± std over repeats; a plot (PNG) and a table in
benchmarks/README.md.
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

from benchmarks.report import HERE, record, save_png, synthetic_survey  # noqa: E402
from morph_core.app.figures import sweep_figure  # noqa: E402
from morph_core.data.manifest import load_manifest  # noqa: E402
from morph_core.model.weights import resolve_encoder  # noqa: E402
from morph_core.runs.sweep import summarise  # noqa: E402
from morph_core.settings import shared_data_dir  # noqa: E402
from morph_core.training.config import FinetuneConfig  # noqa: E402
from morph_core.training.finetune import train_run  # noqa: E402
from morph_core.training.labels import (  # noqa: E402
    LabelError,
    balanced_split,
    labels_from_column,
)

COUNTS = (4, 10, 20, 50, 100, 200)
INITS = {  # init -> the weights choice it resolves
    "pretrained": "pretrained",
    "random": "random",
    "imagenet": "imagenet-efficientnet_lite0",
}


def sweep(catalog: pd.DataFrame, column: str, repeats: int) -> pd.DataFrame:
    labels = labels_from_column(catalog, column)
    manifest = load_manifest()
    specs = {init: resolve_encoder(choice, manifest) for init, choice in INITS.items()}
    rows = []
    for seed in range(repeats):
        for n in COUNTS:
            try:
                split = balanced_split(labels, n, seed)
            except LabelError:
                continue
            for init in INITS:
                config = FinetuneConfig(
                    n_per_class=n,
                    seed=seed,
                    stages=2,
                    stage_epochs=4,
                    stage_patience=2,
                )
                start = time.perf_counter()
                run = train_run(catalog, labels, split, specs[init], config)
                rows.append(
                    {
                        "init": init,
                        "n_per_class": n,
                        "seed": seed,
                        "test_accuracy": run.test["accuracy"],
                        "test_auc": run.test["auc"],
                        "n_test": run.test["n_test"],
                        "epochs": len(run.history),
                        "seconds": round(time.perf_counter() - start, 1),
                    }
                )
                print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--synthetic", type=int, default=12000)
    args = parser.parse_args()
    start = time.perf_counter()
    data = shared_data_dir() / "decals_rings"
    real = pd.read_csv(data / "catalog.csv")
    real["file"] = [str(data / f) for f in real["file"]]
    sets = {
        "synthetic rings": (synthetic_survey(args.synthetic), "ring"),
        "real DECaLS rings": (real, "ring"),
    }
    results: dict = {"repeats": args.repeats, "sets": {}}
    lines = []
    for name, (catalog, column) in sets.items():
        runs = sweep(catalog, column, args.repeats)
        summary = summarise(runs)
        results["sets"][name] = {
            "runs": runs.to_dict("records"),
            "summary": summary.to_dict("records"),
        }
        png = HERE / "results" / f"finetune-{name.split()[0]}.png"
        save_png(sweep_figure(summary).update_layout(title=name), png)
        wide = summary.pivot(index="n_per_class", columns="init")
        lines += [
            f"**{name}** ({len(catalog):,} galaxies; test set "
            f"{int(runs['n_test'].iloc[0])} galaxies, the same for every label count)",
            "",
            f"![{name}](results/{png.name})",
            "",
            "| labels per class | "
            + " | ".join(f"{m} {i}" for m in ("AUC", "acc.") for i in INITS)
            + " | runs |",
            "|---|" + "---|" * (2 * len(INITS) + 1),
        ]
        for n, row in wide.iterrows():
            cells = [
                f"{row[(m + '_mean', i)]:.3f} ± "
                f"{np.nan_to_num(row[(m + '_std', i)]):.3f}"
                for m in ("test_auc", "test_accuracy")
                for i in INITS
            ]
            n_runs = " + ".join(str(int(row[("n_runs", i)])) for i in INITS)
            lines.append(f"| {n} | " + " | ".join(cells) + f" | {n_runs} |")
        lines.append("")
    minutes = (time.perf_counter() - start) / 60
    results["minutes"] = round(minutes, 1)
    lines.append(f"Whole sweep: {minutes:.1f} minutes on 2 CPU cores.")
    record("finetune", results, "\n".join(lines))


if __name__ == "__main__":
    main()
