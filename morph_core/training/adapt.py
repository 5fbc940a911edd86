"""Adapt an encoder to a survey: go on training it, self-supervised, on the
dataset's own unlabelled images, so that its features describe that survey's
galaxies rather than the synthetic sky's.

SimCLR (Chen et al. 2020): two views of each galaxy, made by the galaxy
augmentations (flips, any rotation, zoom, shifts, contrast, sky, noise), go
through the encoder and a small projection head; the loss asks each view to
match its twin and no other galaxy in the batch. An anchor term keeps each
galaxy's features near the starting encoder's, so what was learnt from the
volunteers' votes is adapted, not forgotten. No label is ever read. Batch-norm
statistics follow the new images.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from morph_core.dataset import PreparedDataset
from morph_core.errors import MorphCoreError
from morph_core.model.augment import augment
from morph_core.model.encoder import (
    build_encoder,
    preprocess_files,
    save_encoder_folder,
)
from morph_core.model.spec import EncoderSpec
from morph_core.progress import ProgressFn, StageProgressFn
from morph_core.training.config import AdaptConfig
from morph_core.training.loop import EpochFn

PROBE_IMAGES = 256  # held-out galaxies whose views are matched after each epoch
MIN_IMAGES = 16
STAGE_NAMES = {"load": "load images", "adapt": "adapt the encoder"}  # on Home


def contrastive_loss(z1: torch.Tensor, z2: torch.Tensor, temperature: float):
    """NT-Xent: each of the 2n projections should be most similar to its twin
    among the other 2n - 1."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    similarity = z @ z.T / temperature
    similarity.fill_diagonal_(-math.inf)
    n = len(z1)
    twins = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    return F.cross_entropy(similarity, twins)


def view_matching(
    encoder: nn.Module, images: torch.Tensor, generator: torch.Generator
) -> float:
    """The share of galaxies whose second view's nearest first view (cosine,
    pooled features) is its own: how well the features recognise a galaxy
    under the augmentations, measured without labels."""
    encoder.eval()
    with torch.inference_mode():
        a = F.normalize(encoder(augment(images, generator)), dim=1)
        b = F.normalize(encoder(augment(images, generator)), dim=1)
    return float(((b @ a.T).argmax(1) == torch.arange(len(images))).float().mean())


def adapt_dataset(
    dataset: PreparedDataset,
    spec: EncoderSpec,
    config: AdaptConfig,
    command: str,
    progress: StageProgressFn | None = None,
    on_epoch: EpochFn | None = None,
) -> Path:
    """:func:`adapt` the encoder of ``spec`` on the images of a prepared
    dataset (``config.max_images`` at most, a seeded pick) into a new folder
    ``<dataset>/encoders/adapted-<time>`` with its model card (``command``
    reproduces it); returns the folder. ``progress(stage, done, total)`` with
    stages "load" and "adapt"; the dataset's progress record (Home's) follows
    them, at most once a second, and says why when it fails.

    Raises
    ------
    MorphCoreError
        A dataset without images here (a table of features), too few images.
    """
    last = [0.0]

    def report(stage: str) -> ProgressFn:
        def update(done: int, total: int) -> None:
            if progress:
                progress(stage, done, total)
            if time.monotonic() - last[0] > 1 or done >= total:
                last[0] = time.monotonic()
                dataset.record_progress(
                    state="running",
                    stage=STAGE_NAMES[stage],
                    done=done,
                    total=total,
                    fraction=round(done / max(total, 1), 4),
                )

        return update

    try:
        folder, record = _adapt_images(dataset, spec, config, report, on_epoch)
    except BaseException as error:
        reason = str(error) if isinstance(error, MorphCoreError) else "see the log"
        dataset.record_progress(state="failed", error=reason)
        raise
    (folder / "MODEL_CARD.md").write_text(model_card(record, dataset.name, command))
    dataset.record_progress(state="finished", stage=STAGE_NAMES["adapt"])
    return folder


def _adapt_images(
    dataset: PreparedDataset,
    spec: EncoderSpec,
    config: AdaptConfig,
    report: Callable[[str], ProgressFn],
    on_epoch: EpochFn | None,
) -> tuple[Path, dict]:
    """The dataset's images checked, picked, loaded and adapted to: the new
    folder and its record."""
    if dataset.representation_only:
        raise MorphCoreError(
            f"{dataset.name} is a table of features without images: nothing to adapt to"
        )
    files = dataset.catalog()["file"].astype(str).to_numpy()
    if len(files) < MIN_IMAGES:
        raise MorphCoreError(
            f"{dataset.name} has {len(files)} images; adapting needs {MIN_IMAGES}"
        )
    rng = np.random.default_rng(config.seed)
    picked = np.sort(rng.permutation(len(files))[: config.max_images])
    images = preprocess_files(list(files[picked]), spec, report("load"))
    folder = dataset.path / "encoders" / time.strftime("adapted-%Y%m%d-%H%M%S")
    return folder, adapt(images, spec, config, folder, report("adapt"), on_epoch)


