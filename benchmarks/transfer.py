"""Does the default encoder's representation transfer? (Walmsley+22 §1-2)

Usage: ``.venv/bin/python benchmarks/transfer.py [--synthetic 12000] [--candidate DIR]``

``--candidate`` adds an encoder folder (timm format, e.g. a new ``pretrain --out``)
as a column and records to ``transfer-candidate`` instead, so a new
default is measured against today's before it replaces it.

Features from (a) the pretrained default encoder, (b) the same architecture
randomly initialised, (c) raw pixels, all on the same preprocessed greyscale
images, and (d) ImageNet EfficientNet-Lite0 (``imagenet-efficientnet_lite0``: colour,
224 px, its own preprocessing), mean-pooled as every encoder here, on a held-out
synthetic survey (the demo sky, seed 42; the encoder was trained on seed 7) and on
the real ../shared/data sets:

- similarity: for each tag, the most-tagged galaxy queries its 7 nearest
  neighbours (PCA-10, Manhattan, as the app): the share of neighbours with the
  tag, and with the true feature; and the mean over every tagged query. On the
  real rings set, every ring queries and a neighbour counts if it is a ring.
- linear probe: logistic regression on standardised PCA-40, 5-fold
  cross-validated ROC AUC, for rings (never a pretraining target; synthetic
  and real DECaLS), and for real GZ1 SDSS mergers.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from benchmarks.report import record, synthetic_survey  # noqa: E402
from morph_core.data.manifest import load_manifest  # noqa: E402
from morph_core.model.encoder import (  # noqa: E402
    build_encoder,
    embed_files,
    preprocess_files,
)
from morph_core.model.spec import EncoderSpec  # noqa: E402
from morph_core.model.weights import resolve_encoder  # noqa: E402
from morph_core.pipeline.reduce import fit_pca  # noqa: E402
from morph_core.settings import shared_data_dir  # noqa: E402
from morph_core.tools.similarity import NeighbourIndex, tag_counts  # noqa: E402

K = 7
TAGS = {  # tag -> the true feature it names
    "#ring": lambda c: c["ring"],
    "#dustlane": lambda c: c["dust_lane"],
    "#merger": lambda c: c["merging"] == "merger",
    "#overlapping": lambda c: c["overlapping"],
    "#lens": lambda c: c["lens"],
}
WEIGHTS_NAME = "efficientnet_b0-synthetic"  # the project's pretrained encoder
IMAGENET_NAME = "imagenet-efficientnet_lite0"  # the paper's ImageNet start (§4.2)


def encoders(candidate: Path | None = None) -> dict[str, EncoderSpec | None]:
    manifest = load_manifest()
    pretrained = resolve_encoder(WEIGHTS_NAME, manifest)
    random_init = pretrained.random_init(seed=0)
    specs: dict[str, EncoderSpec | None] = {"pretrained": pretrained}
    if candidate:
        specs["candidate"] = resolve_encoder(str(candidate), manifest)
    return specs | {
        "random init": random_init,
        "imagenet": resolve_encoder(IMAGENET_NAME, manifest),
        "raw pixels": None,
    }


def _input(spec: EncoderSpec) -> tuple:
    return spec.channels, spec.image_size, spec.crop_fraction, spec.mean, spec.std


def features(files: list[str], specs: dict) -> dict[str, np.ndarray]:
    """Each encoder's features: those with the default encoder's input of the
    same preprocessed images; the others of the files, each with its own."""
    images = preprocess_files(files, specs["pretrained"]).float()
    out = {"raw pixels": images.reshape(len(images), -1).numpy()}
    for name, spec in specs.items():
        if spec is None:
            continue
        model = build_encoder(spec).to(memory_format=torch.channels_last)
        if _input(spec) != _input(specs["pretrained"]):
            out[name], errors = embed_files(files, model, spec, batch_size=64)
            if errors:
                raise SystemExit(f"{len(errors)} unreadable images: {errors}")
            continue
        batches = []
        with torch.inference_mode():
            for i in range(0, len(images), 256):
                x = images[i : i + 256].contiguous(memory_format=torch.channels_last)
                batches.append(model(x).numpy())
        out[name] = np.concatenate(batches)
    return out


def pca(features: np.ndarray, k: int) -> np.ndarray:
    return fit_pca(features, k).transform(features)


def precision_at_k(pca10: np.ndarray, queries: np.ndarray, relevant: np.ndarray):
    """Share of each query's K nearest neighbours (not itself) that are relevant."""
    _, rows = NeighbourIndex().fit(pca10).query(pca10[queries], K + 1)
    hits = [relevant[r[r != q][:K]].mean() for q, r in zip(queries, rows, strict=True)]
    return np.asarray(hits)


