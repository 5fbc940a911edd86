"""What defines an encoder, without importing torch (pages read features fast)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path

from morph_core.errors import WeightsError

PAPER_CROP_FRACTION = 224 / 300  # Walmsley+22 §2.1: 424 -> 300 px, crop 224
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")  # a timm hub folder's


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
    mean, std : tuple of float, optional
        Per-channel normalisation of pixels scaled to [0, 1]; default 0 and 1.
    """

    architecture: str = "efficientnet_b0"
    channels: int = 1
    image_size: int = 128
    crop_fraction: float = PAPER_CROP_FRACTION
    weights: str | None = None
    seed: int = 0
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None

    @classmethod
    def from_record(cls, record: dict) -> EncoderSpec:
        """The spec of a JSON record (``prepare.json``), lists back to tuples."""
        fix = {k: tuple(v) for k in ("mean", "std") if (v := record.get(k)) is not None}
        return cls(**(record | fix))

    @classmethod
    def from_folder(cls, folder: Path) -> EncoderSpec:
        """The spec of a timm folder as the Hugging Face hub holds it:
        ``config.json`` and ``model.safetensors`` or ``pytorch_model.bin``.

        Zoobot publishes its encoders in this layout (with ``pytorch_model.bin``);
        the preprocessing (channels, size, crop, mean, std) comes from the config.
        """
        config_file = folder / "config.json"
        weights = next(
            (folder / n for n in WEIGHT_FILES if (folder / n).is_file()), None
        )
        if not config_file.is_file() or weights is None:
            raise WeightsError(
                f"{folder} needs config.json and {' or '.join(WEIGHT_FILES)} "
                "(the files a timm model on the Hugging Face hub holds)"
            )
        try:
            config = json.loads(config_file.read_text())
            data = config["pretrained_cfg"]
            size = int(data["input_size"][-1])
            # the stem's channels, where timm recorded them, else the input's
            in_chans = config.get("model_args", {}).get("in_chans")
            channels = int(in_chans or data["input_size"][0])
            return cls(
                architecture=config["architecture"],
                channels=channels,
                image_size=size,
                crop_fraction=float(data.get("crop_pct", 1.0)),
                weights=str(weights),
                mean=_per_channel(data.get("mean", (0.0,)), channels),
                std=_per_channel(data.get("std", (1.0,)), channels),
            )
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, IndexError) as e:
            raise WeightsError(f"{config_file} is not a timm model config: {e}") from e

    def random_init(self, seed: int = 0) -> EncoderSpec:
        """The same architecture and input, randomly initialised from ``seed``."""
        return EncoderSpec.from_record(vars(self) | {"weights": None, "seed": seed})

    def fingerprint(self) -> str:
        """Short hash of everything that changes the features (weights by content)."""
        record = asdict(self)
        if self.weights:
            record["weights"] = file_sha256(Path(self.weights))
        else:
            record["versions"] = [version("torch"), version("timm")]
        digest = hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()
        return f"{self.architecture}-{digest[:12]}"


def _per_channel(values: list[float], channels: int) -> tuple[float, ...]:
    """One normalisation value a channel; a grey stem averages a colour config's."""
    values = [float(v) for v in values]
    if len(values) == channels:
        return tuple(values)
    if channels == 1 or len(values) == 1:
        return (sum(values) / len(values),) * channels
    raise ValueError(f"{len(values)} normalisation values for {channels} channels")


@lru_cache(maxsize=32)
def _file_sha256_cached(path: str, mtime_ns: int, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """SHA-256 of a weights file's bytes (cached while its size and mtime hold)."""
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    stat = path.stat()
    return _file_sha256_cached(str(path), stat.st_mtime_ns, stat.st_size)
