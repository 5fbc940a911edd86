"""The one resolver from a weights choice to an :class:`EncoderSpec` (no torch).

Prepare, fine-tuning and apply all go through :func:`resolve_encoder`, so
"pretrained" means the same encoder everywhere: the one the dataset was prepared
with (e.g. Zoobot's, when the user prepared with it), else the manifest's default.
"""

from __future__ import annotations

from pathlib import Path

from morph_core.data.manifest import Manifest, WeightsEntry, resolve_path
from morph_core.errors import WeightsError
from morph_core.model.spec import EncoderSpec

PRETRAINED = "pretrained"
RANDOM = "random"
CHOICES = (PRETRAINED, RANDOM)


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
        (``config.json`` + ``model.safetensors``), or a ``.safetensors``/``.pt``
        file for the pretrained encoder's architecture.
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
        return EncoderSpec.from_folder(path)
    if path.suffix in (".safetensors", ".pt", ".pth") and path.is_file():
        base = resolve_encoder(PRETRAINED, manifest, prepared)
        return EncoderSpec.from_record(vars(base) | {"weights": str(path.resolve())})
    raise WeightsError(
        f"weights {choice!r} are none of {', '.join(CHOICES)}, a manifest entry "
        f"({', '.join(manifest.weights)}), a timm folder or a .safetensors/.pt file"
    )


def spec_of_entry(entry: WeightsEntry) -> EncoderSpec:
    """The spec of a manifest weights entry; hub weights are fetched if missing."""
    if entry.folder:
        folder = resolve_path(entry.folder)
        if entry.hub and not (folder / "config.json").is_file():
            download_hub(entry.hub, folder)
        return EncoderSpec.from_folder(folder)
    return EncoderSpec(
        architecture=entry.architecture,
        channels=entry.channels,
        image_size=entry.image_size,
        crop_fraction=entry.crop_fraction,
        weights=str(resolve_path(entry.file)) if entry.file else None,
        seed=entry.seed,
    )


def download_hub(hub: str, folder: Path) -> None:
    """Fetch ``config.json`` and ``model.safetensors`` of a Hugging Face model.

    Raises
    ------
    WeightsError
        Offline or unknown model: the message says where to place the files.
    """
    from huggingface_hub import hf_hub_download

    repo = hub.removeprefix("hf-hub:").removeprefix("hf_hub:")
    try:
        for name in ("config.json", "model.safetensors"):
            hf_hub_download(repo, name, local_dir=folder)
    except Exception as e:  # network, auth and missing-file errors of the hub
        raise WeightsError(
            f"could not download {hub} ({type(e).__name__}). Offline: place its "
            f"config.json and model.safetensors in {folder}"
        ) from e
