"""Fine-tune the encoder to a new question from a handful of labels (§4).

First the head alone learns on the frozen encoder's features (computed once,
Adam 1e-3, early stopping); then, for strategy ``"staged"``, the encoder is
unfrozen from the top block down (:func:`~morph_core.finetune.model.unfreeze_stages`)
at a lower learning rate (paper: 1e-5), on augmented images, batch-norm
statistics frozen, each stage stopped early. The epoch with the lowest
validation loss is kept (``model.safetensors`` in the run folder), then scored
once on the held-out test set.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from sklearn.metrics import roc_auc_score

from morph_core.encoder import build_encoder, preprocess_files
from morph_core.encoder_spec import EncoderSpec
from morph_core.errors import MorphCoreError, WeightsError
from morph_core.finetune.labels import Labels, Split, balanced_split, labels_from_column
from morph_core.finetune.model import (
    DROPOUT,
    HIDDEN,
    Classifier,
    Head,
    freeze_batch_norm,
    probabilities,
    unfreeze_stages,
)
from morph_core.pretrain import augment
from morph_core.progress import ProgressFn

Strategy = Literal["head", "staged"]
STRATEGIES: tuple[Strategy, ...] = ("head", "staged")
EpochFn = Callable[[dict], None]
StopFn = Callable[[], bool]
HEAD_EPOCH_SAMPLES = 256  # features are cached: cheap, and few labels need steps


class StopRequested(MorphCoreError):
    """The run was asked to stop."""


@dataclass(frozen=True)
class FineTuneConfig:
    """How a run trains. Defaults follow the paper where it says."""

    n_per_class: int = 20
    strategy: Strategy = "staged"
    seed: int = 0
    head_lr: float = 1e-3
    finetune_lr: float = 1e-5
    hidden: int = HIDDEN
    dropout: float = DROPOUT
    head_epochs: int = 150
    head_patience: int = 15
    stages: int = 6  # how many unfreezing stages to go through (6: down to "all")
    stage_epochs: int = 8
    stage_patience: int = 3
    batch_size: int = 32

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise MorphCoreError(
                f"unknown strategy {self.strategy!r}; choose from {STRATEGIES}"
            )
        if self.n_per_class < 2:
            raise MorphCoreError("at least 2 labels per class are needed")


@dataclass
class Run:
    """A trained classifier with its history and test scores.

    ``predict(catalog)`` gives each galaxy's class probabilities.
    """

    config: FineTuneConfig
    spec: EncoderSpec
    classes: tuple[str, ...]
    model: Classifier
    history: list[dict] = field(default_factory=list)
    test: dict = field(default_factory=dict)
    folder: Path | None = None

    def predict(
        self,
        catalog: pd.DataFrame,
        batch_size: int = 64,
        progress: ProgressFn | None = None,
    ) -> np.ndarray:
        """Probabilities ``(n_galaxies, n_classes)`` for the catalogue's ``file``s."""
        files = catalog["file"].astype(str).tolist()
        out = np.zeros((len(files), len(self.classes)), np.float32)
        self.model.eval()
        for start in range(0, len(files), 512):
            images = preprocess_files(files[start : start + 512], self.spec).float()
            with torch.inference_mode():
                for i in range(0, len(images), batch_size):
                    logits = self.model(images[i : i + batch_size])
                    out[start + i : start + i + len(logits)] = probabilities(logits)
            if progress:
                progress(min(start + 512, len(files)), len(files))
        return out

    def predict_features(self, features: np.ndarray) -> np.ndarray:
        """Probabilities from the encoder's pooled features (head only): the fast
        path when the encoder was not changed."""
        self.model.eval()
        with torch.inference_mode():
            logits = self.model.head(
                torch.as_tensor(np.array(features, dtype=np.float32))
            )
        return probabilities(logits).numpy()

    @property
    def encoder_changed(self) -> bool:
        return any(r["stage"] != "head" for r in self.history if r.get("best"))

    def save(self, folder: Path) -> None:
        """``model.safetensors`` (encoder + head) and ``run.json``."""
        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().contiguous() for k, v in self.model.state_dict().items()}
        save_file(state, folder / "model.safetensors")
        record = {
            "config": asdict(self.config),
            "spec": {k: v for k, v in vars(self.spec).items()},
            "classes": list(self.classes),
            "history": self.history,
            "test": self.test,
        }
        (folder / "run.json").write_text(json.dumps(record, indent=1, default=list))
        self.folder = folder

    @classmethod
    def load(cls, folder: Path) -> Run:
        """A saved run, its weights read with safetensors (never a pickle)."""
        try:
            record = json.loads((folder / "run.json").read_text())
            state = load_file(folder / "model.safetensors")
        except (OSError, ValueError) as e:
            raise MorphCoreError(f"run {folder.name} has no finished model: {e}") from e
        config = FineTuneConfig(**record["config"])
        spec = EncoderSpec.from_record(record["spec"])
        classes = tuple(record["classes"])
        model = _classifier(
            EncoderSpec.from_record(record["spec"] | {"weights": None}),
            len(classes),
            config,
        )
        model.load_state_dict(state)
        return cls(
            config,
            spec,
            classes,
            model.eval(),
            record["history"],
            record["test"],
            folder,
        )