def probe_auc(pca40: np.ndarray, labels: np.ndarray) -> float:
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    return float(
        cross_val_score(model, pca40, labels, cv=folds, scoring="roc_auc").mean()
    )


def synthetic_rows(n: int, specs: dict) -> dict:
    catalog = synthetic_survey(n)
    feats = features(list(catalog["file"]), specs)
    out: dict = {}
    for name, f in feats.items():
        pca10, pca40 = pca(f, 10), pca(f, 40)
        row: dict = {}
        for tag, truth in TAGS.items():
            counts = tag_counts(catalog, tag)
            tagged = counts > 0
            true = truth(catalog).to_numpy(bool)
            top = np.array([int(np.argmax(counts))])
            every = np.flatnonzero(tagged)
            row[tag] = {
                "top_query_tag": float(precision_at_k(pca10, top, tagged)[0]),
                "top_query_truth": float(precision_at_k(pca10, top, true)[0]),
                "mean_tag": float(precision_at_k(pca10, every, tagged).mean()),
                "mean_truth": float(precision_at_k(pca10, every, true).mean()),
                "n_tagged": int(tagged.sum()),
            }
        row["ring_probe_auc"] = probe_auc(pca40, catalog["ring"].to_numpy(int))
        out[name] = row
    return out


def real_rows(specs: dict) -> dict:
    data = shared_data_dir()
    rings = pd.read_csv(data / "decals_rings" / "catalog.csv")
    gz1 = pd.read_csv(data / "gz1_sdss" / "catalog.csv")
    ring_feats = features(
        [str(data / "decals_rings" / f) for f in rings["file"]], specs
    )
    gz1_feats = features([str(data / "gz1_sdss" / f) for f in gz1["file"]], specs)
    is_ring = rings["ring"].to_numpy(bool)
    is_merger = (gz1["class_name"] == "merger").to_numpy()
    out = {}
    for name in specs:
        f = ring_feats[name]
        out[name] = {
            "rings_precision_at_7": float(
                precision_at_k(pca(f, 10), np.flatnonzero(is_ring), is_ring).mean()
            ),
            "rings_probe_auc": probe_auc(pca(f, 40), is_ring.astype(int)),
            "gz1_mergers_probe_auc": probe_auc(
                pca(gz1_feats[name], 40), is_merger.astype(int)
            ),
        }
    return out


def table(results: dict) -> str:
    syn, real = results["synthetic"], results["real"]
    names = list(real)
    lines = [
        f"Held-out synthetic survey ({results['n_synthetic']:,} galaxies, seed 42) "
        f"and real sets; {results['minutes']:.1f} min. Best per row in bold.",
        "",
        "| row | " + " | ".join(names) + " |",
        "| --- |" + " --- |" * len(names),
    ]

    def line(label: str, values: list[float]) -> None:
        best = max(values)
        cells = [f"**{v:.3f}**" if v == best else f"{v:.3f}" for v in values]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    for tag in TAGS:
        n = syn["pretrained"][tag]["n_tagged"]
        for key, label in [
            ("top_query_tag", "most-tagged query, P@7 tag"),
            ("top_query_truth", "most-tagged query, P@7 true feature"),
            ("mean_tag", f"mean P@7 tag over {n} queries"),
            ("mean_truth", "mean P@7 true feature"),
        ]:
            line(f"synthetic {tag}: {label}", [syn[e][tag][key] for e in names])
    line(
        "synthetic rings: linear probe ROC AUC",
        [syn[e]["ring_probe_auc"] for e in names],
    )
    line(
        "real DECaLS rings: mean P@7 (235 ring queries)",
        [real[e]["rings_precision_at_7"] for e in names],
    )
    line(
        "real DECaLS rings: linear probe ROC AUC",
        [real[e]["rings_probe_auc"] for e in names],
    )
    line(
        "real GZ1 mergers: linear probe ROC AUC",
        [real[e]["gz1_mergers_probe_auc"] for e in names],
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--synthetic", type=int, default=12000)
    parser.add_argument("--candidate", type=Path, help="an encoder folder to compare")
    args = parser.parse_args()
    start = time.perf_counter()
    specs = encoders(args.candidate)
    synthetic = synthetic_rows(args.synthetic, specs)
    results = {
        "n_synthetic": args.synthetic,
        "k": K,
        "synthetic": synthetic,
        "real": real_rows(specs),
        "weights": load_manifest().weight(WEIGHTS_NAME).folder,
    }
    if args.candidate:
        results["candidate"] = str(args.candidate)
    results["minutes"] = (time.perf_counter() - start) / 60
    topic = "transfer-candidate" if args.candidate else "transfer"
    record(topic, results, table(results))


if __name__ == "__main__":
    main()
