"""Naming datasets and encoders: manifest entries, own folders, weights files."""

from __future__ import annotations

import re
from pathlib import Path

from morph_core.encoder_spec import EncoderSpec
from morph_core.errors import ManifestError, MorphCoreError
from morph_core.manifest import NAME_PATTERN, DatasetEntry, LabelsSpec, Manifest
from morph_core.workspace import list_workspaces, open_workspace


def folder_entry(
    name: str,
    folder: Path,
    catalog: str = "catalog.csv",
    columns: dict[str, str] | None = None,
    stretch: str = "asinh",
    labels: LabelsSpec | None = None,
) -> DatasetEntry:
    """A dataset entry for a user's folder of cutouts (JPEG, PNG or FITS).

    ``catalog`` is relative to ``folder`` or absolute; without a CSV every image
    in the folder becomes a galaxy named after its file. ``stretch`` (asinh or
    lupton) renders FITS cutouts.
    """
    if not str(folder).strip() or not Path(folder).expanduser().is_dir():
        raise MorphCoreError(f"folder not found: {str(folder)!r}")
    return _own_entry(
        name,
        "image_folder",
        folder,
        labels,
        catalog=catalog,
        columns=columns or {},
        stretch=stretch,
    )


def hdf5_entry(name: str, path: Path, labels: LabelsSpec | None = None) -> DatasetEntry:
    """A dataset entry for an HDF5 image stack (``images``, optional ``ra``/``dec``)."""
    if not Path(path).expanduser().is_file():
        raise MorphCoreError(f"HDF5 file not found: {str(path)!r}")
    return _own_entry(name, "hdf5", path, labels)


def _own_entry(name, source, path, labels, **fields) -> DatasetEntry:
    if not re.match(NAME_PATTERN, name or ""):
        raise MorphCoreError(
            f"dataset name {name!r}: use letters, digits, '_', '-' or '.', no spaces"
        )
    return DatasetEntry(
        name=name,
        kind="dataset",
        source=source,
        path=str(Path(path).expanduser().resolve()),
        labels=labels,
        description=f"images in {path}",
        licence="the user's own",
        citation="",
        **fields,
    )


def resolve_dataset(
    name: str, manifest: Manifest, root: Path | None = None
) -> DatasetEntry:
    """The entry of ``name``: from the manifest, else a folder prepared before."""
    if name in manifest.datasets:
        return manifest.datasets[name]
    record = open_workspace(name, root).read_json("source.json")
    if record is not None:
        return DatasetEntry.model_validate(record)
    return manifest.dataset(name)  # raises with the list of known datasets


def available_datasets(manifest: Manifest, root: Path | None = None) -> list[str]:
    """Manifest datasets first, then the user's own prepared folders."""
    own = [n for n in list_workspaces(root) if n not in manifest.datasets]
    return list(manifest.datasets) + own


def encoder_spec(weights: str | None, manifest: Manifest) -> EncoderSpec:
    """The spec of a manifest weights name, a weights file path, or the default."""
    weights = weights or manifest.default_weights
    if weights in manifest.weights:
        return EncoderSpec.from_entry(manifest.weights[weights])
    path = Path(weights).expanduser()
    if path.is_dir():
        return EncoderSpec.from_folder(path)
    if path.suffix in (".safetensors", ".pt", ".pth"):
        default = EncoderSpec.from_entry(manifest.weight(manifest.default_weights))
        return EncoderSpec(
            architecture=default.architecture,
            channels=default.channels,
            image_size=default.image_size,
            crop_fraction=default.crop_fraction,
            weights=str(path.resolve()),
        )
    raise ManifestError(
        f"weights {weights!r} are neither a manifest entry "
        f"({', '.join(manifest.weights)}), a timm folder, nor a .safetensors/.pt file"
    )