def _classifier(
    spec: EncoderSpec, n_classes: int, config: FineTuneConfig
) -> Classifier:
    encoder = build_encoder(spec)
    n_features = int(encoder.num_features)
    torch.manual_seed(config.seed)
    return Classifier(
        encoder, Head(n_features, n_classes, config.hidden, config.dropout)
    )


def finetune(
    catalog: pd.DataFrame,
    label_column: str,
    n_labels: int = 20,
    init: str | EncoderSpec = "pretrained",
    strategy: Strategy = "staged",
    threshold: float | None = None,
    seed: int = 0,
    folder: Path | None = None,
    progress: ProgressFn | None = None,
    **options,
) -> Run:
    """Fine-tune on ``n_labels`` labels per class of ``label_column``.

    Parameters
    ----------
    catalog : DataFrame
        With ``file`` (image paths) and the label column.
    init : str or EncoderSpec
        ``"pretrained"`` (the project's default weights), ``"random"`` (same
        architecture, random init), a weights path (``.safetensors`` file or
        timm folder), or a spec.
    threshold : float, optional
        For a numeric column: label 1 where value >= threshold.
    options
        Other :class:`FineTuneConfig` fields.

    Example (see the README): ``run = finetune(catalog, "ring", n_labels=10)``,
    then ``run.test["auc"]`` and ``run.predict(catalog)[:, 1]``.
    """
    labels = labels_from_column(catalog, label_column, threshold)
    config = FineTuneConfig(
        n_per_class=n_labels, strategy=strategy, seed=seed, **options
    )
    split = balanced_split(labels, n_labels, seed)
    return train_run(
        catalog, labels, split, resolve_init(init), config, folder, progress
    )


def resolve_init(init: str | EncoderSpec) -> EncoderSpec:
    """The encoder spec of ``"pretrained"``, ``"random"``, a path, or a spec."""
    if isinstance(init, EncoderSpec):
        return init
    from morph_core.pretrain import DEFAULT_WEIGHTS_FOLDER

    pretrained = EncoderSpec.from_folder(DEFAULT_WEIGHTS_FOLDER)
    if init == "pretrained":
        return pretrained
    if init == "random":
        return EncoderSpec.from_record(vars(pretrained) | {"weights": None, "seed": 0})
    path = Path(init)
    if path.is_dir():
        return EncoderSpec.from_folder(path)
    if path.is_file():
        return EncoderSpec.from_record(vars(pretrained) | {"weights": str(path)})
    raise WeightsError(
        f"init must be 'pretrained', 'random' or a weights path; {init!r} is none"
    )


