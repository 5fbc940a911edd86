"""The CNN encoder: build any timm model, load weights safely, embed images.

The paper's preprocessing is the default: greyscale, resize so that a centre crop
of ``crop_fraction`` (224/300, Walmsley+22 §2.1) fills ``image_size``. Weights are
read only from safetensors or with ``torch.load(weights_only=True)``: never an
arbitrary pickle.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import timm
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from morph_core.data.images import load_image
from morph_core.errors import ImageError, WeightsError
from morph_core.model.checkpoint import read_state_dict
from morph_core.model.spec import EncoderSpec
from morph_core.progress import ProgressFn

logger = logging.getLogger(__name__)


def use_threads(n: int) -> None:
    """The CPU threads torch uses in this process (a cluster worker's share)."""
    torch.set_num_threads(n)


def build_encoder(spec: EncoderSpec) -> torch.nn.Module:
    """A timm model returning pooled features, in eval mode, weights loaded.

    Raises
    ------
    WeightsError
        Unknown architecture, missing or unsafe weights file, or weights that do
        not fit the architecture.
    """
    if spec.architecture not in timm.list_models():
        raise WeightsError(f"unknown timm architecture {spec.architecture!r}")
    torch.manual_seed(spec.seed)
    model = timm.create_model(
        spec.architecture, pretrained=False, num_classes=0, in_chans=spec.channels
    )
    if spec.weights:
        load_weights(model, Path(spec.weights))
    return model.eval()


def load_weights(model: torch.nn.Module, path: Path) -> None:
    """Load a state dict safely into ``model`` (classifier keys are ignored)."""
    state = read_state_dict(path)
    ours = model.state_dict()
    head = ("classifier", "head", "fc")
    missing = [k for k in ours if k not in state]
    unexpected = [k for k in state if k not in ours and not k.startswith(head)]
    wrong_shape = [k for k in ours if k in state and state[k].shape != ours[k].shape]
    if missing or unexpected or wrong_shape:
        raise WeightsError(
            f"weights {path.name} do not fit {type(model).__name__}: {len(missing)} "
            f"missing, {len(unexpected)} unexpected, {len(wrong_shape)} wrongly shaped "
            f"tensors (e.g. {(missing + unexpected + wrong_shape)[:3]})"
        )
    model.load_state_dict({k: state[k] for k in ours}, strict=True)


class _ImageFiles(Dataset):
    """Decodes and preprocesses files; a bad file yields zeros and its reason."""

    def __init__(self, files: Sequence[str], spec: EncoderSpec):
        self.files = list(files)
        self.spec = spec
        self.transform = timm.data.create_transform(
            input_size=(spec.channels, spec.image_size, spec.image_size),
            crop_pct=spec.crop_fraction,
            interpolation="bilinear",
            mean=spec.mean or (0.0,) * spec.channels,
            std=spec.std or (1.0,) * spec.channels,
        )
        # the transform shrinks the shorter side to this before its centre crop
        self.draft = math.ceil(spec.image_size / spec.crop_fraction)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, str]:
        try:
            array = load_image(self.files[i], self.spec.channels, draft=self.draft)
        except ImageError as e:
            size = self.spec.image_size
            return torch.zeros(self.spec.channels, size, size), str(e)
        return self.transform(Image.fromarray(array)), ""


def preprocess_files(
    files: list[str], spec: EncoderSpec, progress: ProgressFn | None = None
) -> torch.Tensor:
    """Images preprocessed exactly as the encoder sees them:
    ``(n, spec.channels, s, s)`` fp16.

    Raises
    ------
    ImageError
        A file cannot be decoded (its path and the reason).
    """
    dataset = _ImageFiles(files, spec)
    size = spec.image_size
    out = torch.zeros(len(files), spec.channels, size, size, dtype=torch.half)
    for i in range(len(files)):
        tensor, reason = dataset[i]
        if reason:
            raise ImageError(f"{files[i]}: {reason}")
        out[i] = tensor
        if progress and ((i + 1) % 500 == 0 or i + 1 == len(files)):
            progress(i + 1, len(files))
    return out


def embed_files(
    files: Sequence[str],
    model: torch.nn.Module,
    spec: EncoderSpec,
    batch_size: int = 32,
    num_workers: int = 0,
    progress: ProgressFn | None = None,
) -> tuple[np.ndarray, dict[int, str]]:
    """Pooled features of image files, one forward pass each.

    Parameters
    ----------
    files : sequence of str
        Image paths.
    model : torch.nn.Module
        From :func:`build_encoder` with the same ``spec``.
    num_workers : int
        Processes decoding images beside the forward pass (0: in this process).

    Returns
    -------
    features : ndarray of shape (n_files, model.num_features), float32
        Rows of unreadable files are zeros.
    errors : dict
        Row index -> reason, for the files that could not be read.
    """
    n_features = getattr(model, "num_features", None)
    loader = DataLoader(
        _ImageFiles(files, spec),
        batch_size=batch_size,
        num_workers=num_workers if len(files) > batch_size else 0,
    )
    model = model.to(memory_format=torch.channels_last)
    out: np.ndarray | None = None
    errors: dict[int, str] = {}
    done = 0
    with torch.inference_mode():
        for images, reasons in loader:
            batch = model(images.contiguous(memory_format=torch.channels_last))
            if out is None:
                out = np.zeros((len(files), batch.shape[1]), dtype=np.float32)
            out[done : done + len(batch)] = batch.float().numpy()
            errors.update({done + i: r for i, r in enumerate(reasons) if r})
            done += len(batch)
            if progress:
                progress(done, len(files))
    if out is None:
        out = np.zeros((0, n_features or 0), dtype=np.float32)
    for i in errors:
        out[i] = 0.0
    return out, errors


def embed_image(
    image: np.ndarray, model: torch.nn.Module, spec: EncoderSpec
) -> np.ndarray:
    """Features ``(n_features,)`` of one in-memory ``uint8`` image (e.g. an upload)."""
    tensor = _ImageFiles([], spec).transform(Image.fromarray(image))
    with torch.inference_mode():
        return model(tensor[None]).float().numpy()[0]


def save_encoder_folder(
    model: torch.nn.Module, spec: EncoderSpec, folder: Path
) -> None:
    """Save in timm's Hugging Face format (``config.json`` + ``model.safetensors``),
    the format Zoobot publishes, so :meth:`EncoderSpec.from_folder` loads it back."""
    from timm.models import save_for_hf

    save_for_hf(
        model,
        str(folder),
        model_args={"in_chans": spec.channels},
        safe_serialization=True,
        data_config={
            "input_size": (spec.channels, spec.image_size, spec.image_size),
            "crop_pct": spec.crop_fraction,
            "interpolation": "bilinear",
            "mean": spec.mean or (0.0,) * spec.channels,
            "std": spec.std or (1.0,) * spec.channels,
        },
    )