def adapt(
    images: torch.Tensor,
    spec: EncoderSpec,
    config: AdaptConfig,
    out_dir: Path,
    progress: ProgressFn | None = None,
    on_epoch: EpochFn | None = None,
) -> dict:
    """Train the encoder of ``spec`` on ``images`` (preprocessed as it sees
    them, fp16) and save it to ``out_dir`` as a timm folder with
    ``training.json``; returns that record.

    A few galaxies (:data:`PROBE_IMAGES` at most) are held out to report, per
    epoch, how often a view finds its twin (``view_matching``).
    """
    if len(images) < MIN_IMAGES:
        raise ValueError(f"at least {MIN_IMAGES} images are needed, not {len(images)}")
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    order = torch.randperm(len(images), generator=generator)
    n_probe = min(PROBE_IMAGES, len(images) // 8)
    probe, train = images[order[:n_probe]].float(), order[n_probe:]
    encoder = build_encoder(spec).to(memory_format=torch.channels_last)
    start_features = _features(encoder, images)
    spread = float((start_features - start_features.mean(0)).pow(2).sum(1).mean())
    width = int(encoder.num_features)
    projector = nn.Sequential(
        nn.Linear(width, 512), nn.ReLU(), nn.Linear(512, config.projection)
    )
    optimiser = torch.optim.AdamW(
        [*encoder.parameters(), *projector.parameters()],
        lr=config.learning_rate,
        weight_decay=config.weight_decay,
    )
    batch = min(config.batch_size, len(train))
    per_epoch = len(train) // batch
    deadline = time.perf_counter() + 60 * config.minutes
    history = [
        {
            "epoch": 0,
            "view_matching": view_matching(encoder, probe, _fixed()),
            "seconds": 0.0,
        }
    ]
    step, total = 0, config.epochs * per_epoch
    for epoch in range(1, config.epochs + 1):
        start = time.perf_counter()
        encoder.train()
        sums = np.zeros(3)
        shuffled = train[torch.randperm(len(train), generator=generator)]
        for i in range(per_epoch):
            idx = shuffled[i * batch : (i + 1) * batch]
            x = images[idx].float()
            h1, h2 = (
                encoder(
                    augment(x, generator).contiguous(memory_format=torch.channels_last)
                )
                for _ in range(2)
            )
            contrast = contrastive_loss(
                projector(h1), projector(h2), config.temperature
            )
            anchor = (h1 - start_features[idx]).pow(2).sum(1).mean() / spread
            loss = contrast + config.anchor * anchor
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            sums += [loss.item(), contrast.item(), anchor.item()]
            step += 1
            if progress:
                progress(step, total)
        record = {
            "epoch": epoch,
            **{
                k: round(float(v), 4)
                for k, v in zip(
                    ("loss", "contrastive", "anchor"), sums / per_epoch, strict=True
                )
            },
            "view_matching": view_matching(encoder, probe, _fixed()),
            "seconds": round(time.perf_counter() - start, 1),
        }
        history.append(record)
        if on_epoch:
            on_epoch(record)
        if time.perf_counter() > deadline:
            break
    out_dir.mkdir(parents=True, exist_ok=True)
    save_encoder_folder(encoder.eval().half(), spec, out_dir)
    result = {
        "config": asdict(config),
        "start": vars(spec),
        "n_images": len(images),
        "n_probe": n_probe,
        "epochs_run": len(history) - 1,
        "history": history,
    }
    (out_dir / "training.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


def model_card(record: dict, dataset: str, command: str) -> str:
    """The adapted weights' model card: data, settings, time, and the
    label-free check per epoch."""
    config, start = record["config"], record["start"]
    minutes = sum(r["seconds"] for r in record["history"]) / 60
    curve = "\n".join(
        f"| {r['epoch']} | {r.get('loss', float('nan')):.3f} | "
        f"{r.get('contrastive', float('nan')):.3f} | "
        f"{r.get('anchor', float('nan')):.3f} | {r['view_matching']:.1%} | "
        f"{r['seconds']:.0f} |"
        for r in record["history"]
    )
    return f"""# {start["architecture"]} adapted to {dataset}

timm `{start["architecture"]}`, {start["channels"]} channel(s), {start["image_size"]} px
input, the preprocessing of the encoder it started from
(`{start["weights"] or "random init"}`). Weights: `model.safetensors` (fp16), timm
format with `config.json`; `training.json` holds the full record.

## Reproduce

    {command}

Training took {minutes:.1f} minutes here ({record["epochs_run"]} of
{config["epochs"]} epochs; the run stops after {config["minutes"]:g} minutes).

## Data

{record["n_images"]:,} unlabelled images of the dataset `{dataset}` (at most
{config["max_images"]:,}, a seeded random pick); {record["n_probe"]} of them held out
for the check below. No label, vote or tag was read.

## Training

SimCLR: two augmented views of each galaxy (flips, any rotation, 0.85-1.2x zoom,
shifts, contrast, sky level, noise) through the encoder and a projection head
(512, {config["projection"]}); NT-Xent loss at temperature {config["temperature"]},
plus {config["anchor"]:g} x the squared distance of each galaxy's features from the
starting encoder's (relative to their spread), which keeps what that encoder
learnt. AdamW, learning rate {config["learning_rate"]}, weight decay
{config["weight_decay"]}, batch {config["batch_size"]}, seed {config["seed"]}; the
last epoch is kept. Batch-norm statistics follow the new images.

## Check without labels

View matching: for the held-out galaxies, how often the nearest (cosine) of all
first views to a galaxy's second view is its own. Epoch 0 is the starting encoder.

| epoch | loss | contrastive | anchor | view matching | seconds |
| --- | --- | --- | --- | --- | --- |
{curve}

## Limits

Whether the adapted features serve a science question better is measured with
labels that training never saw (`benchmarks/adapt.py`, benchmarks/README.md), not
assumed from the loss.
"""


def _fixed() -> torch.Generator:
    """The same views of the held-out galaxies at every epoch."""
    return torch.Generator().manual_seed(12345)


def _features(encoder: nn.Module, images: torch.Tensor) -> torch.Tensor:
    encoder.eval()
    with torch.no_grad():  # not inference mode: the anchor term reads them
        return torch.cat(
            [encoder(images[i : i + 256].float()) for i in range(0, len(images), 256)]
        )
