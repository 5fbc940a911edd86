"""What a fine-tuning head learns, as its outputs, loss, metrics and predictions:
classes (cross-entropy), one vote fraction (mean squared error), or the vote
counts of decision-tree questions (Dirichlet-multinomial, Walmsley+22)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score

from morph_core.model.heads import probabilities
from morph_core.training.config import Task

MAX_CONCENTRATION = 100.0  # Zoobot's: each answer's concentration in 1..101


class Classify:
    """Classes: one logit (binary, sigmoid) or one per class (softmax)."""

    def __init__(self, n_classes: int):
        self.n_classes = n_classes
        self.n_outputs = 1 if n_classes == 2 else n_classes

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if logits.shape[1] == 1:
            return F.binary_cross_entropy_with_logits(logits[:, 0], y.float())
        return F.cross_entropy(logits, y.long())

    def predict(self, logits: torch.Tensor) -> torch.Tensor:
        """Class probabilities ``(n, n_classes)``."""
        return probabilities(logits)

    def metrics(self, logits: torch.Tensor, y: torch.Tensor) -> dict:
        """Loss, accuracy and ROC AUC (one-vs-rest for classes; NaN if one class)."""
        p = self.predict(logits).numpy()
        truth = y.numpy()
        try:
            auc = (
                roc_auc_score(truth, p[:, 1])
                if self.n_classes == 2
                else roc_auc_score(
                    truth, p, multi_class="ovr", labels=list(range(self.n_classes))
                )
            )
        except ValueError:
            auc = float("nan")
        return {
            "loss": float(self.loss(logits, y)),
            "accuracy": float((p.argmax(1) == truth).mean()),
            "auc": float(auc),
        }


class Fraction:
    """One vote fraction: a sigmoid output, mean squared error."""

    n_outputs = 1

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(torch.sigmoid(logits), y)

    def predict(self, logits: torch.Tensor) -> torch.Tensor:
        """The fraction ``(n, 1)``."""
        return torch.sigmoid(logits)

    def metrics(self, logits: torch.Tensor, y: torch.Tensor) -> dict:
        """Loss (the MSE) and ``error``, the mean absolute fraction error."""
        error = (self.predict(logits) - y).abs().mean()
        return {"loss": float(self.loss(logits, y)), "error": float(error)}


class Votes:
    """Vote counts per question: each answer's Dirichlet concentration
    (1 + 100 sigmoid), the counts' Dirichlet-multinomial likelihood summed over
    questions; a question nobody answered adds nothing."""

    def __init__(self, questions: tuple[tuple[str, int, int], ...]):
        self.questions = questions
        self.n_outputs = questions[-1][2]

    def concentrations(self, logits: torch.Tensor) -> torch.Tensor:
        return 1 + MAX_CONCENTRATION * torch.sigmoid(logits)

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return dirichlet_multinomial_nll(
            self.concentrations(logits), y, self.questions
        ).mean()

    def predict(self, logits: torch.Tensor) -> torch.Tensor:
        """Each answer's expected vote fraction ``(n, n_answers)``."""
        alpha = self.concentrations(logits)
        return torch.cat(
            [
                alpha[:, a:b] / alpha[:, a:b].sum(1, keepdim=True)
                for _, a, b in self.questions
            ],
            dim=1,
        )

    def metrics(self, logits: torch.Tensor, y: torch.Tensor) -> dict:
        """Loss; ``error``: the mean over questions of the mean absolute vote
        fraction error (galaxies with votes for the question); and each
        question's, ``error/<question>``."""
        predicted = self.predict(logits)
        errors = {}
        for question, a, b in self.questions:
            votes = y[:, a:b].sum(1)
            asked = votes > 0
            if not asked.any():
                errors[f"error/{question}"] = float("nan")
                continue
            observed = y[asked, a:b] / votes[asked, None]
            errors[f"error/{question}"] = float(
                (predicted[asked, a:b] - observed).abs().mean()
            )
        return {
            "loss": float(self.loss(logits, y)),
            "error": float(np.nanmean(list(errors.values()))),
        } | errors


def dirichlet_multinomial_nll(
    alpha: torch.Tensor,
    counts: torch.Tensor,
    questions: tuple[tuple[str, int, int], ...],
) -> torch.Tensor:
    """Each galaxy's negative log-likelihood of its vote counts, summed over
    questions: ``(n,)``. Per question, with N votes and A = sum(alpha):
    log p = lgamma(N+1) + lgamma(A) - lgamma(N+A)
    + sum_k [lgamma(n_k+alpha_k) - lgamma(alpha_k) - lgamma(n_k+1)]."""
    total = torch.zeros(len(alpha), dtype=alpha.dtype)
    for _, a, b in questions:
        n, al = counts[:, a:b], alpha[:, a:b]
        votes, strength = n.sum(1), al.sum(1)
        log_p = (
            torch.lgamma(votes + 1)
            + torch.lgamma(strength)
            - torch.lgamma(votes + strength)
            + (torch.lgamma(n + al) - torch.lgamma(al) - torch.lgamma(n + 1)).sum(1)
        )
        total = total - log_p
    return total


def make_task(
    task: Task,
    n_columns: int,
    questions: tuple[tuple[str, int, int], ...] = (),
) -> Classify | Fraction | Votes:
    """The task of a run: ``n_columns`` classes or target columns."""
    if task == "classify":
        return Classify(n_columns)
    if task == "fraction":
        return Fraction()
    return Votes(questions)
