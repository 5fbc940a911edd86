"""Pretrain the default encoder on a synthetic survey's volunteer votes.

The encoder (timm ``efficientnet_b0``, greyscale) learns to predict the broad
decision-tree questions (``PRETRAINING_QUESTIONS`` of
:mod:`morph_core.synthetic.volunteers`) from a training survey with its own
seed, never the demo sky. The loss is the multinomial negative log-likelihood
of each question's votes per volunteer (a question nobody reached adds
nothing), as Zoobot learns from vote counts. Rings, lenses, dust lanes, "odd"
and the tags are never targets: they test transfer.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import timm
import torch
import torch.nn.functional as F

from morph_core.encoder import save_encoder_folder
from morph_core.encoder_spec import EncoderSpec
from morph_core.progress import ProgressFn
from morph_core.synthetic import SurveySpec, make_survey
from morph_core.synthetic.volunteers import PRETRAINING_QUESTIONS, QUESTIONS

EpochFn = Callable[[dict], None]
DEFAULT_WEIGHTS_FOLDER = Path(__file__).parent / "weights" / "efficientnet_b0-synthetic"


@dataclass(frozen=True)
class PretrainConfig:
    """Everything the pretrained weights follow from.

    >>> PretrainConfig(epochs=0)
    Traceback (most recent call last):
    ...
    ValueError: epochs must be >= 1, not 0
    """

    n_galaxies: int = 24000
    data_seed: int = 7  # the demo sky uses 42
    render_size: int = 128
    image_size: int = 96
    architecture: str = "efficientnet_b0"
    epochs: int = 11
    batch_size: int = 128
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    val_fraction: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("n_galaxies", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, not {getattr(self, name)}")
        if not 32 <= self.image_size <= self.render_size:
            raise ValueError("image_size must be in 32..render_size")
        if not 0 < self.val_fraction < 0.5:
            raise ValueError("val_fraction must be in (0, 0.5)")

    def encoder_spec(self) -> EncoderSpec:
        return EncoderSpec(
            architecture=self.architecture,
            channels=1,
            image_size=self.image_size,
            mean=(0.1,),
            std=(0.15,),
        )


def answer_columns() -> tuple[list[str], list[slice]]:
    """Vote-count columns of the pretraining questions, and each question's slice."""
    columns, slices = [], []
    for question in PRETRAINING_QUESTIONS:
        start = len(columns)
        columns += [f"{question}_{answer}" for answer in QUESTIONS[question]]
        slices.append(slice(start, len(columns)))
    return columns, slices


def vote_loss(
    logits: torch.Tensor, counts: torch.Tensor, slices: list[slice]
) -> torch.Tensor:
    """Per-question multinomial NLL of the votes, per volunteer: ``(n_questions,)``.

    Each galaxy's votes for a question weigh by their number, so a question most
    volunteers never reached counts little. ``counts`` are vote counts.
    """
    volunteers = counts[:, slices[0]].sum(1).clamp(min=1)
    losses = []
    for s in slices:
        nll = -(counts[:, s] * F.log_softmax(logits[:, s], dim=1)).sum(1)
        losses.append((nll / volunteers).mean())
    return torch.stack(losses)


def augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Flips, any rotation, 0.85-1.2x zoom, small shifts, contrast, sky level
    and noise (images normalised as the encoder sees them)."""
    n = images.shape[0]

    def uniform(lo: float, hi: float) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(n, generator=generator)

    angle = uniform(0, 2 * math.pi)
    zoom = uniform(0.85, 1.2)
    flip = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack(
        [
            torch.stack([cos * flip, -sin, uniform(-0.06, 0.06)], 1),
            torch.stack([sin * flip, cos, uniform(-0.06, 0.06)], 1),
        ],
        1,
    )
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    out = F.grid_sample(images, grid, padding_mode="reflection", align_corners=False)
    out = out * uniform(0.75, 1.3)[:, None, None, None]
    out = out + uniform(-0.1, 0.3)[:, None, None, None]
    noise = uniform(0, 0.25)[:, None, None, None]
    return out + noise * torch.randn(out.shape, generator=generator)


class VoteModel(torch.nn.Module):
    """Encoder + one linear layer giving every answer's logit."""

    def __init__(self, config: PretrainConfig, n_answers: int):
        super().__init__()
        self.encoder = timm.create_model(
            config.architecture, pretrained=False, num_classes=0, in_chans=1
        )
        self.head = torch.nn.Linear(self.encoder.num_features, n_answers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))


