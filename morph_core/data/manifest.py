"""The dataset and weights manifest (``data_manifest.yaml``), loaded and validated.

Every dataset and weights file the app knows is one entry: where it comes from
(a generator, a folder, a URL), what files to expect, a checksum where the bytes
are fixed, its licence and its citation.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from morph_core import settings
from morph_core.errors import ManifestError

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    url: str | None = None
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    licence: str
    citation: str


class LabelsSpec(BaseModel):
    """A label table (e.g. a Galaxy Zoo catalogue) joined to the galaxies."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str
    url: str | None = None
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    on: Literal["galaxy_id", "sky"] = "galaxy_id"
    id_column: str = "galaxy_id"
    radius_arcsec: float = Field(default=2.0, gt=0)


class DatasetEntry(_Entry):
    """A dataset: a generated survey, a folder of images (JPEG/PNG/FITS) with a
    CSV catalogue, an HDF5 image stack, or a table of precomputed features
    (a published representation) with a cutout source; optionally with a
    label table.

    For ``source: features``, ``path`` is the table (parquet or CSV: galaxy_id,
    ra, dec, labels and the feature columns), ``features`` an optional ``.npy``
    of its feature rows instead, ``cutouts`` where each galaxy's image is (a
    URL or a path template over the table's columns, e.g.
    ``https://...?ra={ra}&dec={dec}``), and ``encoder`` the weights entry that
    made the features, when known (search by uploaded image needs it)."""

    kind: Literal["dataset"]
    source: Literal["synthetic", "image_folder", "hdf5", "features"]
    path: str | None = None
    features: str | None = None
    feature_columns: str | None = None
    cutouts: str | None = None
    encoder: str | None = None
    catalog: str = "catalog.csv"
    columns: dict[str, str] = Field(default_factory=dict)
    sky_from_name: bool = False
    stretch: Literal["asinh", "lupton"] = "asinh"
    labels: LabelsSpec | None = None
    params: dict[str, int | float | str | dict[str, float]] = Field(
        default_factory=dict
    )
    expected_files: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _needs_path(self) -> DatasetEntry:
        if self.source != "synthetic" and not self.path:
            raise ValueError(f"a {self.source} dataset needs 'path'")
        if self.url and self.source not in ("hdf5", "features"):
            raise ValueError(
                "'url' is for hdf5 and features datasets (one file to download)"
            )
        table_only = ("features", "feature_columns", "cutouts", "encoder")
        given = [k for k in table_only if getattr(self, k)]
        if given and self.source != "features":
            raise ValueError(f"{', '.join(given)}: only for 'source: features'")
        return self

    def folder(self) -> Path | None:
        """The dataset's path with ``${MORPH_SHARED_DATA}`` expanded, if any."""
        return resolve_path(self.path) if self.path else None


class WeightsEntry(_Entry):
    """Encoder weights: a safetensors or tensor-only pickle file, a file that an
    installed Python package ships, a timm folder (fetched from the Hugging Face
    hub when ``hub`` names it and the folder is empty), or a documented generator.

    For a folder, the preprocessing fields given here (``channels``,
    ``image_size``, ``crop_fraction``, ``mean``, ``std``) replace its config's:
    they record how the weights' authors fed their images, which a hub config
    may not (Zoobot's carry timm's ImageNet defaults). ``keys: by_position``: the
    file holds timm's tensors for ``architecture`` in the same order under
    another implementation's names. ``parameters_m``: size, millions of
    parameters."""

    kind: Literal["weights"]
    architecture: str | None = None
    channels: Literal[1, 3] = 1
    image_size: int = Field(default=128, ge=32, le=1024)
    crop_fraction: float = Field(default=224 / 300, gt=0, le=1)
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    file: str | None = None
    package_file: str | None = None
    generator: str | None = None
    folder: str | None = None
    hub: str | None = None
    keys: Literal["timm", "by_position"] = "timm"
    parameters_m: float | None = Field(default=None, gt=0)
    seed: int = 0

    @model_validator(mode="after")
    def _one_source(self) -> WeightsEntry:
        sources = ("file", "package_file", "generator", "folder")
        given = [k for k in sources if getattr(self, k)]
        if len(given) != 1:
            raise ValueError(
                f"a weights entry needs exactly one of {', '.join(map(repr, sources))}"
            )
        if self.hub and not self.folder:
            raise ValueError("'hub' weights need a 'folder' to download into")
        if not self.architecture and not self.folder:
            raise ValueError(
                "'architecture' is needed unless a folder's config names it"
            )
        for name in ("mean", "std"):
            values = getattr(self, name)
            if values is not None and len(values) != self.channels:
                raise ValueError(
                    f"'{name}' needs one value a channel ({self.channels})"
                )
        return self


