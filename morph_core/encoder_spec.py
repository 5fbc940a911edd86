"""What defines an encoder, without importing torch (pages read features fast)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path

from morph_core.errors import WeightsError
from morph_core.manifest import WeightsEntry, resolve_path

PAPER_CROP_FRACTION = 224 / 300  # Walmsley+22 §2.1: 424 -> 300 px, crop 224


@dataclass(frozen=True)
class EncoderSpec:
    """What defines an encoder: architecture, input, weights.

    Parameters
    ----------
    architecture : str
        Any timm model name; ``efficientnet_b0`` gives 1280-d pooled features.
    channels : {1, 3}
        1 for greyscale (the paper's choice), 3 for colour.
    image_size : int
        Side of the square input, pixels.
    crop_fraction : float
        Fraction of the image kept by the centre crop.
    weights : str, optional
        Path of a ``.safetensors`` (or ``.pt`` tensor-only) file; ``None`` gives a
        random initialisation from ``seed``.
    seed : int
        Seed of the random initialisation when ``weights`` is ``None``.
    """

    architecture: str = "efficientnet_b0"
    channels: int = 1
    image_size: int = 128
    crop_fraction: float = PAPER_CROP_FRACTION
    weights: str | None = None
    seed: int = 0

    @classmethod
    def from_entry(cls, entry: WeightsEntry) -> EncoderSpec:
        """The spec of a manifest weights entry."""
        return cls(
            architecture=entry.architecture,
            channels=entry.channels,
            image_size=entry.image_size,
            crop_fraction=entry.crop_fraction,
            weights=str(resolve_path(entry.file)) if entry.file else None,
            seed=entry.seed,
        )

    def fingerprint(self) -> str:
        """Short hash of everything that changes the features (weights by content)."""
        record = asdict(self)
        if self.weights:
            record["weights"] = _file_sha256(Path(self.weights))
        else:
            record["versions"] = [version("torch"), version("timm")]
        digest = hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()
        return f"{self.architecture}-{digest[:12]}"


@lru_cache(maxsize=32)
def _file_sha256_cached(path: str, mtime_ns: int, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _file_sha256(path: Path) -> str:
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    stat = path.stat()
    return _file_sha256_cached(str(path), stat.st_mtime_ns, stat.st_size)
