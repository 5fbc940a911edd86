"""Heads on the encoder's pooled features: the paper's fine-tuning head, and the
encoder + head pair that both pretraining and fine-tuning train."""

from __future__ import annotations

import torch
from torch import nn


class Head(nn.Module):
    """Pooled features -> Dense 64 ReLU -> Dropout -> Dense 64 ReLU -> Dropout ->
    one logit (binary: sigmoid) or one per class (softmax), as Walmsley+22 §4."""

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        hidden: int,
        dropout: float,
    ):
        super().__init__()
        self.n_features = n_features
        n_out = 1 if n_classes == 2 else n_classes
        self.layers = nn.Sequential(
            nn.Linear(n_features, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, n_out),
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.layers(features)


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
