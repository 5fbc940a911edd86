"""The fine-tuning model: the encoder, a small head (the paper's), and the order
in which the encoder's blocks are unfrozen."""

from __future__ import annotations

import torch
from torch import nn

HIDDEN = 64
DROPOUT = 0.75


class Head(nn.Module):
    """Pooled features -> Dense 64 ReLU -> Dropout -> Dense 64 ReLU -> Dropout ->
    one logit (binary: sigmoid) or one per class (softmax), as Walmsley+22 §4."""

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        hidden: int = HIDDEN,
        dropout: float = DROPOUT,
    ):
        super().__init__()
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
    """Encoder (pooled features) + head; ``forward`` gives logits."""

    def __init__(self, encoder: nn.Module, head: Head):
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


def unfreeze_stages(encoder: nn.Module) -> list[tuple[str, list[nn.Module]]]:
    """Groups of modules to unfreeze, top first; each stage adds its group.

    For timm EfficientNets: the top (``conv_head``, ``bn2``), then blocks 7, 6,
    5, 4 (Keras numbering, as the paper), then all. Other architectures: their
    top-level children with parameters, last first, the rest together at the end.
    """
    blocks = getattr(encoder, "blocks", None)
    if hasattr(encoder, "conv_head") and blocks is not None and len(blocks) >= 5:
        top = [encoder.conv_head, encoder.bn2]
        stages = [("top", top)]
        for k in range(len(blocks) - 1, len(blocks) - 5, -1):
            stages.append((f"block {k + 1}+", [blocks[k]]))
        chosen = {id(m) for _, group in stages for m in group}
        rest = [m for m in encoder.children() if id(m) not in chosen]
        rest += [b for b in blocks[: len(blocks) - 4]]
        stages.append(("all", rest))
        return stages
    children = [m for m in encoder.children() if any(True for _ in m.parameters())]
    stages = [(f"layer -{i + 1}", [m]) for i, m in enumerate(reversed(children[-4:]))]
    stages.append(("all", children[:-4]))
    return stages


def freeze_batch_norm(model: nn.Module) -> None:
    """Keep batch-norm statistics as pretrained (eval mode) while training."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()