def train_run(
    catalog: pd.DataFrame,
    labels: Labels,
    split: Split,
    spec: EncoderSpec,
    config: FineTuneConfig,
    folder: Path | None = None,
    progress: ProgressFn | None = None,
    on_epoch: EpochFn | None = None,
    should_stop: StopFn | None = None,
) -> Run:
    """Train, keep the best epoch, score it on the test set; saved to ``folder``."""
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    model = _classifier(spec, len(labels.classes), config)
    files = catalog["file"].astype(str).to_numpy()
    rows = np.concatenate([split.train, split.val, split.test])
    images = dict(zip(rows, preprocess_files(list(files[rows]), spec), strict=True))

    def stack(part: np.ndarray) -> torch.Tensor:
        return torch.stack([images[r] for r in part]).float()

    y = {
        name: torch.as_tensor(labels.values[getattr(split, name)])
        for name in ("train", "val", "test")
    }
    x = {name: stack(getattr(split, name)) for name in ("train", "val", "test")}
    run = Run(config, spec, labels.classes, model, folder=folder)
    best = {"loss": math.inf, "state": None}
    total_epochs = config.head_epochs + (
        config.stages * config.stage_epochs if config.strategy == "staged" else 0
    )
    done = 0

    def record(stage: str, lr: float, train_loss: float, start: float) -> bool:
        nonlocal done
        done += 1
        if stage == "head":  # the encoder is frozen: its features are cached
            metrics = evaluate(model.head, feats["val"], y["val"], len(labels.classes))
        else:
            metrics = evaluate(model, x["val"], y["val"], len(labels.classes))
        improved = metrics["loss"] < best["loss"] - 1e-4
        entry = {
            "epoch": len(run.history) + 1,
            "stage": stage,
            "train_loss": round(train_loss, 4),
            "val_loss": round(metrics["loss"], 4),
            "val_accuracy": round(metrics["accuracy"], 4),
            "val_auc": round(metrics["auc"], 4),
            "learning_rate": lr,
            "seconds": round(time.perf_counter() - start, 2),
            "best": improved,
        }
        if improved:
            best.update(
                loss=metrics["loss"],
                state={k: v.clone() for k, v in model.state_dict().items()},
            )
            for r in run.history:
                r["best"] = False
        run.history.append(entry)
        if on_epoch:
            on_epoch(entry)
        if progress:
            progress(done, total_epochs)
        if should_stop and should_stop():
            raise StopRequested("stopped on request")
        return improved

    # 1. the head on frozen features, computed once
    model.encoder.eval()
    with torch.no_grad():  # not inference_mode: the head saves its input for backward
        feats = {k: _embed(model.encoder, v) for k, v in x.items()}
    optimiser = torch.optim.Adam(model.head.parameters(), lr=config.head_lr)
    stale = 0
    for _ in range(config.head_epochs):
        start = time.perf_counter()
        model.head.train()
        order = _epoch_order(len(feats["train"]), generator)
        losses = []
        for i in range(0, len(order), config.batch_size):
            idx = order[i : i + config.batch_size]
            loss = _loss(model.head(feats["train"][idx]), y["train"][idx])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
        stale = (
            0
            if record("head", config.head_lr, float(np.mean(losses)), start)
            else stale + 1
        )
        if stale >= config.head_patience:
            break

    # 2. staged unfreezing on augmented images
    if config.strategy == "staged":
        model.load_state_dict(best["state"])
        for p in model.encoder.parameters():
            p.requires_grad = False
        for name, group in unfreeze_stages(model.encoder)[: config.stages]:
            for module in group:
                for p in module.parameters():
                    p.requires_grad = True
            trainable = [p for p in model.parameters() if p.requires_grad]
            optimiser = torch.optim.Adam(trainable, lr=config.finetune_lr)
            stale = 0
            for _ in range(config.stage_epochs):
                start = time.perf_counter()
                model.train()
                freeze_batch_norm(model)
                order = torch.randperm(len(x["train"]), generator=generator)
                losses = []
                for i in range(0, len(order), config.batch_size):
                    idx = order[i : i + config.batch_size]
                    batch = augment(x["train"][idx], generator)
                    loss = _loss(model(batch), y["train"][idx])
                    optimiser.zero_grad()
                    loss.backward()
                    optimiser.step()
                    losses.append(loss.item())
                stale = (
                    0
                    if record(name, config.finetune_lr, float(np.mean(losses)), start)
                    else stale + 1
                )
                if stale >= config.stage_patience:
                    break
            model.load_state_dict(best["state"])  # each stage starts from the best

    model.load_state_dict(best["state"])
    model.eval()
    run.test = {
        k: round(v, 4)
        for k, v in evaluate(model, x["test"], y["test"], len(labels.classes)).items()
    } | {
        "n_test": int(len(split.test)),
        "n_train": int(len(split.train)),
        "n_val": int(len(split.val)),
    }
    if folder is not None:
        run.save(folder)
    return run


def _epoch_order(n: int, generator: torch.Generator) -> torch.Tensor:
    """Shuffled rows for one head epoch, repeated up to :data:`HEAD_EPOCH_SAMPLES`
    so that a handful of labels still gets several optimiser steps an epoch."""
    repeats = max(1, math.ceil(HEAD_EPOCH_SAMPLES / n))
    return torch.cat([torch.randperm(n, generator=generator) for _ in range(repeats)])


def _embed(encoder: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    return torch.cat([encoder(images[i : i + 128]) for i in range(0, len(images), 128)])


def _loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if logits.shape[1] == 1:
        return F.binary_cross_entropy_with_logits(logits[:, 0], y.float())
    return F.cross_entropy(logits, y.long())


def evaluate(
    model: torch.nn.Module, inputs: torch.Tensor, y: torch.Tensor, n_classes: int
) -> dict:
    """Loss, accuracy and ROC AUC (one-vs-rest for classes; NaN if one class).

    ``model`` is the classifier on images, or its head on cached features."""
    model.eval()
    with torch.inference_mode():
        logits = torch.cat(
            [model(inputs[i : i + 128]) for i in range(0, len(inputs), 128)]
        )
    p = probabilities(logits).numpy()
    truth = y.numpy()
    try:
        auc = (
            roc_auc_score(truth, p[:, 1])
            if n_classes == 2
            else roc_auc_score(
                truth, p, multi_class="ovr", labels=list(range(n_classes))
            )
        )
    except ValueError:
        auc = float("nan")
    return {
        "loss": float(_loss(logits, y)),
        "accuracy": float((p.argmax(1) == truth).mean()),
        "auc": float(auc),
    }