def training_survey(
    config: PretrainConfig, work_dir: Path, progress: ProgressFn | None = None
) -> pd.DataFrame:
    """The training survey's catalogue, rendered into ``work_dir`` once."""
    spec = SurveySpec(config.n_galaxies, config.render_size, config.data_seed)
    table_file = work_dir / (
        f"survey-{config.n_galaxies}-{config.data_seed}-{config.render_size}px.parquet"
    )
    if table_file.is_file():
        return pd.read_parquet(table_file)
    table = make_survey(spec, work_dir / "images", progress)
    table.to_parquet(table_file)
    return table


def pretrain(
    config: PretrainConfig,
    catalog: pd.DataFrame,
    images: torch.Tensor,
    out_dir: Path,
    device: str = "cpu",
    progress: ProgressFn | None = None,
    on_epoch: EpochFn | None = None,
) -> dict:
    """Train, keep the epoch with the lowest validation loss, save it to ``out_dir``.

    ``out_dir`` gets timm's folder format (``config.json`` + fp16
    ``model.safetensors``) and ``training.json`` with the config and history.
    Returns that record.
    """
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    columns, slices = answer_columns()
    counts = torch.tensor(catalog[columns].to_numpy(np.float32))
    order = torch.randperm(len(catalog), generator=generator)
    n_val = max(1, int(len(catalog) * config.val_fraction))
    val, train = order[:n_val], order[n_val:]

    model = VoteModel(config, len(columns)).to(device)
    model = model.to(memory_format=torch.channels_last)
    optimiser = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    steps = config.epochs * math.ceil(len(train) / config.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, config.learning_rate, total_steps=steps, pct_start=0.1
    )
    history, best, best_state = [], math.inf, None
    step = 0
    for epoch in range(1, config.epochs + 1):
        start = time.perf_counter()
        model.train()
        shuffled = train[torch.randperm(len(train), generator=generator)]
        total = 0.0
        for i in range(0, len(shuffled), config.batch_size):
            idx = shuffled[i : i + config.batch_size]
            x = augment(images[idx].float(), generator).to(device)
            x = x.contiguous(memory_format=torch.channels_last)
            loss = vote_loss(model(x), counts[idx].to(device), slices).sum()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += loss.item() * len(idx)
            step += 1
            if progress:
                progress(step, steps)
        record = {
            "epoch": epoch,
            "train_loss": round(total / len(train), 4),
            **evaluate(model, images[val], counts[val], slices, device),
            "learning_rate": schedule.get_last_lr()[0],
            "seconds": round(time.perf_counter() - start, 1),
        }
        history.append(record)
        if on_epoch:
            on_epoch(record)
        if record["val_loss"] < best:
            best = record["val_loss"]
            best_state = {
                k: v.detach().to("cpu", torch.half).clone()
                for k, v in model.encoder.state_dict().items()
            }
    encoder = timm.create_model(
        config.architecture, pretrained=False, num_classes=0, in_chans=1
    )
    encoder.load_state_dict(best_state)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_encoder_folder(encoder.half(), config.encoder_spec(), out_dir)
    record = {
        "config": asdict(config),
        "questions": {q: list(QUESTIONS[q]) for q in PRETRAINING_QUESTIONS},
        "n_train": len(train),
        "n_val": n_val,
        "best_epoch": min(history, key=lambda r: r["val_loss"])["epoch"],
        "history": history,
    }
    (out_dir / "training.json").write_text(json.dumps(record, indent=1) + "\n")
    (out_dir / "MODEL_CARD.md").write_text(model_card(record))
    return record