Entry = Annotated[DatasetEntry | WeightsEntry, Field(discriminator="kind")]


class Manifest(BaseModel):
    """All entries, plus which dataset and weights the app opens by default, and
    the small dataset a first start prepares before the default one (the tools
    work on it within a minute while the default follows)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default_dataset: str
    default_weights: str
    first_look_dataset: str | None = None
    entries: list[Entry]

    @model_validator(mode="after")
    def _consistent(self) -> Manifest:
        names = [e.name for e in self.entries]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate entry names: {', '.join(dupes)}")
        if self.default_dataset not in self.datasets:
            raise ValueError(f"default_dataset {self.default_dataset!r} is no dataset")
        if self.default_weights not in self.weights:
            raise ValueError(f"default_weights {self.default_weights!r} is no weights")
        for entry in self.datasets.values():
            if entry.encoder and entry.encoder not in self.weights:
                raise ValueError(
                    f"dataset {entry.name!r}: encoder {entry.encoder!r} is no weights"
                )
        if self.first_look_dataset not in (None, *self.datasets):
            raise ValueError(
                f"first_look_dataset {self.first_look_dataset!r} is no dataset"
            )
        return self

    @property
    def datasets(self) -> dict[str, DatasetEntry]:
        return {e.name: e for e in self.entries if isinstance(e, DatasetEntry)}

    @property
    def weights(self) -> dict[str, WeightsEntry]:
        return {e.name: e for e in self.entries if isinstance(e, WeightsEntry)}

    def dataset(self, name: str) -> DatasetEntry:
        """The dataset entry called ``name``; a clear error listing the known ones."""
        if name not in self.datasets:
            known = ", ".join(sorted(self.datasets))
            raise ManifestError(
                f"dataset {name!r} is not in the manifest (known: {known}); "
                "for your own images use --folder"
            )
        return self.datasets[name]

    def weight(self, name: str) -> WeightsEntry:
        """The weights entry called ``name``; a clear error listing the known ones."""
        if name not in self.weights:
            known = ", ".join(sorted(self.weights))
            raise ManifestError(f"weights {name!r} are not in the manifest ({known})")
        return self.weights[name]


def resolve_path(value: str) -> Path:
    """Expand ``${MORPH_SHARED_DATA}``; relative paths are from the project root."""
    expanded = re.sub(
        r"\$\{MORPH_SHARED_DATA\}",
        str(settings.shared_data_dir()).replace("\\", "/"),
        value,
    )
    path = Path(expanded)
    return path if path.is_absolute() else settings.PROJECT_ROOT / path


def load_manifest(path: Path | None = None) -> Manifest:
    """Read and validate the manifest.

    Parameters
    ----------
    path : Path, optional
        Defaults to :func:`morph_core.settings.manifest_path`.

    Raises
    ------
    ManifestError
        The file is missing, is not YAML, or an entry is invalid; the message
        names the entry and the field.
    """
    path = path or settings.manifest_path()
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError as e:
        raise ManifestError(f"manifest not found: {path}") from e
    except yaml.YAMLError as e:
        raise ManifestError(f"manifest {path} is not valid YAML: {e}") from e
    try:
        return Manifest.model_validate(raw)
    except ValidationError as e:
        raise ManifestError(f"manifest {path} is invalid:\n{_describe(e, raw)}") from e


def _describe(error: ValidationError, raw: object) -> str:
    lines = []
    for err in error.errors():
        loc = list(err["loc"])
        where = ".".join(str(p) for p in loc)
        if len(loc) >= 2 and loc[0] == "entries" and isinstance(raw, dict):
            try:
                where = f"entry {raw['entries'][loc[1]]['name']!r}: " + ".".join(
                    str(p) for p in loc[3:] or loc[2:]
                )
            except (KeyError, IndexError, TypeError):
                pass
        lines.append(f"  - {where}: {err['msg']}")
    return "\n".join(lines)
