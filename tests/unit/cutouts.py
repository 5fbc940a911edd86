"""Survey-like cutouts made for tests: a smooth colour galaxy with noise."""

import numpy as np
from PIL import Image


def galaxy_jpeg(path, side: int = 424, shift: float = 0.0, seed: int = 1) -> str:
    """Save a ``side``-pixel JPEG cutout (quality 90) at ``path``; returns it."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:side, :side] / side - 0.5
    blob = np.exp(-((x - shift) ** 2 + 2 * y**2) / 0.02)[..., None]
    pixels = np.clip(blob * [220, 180, 140] + rng.normal(0, 8, (side, side, 3)), 0, 255)
    Image.fromarray(pixels.astype(np.uint8)).save(path, quality=90)
    return str(path)
