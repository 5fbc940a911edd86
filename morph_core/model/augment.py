"""Galaxy augmentations on batches of preprocessed images (pretraining and
fine-tuning): a galaxy has no up, no handedness and no fixed zoom."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Flips, any rotation, 0.85-1.2x zoom, small shifts, contrast, sky level
    and noise.

    Parameters
    ----------
    images : Tensor of shape (n, channels, size, size)
        Normalised as the encoder sees them; any number of channels.
    generator : torch.Generator
        Every random draw comes from it (reproducible).
    """
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