def model_card(record: dict) -> str:
    """The weights' model card: data, questions, training, validation per question."""
    config = record["config"]
    best = next(r for r in record["history"] if r["epoch"] == record["best_epoch"])
    minutes = sum(r["seconds"] for r in record["history"]) / 60
    rows = "\n".join(
        f"| {q} | {', '.join(answers)} | {best[f'val_loss/{q}']:.3f} | "
        f"{best[f'val_accuracy/{q}']:.1%} |"
        for q, answers in record["questions"].items()
    )
    curve = "\n".join(
        f"| {r['epoch']} | {r['train_loss']:.3f} | {r['val_loss']:.3f} | "
        f"{r['seconds']:.0f} |"
        for r in record["history"]
    )
    return f"""# {config["architecture"]}-synthetic: the default encoder

timm `{config["architecture"]}`, greyscale (1 channel), {config["image_size"]} px input
(a centre crop of 224/300 of the image, as in Walmsley et al. 2022), pooled
{record.get("n_features", 1280)}-d features. Weights: `model.safetensors` (fp16), timm
format with `config.json`; `training.json` holds the full history.

## Reproduce (CPU, 2 cores, under 60 minutes)

    python -m morph_core pretrain --galaxies {config["n_galaxies"]} \\
        --data-seed {config["data_seed"]} --epochs {config["epochs"]} \\
        --image-size {config["image_size"]} --batch-size {config["batch_size"]}

Training on this machine took {minutes:.1f} minutes (rendering the training survey
and loading it come on top: a few minutes).

## Data

A synthetic training survey of {config["n_galaxies"]:,} GalSim galaxies rendered at
{config["render_size"]} px from data seed {config["data_seed"]}
(the demo sky uses seed 42:
no galaxy is shared). {record["n_train"]:,} for training, {record["n_val"]:,} held out
for validation (seed {config["seed"]}). Augmentation: flips, any rotation, 0.85-1.2x
zoom, shifts, contrast, sky level and noise.

## Targets

The simulated volunteers' vote counts for the broad decision-tree questions only;
loss: multinomial negative log-likelihood of each question's votes, per volunteer.
Never trained on rings, lenses, dust lanes, "odd" or tags: those test transfer
(`benchmarks/transfer.py`).

## Validation (best epoch, {record["best_epoch"]} of {config["epochs"]})

Accuracy: the predicted top answer equals the volunteers' top answer, galaxies with
at least 5 votes for the question.

| question | answers | loss | accuracy |
| --- | --- | --- | --- |
{rows}

| epoch | train loss | val loss | seconds |
| --- | --- | --- | --- |
{curve}

## Training

AdamW (learning rate {config["learning_rate"]}, one-cycle, weight decay
{config["weight_decay"]}), batch {config["batch_size"]}, {config["epochs"]} epochs,
torch seed
{config["seed"]}; the epoch with the lowest validation loss is kept.

## Limits

Trained on simulations: how far the features transfer to real survey images is
measured, not assumed (`benchmarks/README.md`, transfer). Licence: the project's.
"""


def evaluate(
    model: torch.nn.Module,
    images: torch.Tensor,
    counts: torch.Tensor,
    slices: list[slice],
    device: str,
) -> dict:
    """Validation loss, and per question the loss and the accuracy: how often the
    predicted top answer is the volunteers' top answer (galaxies with >= 5 votes)."""
    model.eval()
    logits = []
    with torch.inference_mode():
        for i in range(0, len(images), 256):
            x = images[i : i + 256].float().to(device)
            logits.append(model(x.contiguous(memory_format=torch.channels_last)).cpu())
    out = torch.cat(logits)
    per_question = vote_loss(out, counts, slices)
    result: dict = {"val_loss": round(float(per_question.sum()), 4)}
    for question, s, loss in zip(
        PRETRAINING_QUESTIONS, slices, per_question, strict=True
    ):
        votes = counts[:, s]
        answered = votes.sum(1) >= 5
        agree = out[:, s].argmax(1) == votes.argmax(1)
        result[f"val_loss/{question}"] = round(float(loss), 4)
        result[f"val_accuracy/{question}"] = round(
            float(agree[answered].float().mean()) if answered.any() else float("nan"), 4
        )
    return result
