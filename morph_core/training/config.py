"""What a training run follows from, without importing torch: the run queue and
the pages build and check these before any worker starts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from morph_core.errors import MorphCoreError
from morph_core.model.spec import EncoderSpec

HEAD_HIDDEN = 64  # Walmsley+22 §4: two dense layers of 64
HEAD_DROPOUT = 0.75  # §4, for classes
REGRESSION_DROPOUT = 0.2  # Zoobot's decision-tree head: 0.75 left it at the mean
FinetuneStrategy = Literal["head", "staged"]
FINETUNE_STRATEGIES: tuple[FinetuneStrategy, ...] = ("head", "staged")
Schedule = Literal["constant", "cosine"]
SCHEDULES: tuple[Schedule, ...] = ("constant", "cosine")
Task = Literal["classify", "fraction", "votes"]
TASKS: tuple[Task, ...] = ("classify", "fraction", "votes")
TASK_NAMES = {
    "classify": "classes",
    "fraction": "vote fraction (regression)",
    "votes": "vote counts (Dirichlet-multinomial)",
}


@dataclass(frozen=True)
class FinetuneConfig:
    """How a fine-tuning run trains. Defaults follow the paper where it says (§4).

    ``task`` "classify" learns classes (cross-entropy); "fraction" regresses one
    vote fraction (mean squared error); "votes" learns the vote counts of
    decision-tree questions with a Dirichlet-multinomial likelihood (Walmsley+22).
    ``n_per_class`` is the labels of each class, or for "fraction" and "votes"
    the labelled galaxies in all (training and validation). ``dropout`` None is
    the paper's 0.75 for classes and Zoobot's 0.2 for regressions
    (:attr:`head_dropout`).
    ``strategy`` "head" trains the head on the frozen encoder's features;
    "staged" then unfreezes ``stages`` groups of the encoder from the top down.
    ``lr_decay`` scales the learning rate of each deeper stage (Zoobot's option;
    1 keeps one rate). ``schedule`` "cosine" warms each phase's learning rate up
    linearly over ``warmup_epochs``, then lowers it along a cosine to zero at the
    phase's last epoch; "constant" keeps it.

    >>> FinetuneConfig(strategy="all-at-once")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    morph_core.errors.MorphCoreError: unknown strategy 'all-at-once'; choose from ...
    """

    n_per_class: int = 20
    strategy: FinetuneStrategy = "staged"
    seed: int = 0
    head_lr: float = 1e-3
    finetune_lr: float = 1e-5
    lr_decay: float = 1.0
    hidden: int = HEAD_HIDDEN
    dropout: float | None = None
    head_epochs: int = 150
    head_patience: int = 15
    stages: int = 6  # unfreezing stages to go through (6: top, 4 block groups, all)
    stage_epochs: int = 8
    stage_patience: int = 3
    batch_size: int = 32
    draw: int = 0  # which random pick of training labels (the test set: ``seed``)
    schedule: Schedule = "constant"
    warmup_epochs: int = 1
    task: Task = "classify"

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise MorphCoreError(f"unknown task {self.task!r}; choose from {TASKS}")
        if self.strategy not in FINETUNE_STRATEGIES:
            raise MorphCoreError(
                f"unknown strategy {self.strategy!r}; choose from {FINETUNE_STRATEGIES}"
            )
        if self.n_per_class < 2:
            raise MorphCoreError("at least 2 labels per class are needed")
        if self.task != "classify" and self.n_per_class < 4:
            raise MorphCoreError("a regression needs at least 4 labelled galaxies")
        if not 0 < self.lr_decay <= 1:
            raise MorphCoreError(f"lr_decay must be in (0, 1], not {self.lr_decay}")
        if self.schedule not in SCHEDULES:
            raise MorphCoreError(
                f"unknown schedule {self.schedule!r}; choose from {SCHEDULES}"
            )
        if self.warmup_epochs < 0:
            raise MorphCoreError("warmup_epochs must be 0 or more")
        if self.dropout is not None and not 0 <= self.dropout < 1:
            raise MorphCoreError(f"dropout must be in [0, 1), not {self.dropout}")

    @property
    def head_dropout(self) -> float:
        """The head's dropout rate."""
        if self.dropout is not None:
            return self.dropout
        return HEAD_DROPOUT if self.task == "classify" else REGRESSION_DROPOUT

    def labels_text(self) -> str:
        """How many labels, in words: "20/class", or "200 galaxies" to regress."""
        if self.task == "classify":
            return f"{self.n_per_class}/class"
        return f"{self.n_per_class} galaxies"

    def describe(self) -> str:
        """The options beyond labels, start and strategy, in words ("" if none)."""
        parts = [] if self.task == "classify" else [TASK_NAMES[self.task]]
        if self.lr_decay < 1:
            parts.append(f"lr decay {self.lr_decay:g}")
        if self.schedule == "cosine":
            parts.append(f"cosine, {self.warmup_epochs} warm-up epoch(s)")
        return ", ".join(parts)


@dataclass(frozen=True)
class PretrainConfig:
    """Everything the default encoder's weights follow from.

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
    variety: float = 0.0  # the training survey's domain randomisation (SurveySpec)

    def __post_init__(self) -> None:
        for name in ("n_galaxies", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, not {getattr(self, name)}")
        if not 32 <= self.image_size <= self.render_size:
            raise ValueError("image_size must be in 32..render_size")
        if not 0 < self.val_fraction < 0.5:
            raise ValueError("val_fraction must be in (0, 0.5)")
        if not 0 <= self.variety <= 1:
            raise ValueError(f"variety must be in [0, 1], not {self.variety}")

    def spec(self) -> EncoderSpec:
        """The encoder it trains: greyscale, ``image_size`` px, random init from
        ``seed``, pixels normalised as the synthetic sky needs."""
        return EncoderSpec(
            architecture=self.architecture,
            channels=1,
            image_size=self.image_size,
            seed=self.seed,
            mean=(0.1,),
            std=(0.15,),
        )


@dataclass(frozen=True)
class AdaptConfig:
    """How ``adapt`` goes on training an encoder on a dataset's own unlabelled
    images (SimCLR: two augmented views of each galaxy should match each other
    and no other galaxy of the batch).

    ``anchor`` weighs a second term that keeps each galaxy's features near the
    starting encoder's (what it learnt from the votes); 0 lets them go.
    Training stops after ``epochs`` or ``minutes``, whichever comes first.

    >>> AdaptConfig(batch_size=2)
    Traceback (most recent call last):
    ...
    morph_core.errors.MorphCoreError: batch_size must be at least 8, not 2
    """

    epochs: int = 15
    minutes: float = 20.0
    max_images: int = 5000
    batch_size: int = 64
    learning_rate: float = 1e-4
    weight_decay: float = 1e-4
    temperature: float = 0.2
    projection: int = 128
    anchor: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.batch_size < 8:
            raise MorphCoreError(
                f"batch_size must be at least 8, not {self.batch_size}"
            )
        for name in ("epochs", "max_images"):
            if getattr(self, name) < 1:
                raise MorphCoreError(f"{name} must be at least 1")
        if self.minutes <= 0 or self.temperature <= 0 or self.anchor < 0:
            raise MorphCoreError("minutes and temperature must be > 0, anchor >= 0")
