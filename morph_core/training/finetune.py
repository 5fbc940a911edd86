"""Fine-tune the encoder to a new question from a handful of labels (§4): to
classes, to a vote fraction, or to decision-tree vote counts
(:mod:`~morph_core.training.tasks`).

First the head alone learns on the frozen encoder's features (computed once,
Adam 1e-3, early stopping); then, for strategy ``"staged"``, the encoder is
unfrozen from the top block down (:func:`~morph_core.training.schedule.unfreeze_stages`)
at a lower learning rate (paper: 1e-5), on augmented images, batch-norm
statistics frozen, each stage stopped early. The epoch with the lowest
validation loss is kept (``model.safetensors`` in the run folder), then scored
once on the held-out test set.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file, save_file

from morph_core.data.manifest import load_manifest
from morph_core.errors import MorphCoreError
from morph_core.model.augment import augment
from morph_core.model.encoder import build_encoder, preprocess_files
from morph_core.model.heads import Classifier, Head
from morph_core.model.spec import EncoderSpec
from morph_core.model.weights import resolve_encoder
from morph_core.progress import ProgressFn
from morph_core.training.config import FinetuneConfig, FinetuneStrategy
from morph_core.training.labels import Labels, Split, labels_from_column
from morph_core.training.loop import EpochFn, Phase, StopFn, Trainer
from morph_core.training.schedule import (
    freeze_batch_norm,
    set_trainable,
    stage_param_groups,
    unfreeze_stages,
)
from morph_core.training.targets import Targets, fraction_targets, vote_targets
from morph_core.training.tasks import Classify, Fraction, Votes, make_task

HEAD_EPOCH_SAMPLES = 256  # features are cached: cheap, and few labels need steps
MIN_DELTA = 1e-4  # a validation loss must improve by this much to count
_PARTS = ("train", "val", "test")  # of the labelled galaxies (balanced_split)


@dataclass
class FinetuneRun:
    """A trained model with its history and test scores.

    ``classes`` are the class names, or for a regression the catalogue columns
    it predicts (one fraction; every answer's votes, grouped by ``questions``).
    ``predict(catalog)`` gives each galaxy's class probabilities, or its
    predicted fractions (for vote counts: each answer's expected fraction).
    """

    config: FinetuneConfig
    spec: EncoderSpec | None  # None: a head on a published table's features
    classes: tuple[str, ...]
    model: Classifier
    history: list[dict] = field(default_factory=list)
    test: dict = field(default_factory=dict)
    folder: Path | None = None
    questions: tuple[tuple[str, int, int], ...] = ()

    @property
    def task(self) -> Classify | Fraction | Votes:
        return make_task(self.config.task, len(self.classes), self.questions)

    def predict(
        self,
        catalog: pd.DataFrame,
        batch_size: int = 64,
        progress: ProgressFn | None = None,
    ) -> np.ndarray:
        """Predictions ``(n_galaxies, len(classes))`` for the catalogue's ``file``s."""
        if self.spec is None:
            raise MorphCoreError(
                "this run learnt from a table's features, without their encoder: "
                "it predicts from those features only"
            )
        files = catalog["file"].astype(str).tolist()
        out = np.zeros((len(files), len(self.classes)), np.float32)
        self.model.eval()
        task = self.task
        for start in range(0, len(files), 512):
            images = preprocess_files(files[start : start + 512], self.spec).float()
            with torch.inference_mode():
                for i in range(0, len(images), batch_size):
                    logits = self.model(images[i : i + batch_size])
                    out[start + i : start + i + len(logits)] = task.predict(logits)
            if progress:
                progress(min(start + 512, len(files)), len(files))
        return out

    def predict_features(self, features: np.ndarray) -> np.ndarray:
        """Predictions from the encoder's pooled features (head only): the fast
        path when the encoder was not changed."""
        self.model.eval()
        with torch.inference_mode():
            logits = self.model.head(
                torch.as_tensor(np.array(features, dtype=np.float32))
            )
        return self.task.predict(logits).numpy()

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
            "spec": vars(self.spec) if self.spec is not None else None,
            "n_features": self.model.head.n_features,
            "classes": list(self.classes),
            "questions": [list(q) for q in self.questions],
            "history": self.history,
            "test": self.test,
        }
        (folder / "run.json").write_text(json.dumps(record, indent=1, default=list))
        self.folder = folder

    @classmethod
    def load(cls, folder: Path) -> FinetuneRun:
        """A saved run, its weights read with safetensors (never a pickle)."""
        try:
            record = json.loads((folder / "run.json").read_text())
            state = load_file(folder / "model.safetensors")
        except (OSError, ValueError) as e:
            raise MorphCoreError(f"run {folder.name} has no finished model: {e}") from e
        config = FinetuneConfig(**record["config"])
        spec = EncoderSpec.from_record(record["spec"]) if record["spec"] else None
        classes = tuple(record["classes"])
        questions = tuple(tuple(q) for q in record.get("questions", []))
        encoder = spec.random_init(spec.seed) if spec is not None else None
        n_outputs = make_task(config.task, len(classes), questions).n_outputs
        model = _classifier(encoder, n_outputs, config, record.get("n_features"))
        loaded = model.load_state_dict(state, strict=False)
        # a run saved before heads standardised their input: mean 0 and scale 1
        # keep it as it was trained
        missing = set(loaded.missing_keys) - {"head.mean", "head.scale"}
        if missing or loaded.unexpected_keys:
            raise MorphCoreError(
                f"run {folder.name}: its weights do not fit its model "
                f"({sorted(missing)[:3]} missing, "
                f"{loaded.unexpected_keys[:3]} not used)"
            )
        return cls(
            config,
            spec,
            classes,
            model.eval(),
            record["history"],
            record["test"],
            folder,
            questions,
        )


def _classifier(
    spec: EncoderSpec | None,
    n_outputs: int,
    config: FinetuneConfig,
    n_features: int | None = None,
) -> Classifier:
    """The encoder of ``spec`` and a new head of ``n_outputs``; without a spec,
    a head alone on ``n_features`` given features (a table's, made by an
    encoder not here)."""
    encoder = build_encoder(spec) if spec is not None else torch.nn.Identity()
    width = int(encoder.num_features) if spec is not None else int(n_features or 0)
    torch.manual_seed(config.seed)
    head = Head(width, n_outputs, config.hidden, config.head_dropout)
    return Classifier(encoder, head)


def finetune(
    catalog: pd.DataFrame,
    label_column: str | None,
    n_labels: int = 20,
    init: str | EncoderSpec = "pretrained",
    strategy: FinetuneStrategy = "staged",
    threshold: float | None = None,
    seed: int = 0,
    folder: Path | None = None,
    progress: ProgressFn | None = None,
    **options,
) -> FinetuneRun:
    """Fine-tune on ``n_labels`` labels per class of ``label_column``.

    Parameters
    ----------
    catalog : DataFrame
        With ``file`` (image paths) and the label column.
    label_column : str or None
        Classes, or with ``task="fraction"`` a vote fraction to regress
        (``n_labels`` galaxies in all); with ``task="votes"`` the question
        whose vote counts to learn (None: every question of the catalogue).
    init : str or EncoderSpec
        A choice for :func:`~morph_core.model.weights.resolve_encoder`
        (``"pretrained"``: the manifest's default weights here, as no dataset
        is named; ``"random"``; a manifest weights name or a weights path), or
        a spec, e.g. a prepared dataset's ``encoder_spec()``.
    threshold : float, optional
        For a numeric column: label 1 where value >= threshold.
    options
        Other :class:`~morph_core.training.config.FinetuneConfig` fields,
        e.g. ``task``.

    Example (see the README): ``run = finetune(catalog, "ring", n_labels=10)``,
    then ``run.test["auc"]`` and ``run.predict(catalog)[:, 1]``.
    """
    config = FinetuneConfig(
        n_per_class=n_labels, strategy=strategy, seed=seed, **options
    )
    if config.task == "votes":
        labels = vote_targets(catalog, [label_column] if label_column else [])
    elif config.task == "fraction":
        labels = fraction_targets(catalog, str(label_column))
    else:
        labels = labels_from_column(catalog, str(label_column), threshold)
    split = labels.split(n_labels, seed)
    spec = (
        init
        if isinstance(init, EncoderSpec)
        else resolve_encoder(init, load_manifest())
    )
    return train_run(catalog, labels, split, spec, config, folder, progress)


def train_run(
    catalog: pd.DataFrame,
    labels: Labels | Targets,
    split: Split,
    spec: EncoderSpec | None,
    config: FinetuneConfig,
    folder: Path | None = None,
    progress: ProgressFn | None = None,
    on_epoch: EpochFn | None = None,
    should_stop: StopFn | None = None,
    features: np.ndarray | None = None,
) -> FinetuneRun:
    """Train, keep the best epoch, score it on the test set; saved to ``folder``.

    ``labels``: classes (:class:`~morph_core.training.labels.Labels`), or
    targets to regress (:class:`~morph_core.training.targets.Targets`), as
    ``config.task`` asks.

    ``features``: the encoder's pooled features of the catalogue's rows (a
    prepared dataset's, made by ``spec``). A head-only run then reads no image
    and runs no encoder: a run on the demo sky takes seconds, not minutes.
    ``spec`` None: a head on ``features`` alone (a published table's, whose
    encoder is not here).
    """
    if spec is None and (features is None or config.strategy != "head"):
        raise MorphCoreError("without an encoder, only a head on given features")
    if isinstance(labels, Targets) == (config.task == "classify"):
        raise MorphCoreError(f"task {config.task!r} does not learn from these labels")
    names = labels.classes if isinstance(labels, Labels) else labels.columns
    questions = labels.questions if isinstance(labels, Targets) else ()
    task = make_task(config.task, len(names), questions)
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    width = features.shape[1] if features is not None else None
    model = _classifier(spec, task.n_outputs, config, width)
    y = {p: torch.as_tensor(labels.values[getattr(split, p)]) for p in _PARTS}
    if features is not None and config.strategy == "head":
        feats = {
            p: torch.as_tensor(np.asarray(features[getattr(split, p)], np.float32))
            for p in _PARTS
        }
        x = feats  # scored by the head alone
    else:
        files = catalog["file"].astype(str).to_numpy()
        rows = np.concatenate([split.train, split.val, split.test])
        pixels = preprocess_files(list(files[rows]), spec)
        images = dict(zip(rows, pixels, strict=True))
        x = {
            p: torch.stack([images[r] for r in getattr(split, p)]).float()
            for p in _PARTS
        }
        model.encoder.eval()
        with torch.no_grad():  # not inference_mode: the head saves its input
            feats = {part: _embed(model.encoder, pixels) for part, pixels in x.items()}
    model.head.standardise_from(feats["train"])
    phases = [_head_phase(model, feats, y, task, config, generator)]
    if config.strategy == "staged":
        set_trainable(list(model.encoder.parameters()), False)
        stages = unfreeze_stages(model.encoder)[: config.stages]
        phases += [
            _stage_phase(model, stages[: k + 1], x, y, task, config, generator)
            for k in range(len(stages))
        ]
    trainer = Trainer(model, task.loss, MIN_DELTA, on_epoch, progress, should_stop)
    run = FinetuneRun(config, spec, names, model, folder=folder, questions=questions)
    run.history = trainer.fit(phases)
    model.eval()
    scorer = model.head if x is feats else model
    run.test = {
        k: round(v, 4) for k, v in scores(task, scorer, x["test"], y["test"]).items()
    } | {f"n_{part}": int(len(getattr(split, part))) for part in _PARTS}
    if folder is not None:
        run.save(folder)
    return run


def _head_phase(model, feats, y, task, config, generator) -> Phase:
    """The head alone on the frozen encoder's cached features."""
    n = len(feats["train"])
    repeats = max(1, math.ceil(HEAD_EPOCH_SAMPLES / n))

    def batches():
        # rows repeated up to HEAD_EPOCH_SAMPLES: a handful of labels still gets
        # several optimiser steps an epoch
        order = torch.cat(
            [torch.randperm(n, generator=generator) for _ in range(repeats)]
        )
        for i in range(0, len(order), config.batch_size):
            idx = order[i : i + config.batch_size]
            yield feats["train"][idx], y["train"][idx]

    per_epoch = math.ceil(n * repeats / config.batch_size)
    optimiser = torch.optim.Adam(model.head.parameters(), lr=config.head_lr)
    return Phase(
        name="head",
        module=model.head,
        batches=batches,
        batches_per_epoch=per_epoch,
        validate=lambda: scores(task, model.head, feats["val"], y["val"]),
        optimiser=optimiser,
        epochs=config.head_epochs,
        patience=config.head_patience,
        scheduler=_scheduler(optimiser, config, config.head_epochs, per_epoch),
    )


def _stage_phase(model, stages, x, y, task, config, generator) -> Phase:
    """The head and the unfrozen stages on augmented images, batch norm frozen."""
    groups = stage_param_groups(
        list(model.head.parameters()), stages, config.finetune_lr, config.lr_decay
    )
    n = len(x["train"])

    def batches():
        order = torch.randperm(n, generator=generator)
        for i in range(0, n, config.batch_size):
            idx = order[i : i + config.batch_size]
            yield augment(x["train"][idx], generator), y["train"][idx]

    def train_mode() -> None:
        model.train()
        freeze_batch_norm(model)

    per_epoch = math.ceil(n / config.batch_size)
    optimiser = torch.optim.Adam(groups, lr=config.finetune_lr)
    return Phase(
        name=stages[-1][0],
        module=model,
        batches=batches,
        batches_per_epoch=per_epoch,
        validate=lambda: scores(task, model, x["val"], y["val"]),
        optimiser=optimiser,
        epochs=config.stage_epochs,
        patience=config.stage_patience,
        scheduler=_scheduler(optimiser, config, config.stage_epochs, per_epoch),
        start=lambda: set_trainable(stages[-1][1], True),
        train_mode=train_mode,
    )


def _scheduler(
    optimiser: torch.optim.Optimizer,
    config: FinetuneConfig,
    epochs: int,
    batches_per_epoch: int,
) -> torch.optim.lr_scheduler.LambdaLR | None:
    """For ``schedule="cosine"``, stepped after every batch: a linear warm-up
    over ``warmup_epochs``, then a cosine from each group's rate down to zero at
    the phase's last epoch (early stopping may end it sooner)."""
    if config.schedule == "constant":
        return None
    warm = config.warmup_epochs * batches_per_epoch
    total = max(epochs * batches_per_epoch, warm + 1)

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * (step - warm) / (total - warm)))

    return torch.optim.lr_scheduler.LambdaLR(optimiser, factor)


def _embed(encoder: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    return torch.cat([encoder(images[i : i + 128]) for i in range(0, len(images), 128)])


def scores(
    task: Classify | Fraction | Votes,
    model: torch.nn.Module,
    inputs: torch.Tensor,
    y: torch.Tensor,
) -> dict:
    """The task's metrics (:mod:`~morph_core.training.tasks`) of ``model``, the
    classifier on images or its head on cached features."""
    model.eval()
    with torch.inference_mode():
        logits = torch.cat(
            [model(inputs[i : i + 128]) for i in range(0, len(inputs), 128)]
        )
    return task.metrics(logits, y)
