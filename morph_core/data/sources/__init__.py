"""Where catalogues come from: the synthetic survey, a folder of JPEG/PNG/FITS
cutouts with a CSV, or an HDF5 image stack; optionally joined to a label table.

Each function turns a manifest :class:`DatasetEntry` into a raw catalogue table
(``galaxy_id``, ``file`` and any other columns); generated and converted images
are written into a folder the caller gives. Deciding when that work is needed
again is the pipeline's job (:mod:`morph_core.pipeline.source`);
:func:`morph_core.data.catalog.validate_catalog` then checks the table.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from morph_core.data.catalog import empty_skipped, inside, read_catalog_csv
from morph_core.data.download import fetch
from morph_core.data.images import content_hash
from morph_core.data.manifest import DatasetEntry, resolve_path
from morph_core.data.sky import parse_iau_name
from morph_core.data.sources.fits import FITS_SUFFIXES, fits_to_image, is_fits
from morph_core.data.sources.labels import join_labels, read_table
from morph_core.data.synthetic import SurveySpec
from morph_core.errors import CatalogError, ImageError
from morph_core.progress import ProgressFn

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", *FITS_SUFFIXES)
GENERATED_SOURCES = ("synthetic", "hdf5")  # sources whose images are made by us


def survey_spec(entry: DatasetEntry) -> SurveySpec:
    """The synthetic survey an entry's ``params`` describe (checked)."""
    try:
        return SurveySpec(**entry.params)
    except (TypeError, ValueError) as e:
        raise CatalogError(f"synthetic dataset {entry.name!r}: {e}") from e


def hdf5_file(entry: DatasetEntry, progress: ProgressFn | None = None) -> Path:
    """The entry's HDF5 file, downloaded first (resumable) when it has a URL."""
    path = entry.folder()
    if entry.url:
        fetch(entry.url, path, entry.sha256, progress)
    if not path.is_file():
        raise CatalogError(f"HDF5 file not found: {path}")
    return path


def folder_table(
    entry: DatasetEntry, render_dir: Path, progress: ProgressFn | None = None
) -> tuple[pd.DataFrame, str, pd.DataFrame]:
    """The catalogue of an image folder, the folder its relative ``file`` paths
    start from, and the FITS files that could not be rendered (with the reason).

    FITS cutouts are rendered to PNG in ``render_dir``, named by their content
    and stretch, so a changed file is rendered again and an unchanged one never.
    """
    table, root = _image_folder(entry)
    table, outside = _confine(table, Path(root))
    table, skipped = _render_fits(table, root, entry.stretch, render_dir, progress)
    return table, root, pd.concat([outside, skipped], ignore_index=True)


def _confine(table: pd.DataFrame, folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows whose ``file`` stays inside the folder, and the others (skipped)."""
    if "file" not in table.columns:
        return table, empty_skipped()
    keep = []
    for file in table["file"].astype(str):
        try:
            inside(
                folder,
                Path(file).relative_to(folder)
                if Path(file).is_absolute() and Path(file).is_relative_to(folder)
                else file,
            )
            keep.append(True)
        except CatalogError:
            keep.append(False)
    keep = np.array(keep, dtype=bool)
    outside = table.loc[~keep, ["galaxy_id", "file"]].astype(str)
    outside = outside.assign(reason="image path outside the dataset folder")
    return table[keep].reset_index(drop=True), outside.reset_index(drop=True)


def with_labels(table: pd.DataFrame, entry: DatasetEntry) -> pd.DataFrame:
    """The table joined to the entry's label table, if it names one."""
    if entry.labels is None:
        return table
    spec = entry.labels
    path = resolve_path(spec.file)
    if spec.url:
        fetch(spec.url, path, spec.sha256)
    return join_labels(
        table, read_table(path), spec.on, spec.id_column, spec.radius_arcsec
    )


def _image_folder(entry: DatasetEntry) -> tuple[pd.DataFrame, str]:
    folder = entry.folder()
    if folder is None or not folder.is_dir():
        raise CatalogError(
            f"dataset folder not found: {folder} (for the real test sets set "
            "MORPH_SHARED_DATA to the folder holding gz1_sdss/ and decals_rings/)"
        )
    missing = [f for f in entry.expected_files if not (folder / f).exists()]
    if missing:
        raise CatalogError(f"dataset folder {folder} lacks {', '.join(missing)}")
    csv = inside(folder, entry.catalog)
    if csv.is_file():
        table = read_catalog_csv(csv, entry.columns)
    elif entry.catalog == "catalog.csv":
        table = _list_images(folder)
    else:
        raise CatalogError(f"catalogue not found: {entry.catalog}")
    if entry.sky_from_name and not {"ra", "dec"} <= set(table.columns):
        table = _sky_from_names(table)
    return table, str(folder)


def _render_fits(
    table: pd.DataFrame, root: str, stretch: str, out_dir: Path, progress
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Render FITS cutouts to PNG in ``out_dir``, named by content and stretch."""
    if "file" not in table.columns:
        return table, empty_skipped()
    rows = [i for i, f in enumerate(table["file"].astype(str)) if is_fits(f)]
    if not rows:
        return table, empty_skipped()
    table = table.copy()
    skipped = []
    for n, i in enumerate(rows):
        source = Path(root) / table.at[i, "file"]
        try:
            key = f"{content_hash(source)}:{stretch}"
            png = out_dir / f"fits-{hashlib.sha1(key.encode()).hexdigest()[:16]}.png"
            if not png.exists():
                png.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(fits_to_image(source, stretch)).save(png)
            table.at[i, "file"] = str(png)
        except (ImageError, OSError) as e:
            reason = str(e) if isinstance(e, ImageError) else f"missing file: {source}"
            skipped.append((str(table.at[i, "galaxy_id"]), str(source), reason))
        if progress and ((n + 1) % 100 == 0 or n + 1 == len(rows)):
            progress(n + 1, len(rows))
    bad = {g for g, _, _ in skipped}
    kept = table[~table["galaxy_id"].astype(str).isin(bad)].reset_index(drop=True)
    return kept, pd.DataFrame(skipped, columns=["galaxy_id", "file", "reason"])


def _list_images(folder: Path) -> pd.DataFrame:
    """A catalogue of every image in ``folder`` (recursively), id = file stem."""
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and str(p).lower().endswith(IMAGE_SUFFIXES)
    )
    if not files:
        raise CatalogError(f"{folder} has no catalog.csv and no images")
    stems = [p.name.split(".")[0] for p in files]
    return pd.DataFrame({"galaxy_id": stems, "file": list(map(str, files))})


def _sky_from_names(table: pd.DataFrame) -> pd.DataFrame:
    """Fill ``ra``/``dec`` from IAU-style ids; NaN where an id is not such a name."""
    positions = []
    for name in table["galaxy_id"].astype(str):
        try:
            positions.append(parse_iau_name(name))
        except ValueError:
            positions.append((np.nan, np.nan))
    ra, dec = zip(*positions, strict=True) if positions else ((), ())
    return table.assign(ra=list(ra), dec=list(dec))
