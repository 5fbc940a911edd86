"""One training loop for pretraining and fine-tuning: phases, callbacks, early
stopping, and the best epoch kept (as Zoobot's trainer does with Lightning).

A run is a list of :class:`Phase` (fine-tuning: the head on cached features, then
each unfreezing stage; pretraining: one phase). Each phase has its own optimiser
and patience; the state with the lowest validation loss over the whole run is
kept and restored at the end of every phase, so each phase starts from the best.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch

from morph_core.errors import MorphCoreError
from morph_core.progress import ProgressFn

EpochFn = Callable[[dict], None]
StopFn = Callable[[], bool]
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class StopRequested(MorphCoreError):
    """The run was asked to stop."""


@dataclass
class Phase:
    """One stretch of training with its own optimiser.

    Attributes
    ----------
    name : str
        Recorded as each epoch's ``stage``.
    module : torch.nn.Module
        What an epoch's inputs go through (e.g. the head alone on cached features).
    batches : callable
        ``batches()`` yields one epoch's ``(inputs, targets)``.
    batches_per_epoch : int
        How many ``batches()`` yields (for progress).
    validate : callable
        ``validate()`` gives validation metrics, at least ``loss``.
    optimiser : torch.optim.Optimizer
    epochs : int
    patience : int, optional
        Stop the phase after this many epochs without improvement.
    start : callable, optional
        Called once when the phase begins (e.g. unfreezes what it trains).
    train_mode : callable, optional
        Puts the modules in training mode before each epoch (default:
        ``module.train()``); e.g. keeps batch-norm statistics frozen.
    scheduler : optional
        A learning-rate scheduler stepped after every batch.
    """

    name: str
    module: torch.nn.Module
    batches: Callable[[], Iterable[tuple[torch.Tensor, torch.Tensor]]]
    batches_per_epoch: int
    validate: Callable[[], dict]
    optimiser: torch.optim.Optimizer
    epochs: int
    patience: int | None = None
    start: Callable[[], None] | None = None
    train_mode: Callable[[], None] | None = None
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None


class Trainer:
    """Runs phases on ``model``, recording one line of metrics per epoch.

    Parameters
    ----------
    model : torch.nn.Module
        Everything trained; its best state is kept and restored.
    loss : callable
        ``loss(outputs, targets)`` -> scalar tensor.
    min_delta : float
        A validation loss improves when it is this much below the best.
    on_epoch : callable, optional
        Called with each epoch's record (e.g. appended to ``metrics.jsonl``).
    progress : callable, optional
        ``progress(done, total)`` in batches (early stopping ends sooner).
    should_stop : callable, optional
        Checked after every epoch; ``True`` raises :class:`StopRequested`.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        loss: LossFn,
        min_delta: float = 0.0,
        on_epoch: EpochFn | None = None,
        progress: ProgressFn | None = None,
        should_stop: StopFn | None = None,
    ):
        self.model = model
        self.loss = loss
        self.min_delta = min_delta
        self.on_epoch = on_epoch
        self.progress = progress
        self.should_stop = should_stop
        self.history: list[dict] = []
        self.best_loss = math.inf
        self.best_state: dict[str, torch.Tensor] | None = None

    def fit(self, phases: Sequence[Phase]) -> list[dict]:
        """Train every phase in turn; returns the history (one dict per epoch)."""
        total = sum(p.epochs * p.batches_per_epoch for p in phases)
        step = 0
        for phase in phases:
            if phase.start is not None:
                phase.start()
            stale = 0
            for _ in range(phase.epochs):
                start = time.perf_counter()
                (phase.train_mode or phase.module.train)()
                loss_sum, n = 0.0, 0
                for inputs, targets in phase.batches():
                    loss = self.loss(phase.module(inputs), targets)
                    phase.optimiser.zero_grad()
                    loss.backward()
                    phase.optimiser.step()
                    if phase.scheduler is not None:
                        phase.scheduler.step()
                    loss_sum += loss.item() * len(targets)
                    n += len(targets)
                    step += 1
                    if self.progress:
                        self.progress(min(step, total), total)
                improved = self._record(phase, loss_sum / max(n, 1), start)
                if self.should_stop and self.should_stop():
                    raise StopRequested("stopped on request")
                stale = 0 if improved else stale + 1
                if phase.patience is not None and stale >= phase.patience:
                    break
            self.restore_best()
        return self.history

    def restore_best(self) -> None:
        """Load the state with the lowest validation loss so far."""
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)

    def _record(self, phase: Phase, train_loss: float, start: float) -> bool:
        metrics = phase.validate()
        improved = metrics["loss"] < self.best_loss - self.min_delta
        if improved:
            self.best_loss = metrics["loss"]
            self.best_state = {
                k: v.detach().clone() for k, v in self.model.state_dict().items()
            }
            for earlier in self.history:
                earlier["best"] = False
        record = {
            "epoch": len(self.history) + 1,
            "stage": phase.name,
            "train_loss": round(train_loss, 4),
            **{f"val_{k}": round(v, 4) for k, v in metrics.items()},
            "learning_rate": phase.optimiser.param_groups[0]["lr"],
            "seconds": round(time.perf_counter() - start, 2),
            "best": improved,
        }
        self.history.append(record)
        if self.on_epoch:
            self.on_epoch(record)
        return improved
