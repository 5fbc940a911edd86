"""Does adapting the encoder to a survey's own images help? (issue 16)

Usage: ``.venv/bin/python benchmarks/adapt.py [--datasets decals_rings gz1_sdss]
[--epochs 15] [--minutes 20] [--anchor 1]``

For each real ../shared/data set: prepare it with the default encoder, run
``adapt`` on its unlabelled images (as ``python -m morph_core adapt`` does), then
measure the starting and the adapted encoder on the same images, with labels
adapt never saw:

- linear probe: logistic regression on standardised PCA-40, 5-fold ROC AUC
  (as ``benchmarks/transfer.py``): rings (DECaLS), mergers (GZ1);
- similarity: every ring (DECaLS) or merger (GZ1) queries its 7 nearest
  neighbours (PCA-10, Manhattan): the share of the same class;
- fine-tuning at 10 labels per class: a head on the features (the monitor's
  "head only" on a prepared dataset), test ROC AUC over 5 draws;
- the rater: GZ1 mergers found in 200 simulated ratings (CNN PCA-40 + GP from
  the isolation-forest start, as ``benchmarks/anomaly.py``), 3 seeds. Not on
  the DECaLS set: its anomaly row (every non-ring and 1.5% rings) is 239
  galaxies, of which 200 ratings see most.

Results: ``results/adapt.json`` and the adapt section of ``benchmarks/README.md``
(with ``--record``). ``--reuse`` measures the newest adapted encoder already in
the benchmark cache instead of training another (its minutes and epochs come
from its ``training.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.anomaly import _run  # noqa: E402
from benchmarks.report import record  # noqa: E402
from benchmarks.transfer import features, pca, precision_at_k, probe_auc  # noqa: E402
from morph_core.data.manifest import load_manifest  # noqa: E402
from morph_core.dataset import open_dataset  # noqa: E402
from morph_core.model.spec import EncoderSpec  # noqa: E402
from morph_core.model.weights import resolve_encoder  # noqa: E402
from morph_core.pipeline.prepare import prepare  # noqa: E402
from morph_core.tools.anomaly.features import standardise  # noqa: E402
from morph_core.training.adapt import adapt_dataset  # noqa: E402
from morph_core.training.config import AdaptConfig, FinetuneConfig  # noqa: E402
from morph_core.training.finetune import train_run  # noqa: E402
from morph_core.training.labels import Labels  # noqa: E402

TARGETS = {  # dataset -> the label adapt never sees
    "decals_rings": lambda c: c["ring"].to_numpy(bool),
    "gz1_sdss": lambda c: (c["class_name"] == "merger").to_numpy(),
}
FINETUNE_DRAWS = 5
RATER_SEEDS = 3


def finetune_auc(feats: np.ndarray, positive: np.ndarray) -> list[float]:
    """Test ROC AUC of a head on the features, 10 labels per class, per draw."""
    labels = Labels(positive.astype(int), ("no", "yes"))
    aucs = []
    for draw in range(FINETUNE_DRAWS):
        config = FinetuneConfig(n_per_class=10, strategy="head", draw=draw)
        run = train_run(
            None, labels, labels.split(10, 0, draw), None, config, features=feats
        )
        aucs.append(run.test["auc"])
    return aucs


def found_in_200(feats: np.ndarray, positive: np.ndarray) -> list[int]:
    pca40 = standardise(pca(feats, 40))
    ratings = np.where(positive, 5, 0)
    return [
        _run(pca40, ratings, positive, "isolation_forest", seed)["found"][200]
        for seed in range(RATER_SEEDS)
    ]


def measure(name: str, catalog, feats: np.ndarray) -> dict:
    positive = TARGETS[name](catalog)
    out = {
        "probe_auc": round(probe_auc(pca(feats, 40), positive.astype(int)), 3),
        "finetune_10_auc": round(float(np.mean(finetune_auc(feats, positive))), 3),
    }
    hits = precision_at_k(pca(feats, 10), np.flatnonzero(positive), positive)
    out["precision_at_7"] = round(float(hits.mean()), 3)
    if name != "decals_rings":
        out["found_in_200"] = round(float(np.mean(found_in_200(feats, positive))), 1)
    return out


def run(name: str, config: AdaptConfig, reuse: bool = False) -> dict:
    manifest = load_manifest()
    root = Path(os.environ.get("MORPH_BENCH_CACHE", "/tmp/morph-bench")) / "adapt"
    ds = open_dataset(name, root)
    start = resolve_encoder(None, manifest)
    prepare(manifest.dataset(name), ds, start)
    done = sorted((ds.path / "encoders").glob("adapted-*")) if reuse else []
    folder = (
        done[-1]
        if done
        else adapt_dataset(
            ds,
            start,
            config,
            f"python -m morph_core adapt {name}",
            on_epoch=lambda r: print(name, r, flush=True),
        )
    )
    catalog = ds.catalog()
    specs = {"pretrained": start, "adapted": EncoderSpec.from_folder(folder)}
    feats = features(list(catalog["file"]), specs)
    trained = json.loads((folder / "training.json").read_text())
    seconds = sum(r["seconds"] for r in trained["history"])
    return {
        "n_images": int(trained["n_images"]),
        "epochs": int(trained["epochs_run"]),
        "minutes": round(seconds / 60, 1),
        "view_matching": [
            trained["history"][0]["view_matching"],
            trained["history"][-1]["view_matching"],
        ],
        "before": measure(name, catalog, feats["pretrained"]),
        "after": measure(name, catalog, feats["adapted"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--datasets", nargs="+", default=list(TARGETS))
    defaults = AdaptConfig()
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--minutes", type=float, default=defaults.minutes)
    parser.add_argument("--anchor", type=float, default=defaults.anchor)
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    parser.add_argument(
        "--record", action="store_true", help="write results/adapt.json"
    )
    parser.add_argument(
        "--reuse", action="store_true", help="measure the newest adapted encoder"
    )
    args = parser.parse_args()
    config = AdaptConfig(
        epochs=args.epochs,
        minutes=args.minutes,
        anchor=args.anchor,
        learning_rate=args.learning_rate,
    )
    results = {"config": asdict(config), "rows": {}}
    for name in args.datasets:
        results["rows"][name] = run(name, config, args.reuse)
        print(name, results["rows"][name], flush=True)
    if args.record:
        record("adapt", results, table(results))


def table(results: dict) -> str:
    """Before and after, per dataset and figure."""
    lines = [
        "| dataset | figure | starting encoder | adapted |",
        "| --- | --- | --- | --- |",
    ]
    for name, row in results["rows"].items():
        lines.append(
            f"| {name} | adapt: {row['n_images']} images, {row['epochs']} epochs, "
            f"{row['minutes']} min | view matching {row['view_matching'][0]:.1%} | "
            f"{row['view_matching'][1]:.1%} |"
        )
        for figure, before in row["before"].items():
            lines.append(f"| | {figure} | {before} | {row['after'][figure]} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
