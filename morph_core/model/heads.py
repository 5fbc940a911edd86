"""Heads on the encoder's pooled features: the paper's fine-tuning head, and the
encoder + head pair that both pretraining and fine-tuning train."""

from __future__ import annotations

import torch
from torch import nn


class Head(nn.Module):
    """Pooled features -> standardised -> Dense 64 ReLU -> Dropout -> Dense 64
    ReLU -> Dropout -> ``n_outputs`` (e.g. one logit for two classes, one per
    class, one per answer of vote counts), as Walmsley+22 §4.

    The input is centred on a fixed mean per feature and divided by one fixed
    scale, the features' overall spread (:meth:`standardise_from`, the training
    galaxies'), so that every encoder's features reach the head on one scale: a
    random-init encoder's nearly collapse (distances of 1e-5), and a head on
    them learnt one class. One scale for all features keeps the representation's
    geometry (a feature per feature scaling lifted near-constant ones to the
    size of the others, noise included).
    """

    def __init__(
        self,
        n_features: int,
        n_outputs: int,
        hidden: int,
        dropout: float,
    ):
        super().__init__()
        self.n_features = n_features
        self.layers = nn.Sequential(
            nn.Linear(n_features, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, n_outputs),
        )
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("scale", torch.ones(1))

    def standardise_from(self, features: torch.Tensor) -> None:
        """Fix the input's mean and scale to those of ``features``: the mean
        per feature, and the root mean square of the centred features."""
        mean = features.mean(0)
        spread = (features - mean).pow(2).mean().sqrt()
        self.mean.copy_(mean)
        self.scale.fill_(float(spread) if float(spread) > 0 else 1.0)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.layers((features - self.mean) / self.scale)


class Classifier(nn.Module):
    """Encoder (pooled features) + head; ``forward`` gives logits.

    Pretraining puts one linear layer (every answer's logit) on the encoder,
    fine-tuning a :class:`Head`."""

    def __init__(self, encoder: nn.Module, head: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.head = head

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(images))


def probabilities(logits: torch.Tensor) -> torch.Tensor:
    """``(n, n_classes)`` probabilities from the head's logits."""
    if logits.shape[1] == 1:
        p = torch.sigmoid(logits[:, 0])
        return torch.stack([1 - p, p], dim=1)
    return torch.softmax(logits, dim=1)
