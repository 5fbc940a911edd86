"""Where catalogues come from: the synthetic survey, a folder of JPEG/PNG/FITS
cutouts with a CSV, or an HDF5 image stack; optionally joined to a label table.

:func:`read_source` turns a manifest :class:`DatasetEntry` into a raw catalogue
table (``galaxy_id``, ``file`` and any other columns), the folder its relative
``file`` paths start from, and the rows it had to leave out with the reason;
:func:`morph_core.catalog.validate_catalog` then checks the table.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from morph_core.catalog import empty_skipped, read_catalog_csv
from morph_core.download import fetch
from morph_core.errors import CatalogError, ImageError
from morph_core.manifest import DatasetEntry, resolve_path
from morph_core.progress import ProgressFn
from morph_core.sky import parse_iau_name
from morph_core.sources.fits import FITS_SUFFIXES, fits_to_image, is_fits
from morph_core.sources.hdf5 import read_hdf5
from morph_core.sources.labels import join_labels, read_table
from morph_core.synthetic import SurveySpec, make_survey
from morph_core.workspace import Workspace

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", *FITS_SUFFIXES)


def read_source(
    entry: DatasetEntry, workspace: Workspace, progress: ProgressFn | None = None
) -> tuple[pd.DataFrame, str | None, pd.DataFrame]:
    """The raw catalogue of a dataset, its image folder, and the rows left out.

    Generated and converted images (synthetic, HDF5, FITS) are written into the
    workspace once; they are made again only when their inputs change.
    """
    skipped = empty_skipped()
    if entry.source == "synthetic":
        table, root = _synthetic(entry, workspace, progress), None
    elif entry.source == "hdf5":
        table, root = _hdf5(entry, workspace, progress), None
    else:
        table, root = _image_folder(entry)
        table, skipped = _render_fits(table, root, entry.stretch, workspace, progress)
    if entry.labels is not None:
        spec = entry.labels
        path = resolve_path(spec.file)
        if spec.url:
            fetch(spec.url, path, spec.sha256)
        table = join_labels(
            table, read_table(path), spec.on, spec.id_column, spec.radius_arcsec
        )
    return table, root, skipped


def _synthetic(
    entry: DatasetEntry, workspace: Workspace, progress: ProgressFn | None
) -> pd.DataFrame:
    try:
        spec = SurveySpec(**entry.params)
    except (TypeError, ValueError) as e:
        raise CatalogError(f"synthetic dataset {entry.name!r}: {e}") from e
    key = {
        "generator": "morph_core.synthetic",
        "spec": vars(spec),
        "version": 3,
    }
    if workspace.is_fresh("synthetic.parquet", key):
        return workspace.read_table("synthetic.parquet")
    table = make_survey(spec, workspace.file("images"), progress)
    workspace.write_table("synthetic.parquet", table, key)
    return table


def _hdf5(entry: DatasetEntry, workspace: Workspace, progress) -> pd.DataFrame:
    path = entry.folder()
    if entry.url:
        fetch(entry.url, path, entry.sha256, progress)
    if not path.is_file():
        raise CatalogError(f"HDF5 file not found: {path}")
    stat = path.stat()
    key = {"hdf5": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    if workspace.is_fresh("hdf5.parquet", key):
        return workspace.read_table("hdf5.parquet")
    table = read_hdf5(path, workspace.file("images"), progress)
    workspace.write_table("hdf5.parquet", table, key)
    return table


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
    csv = folder / entry.catalog
    if csv.is_file():
        table = read_catalog_csv(csv, entry.columns)
    elif entry.catalog == "catalog.csv":
        table = _list_images(folder)
    else:
        raise CatalogError(f"catalogue not found: {csv}")
    if entry.sky_from_name and not {"ra", "dec"} <= set(table.columns):
        table = _sky_from_names(table)
    return table, str(folder)


def _render_fits(
    table: pd.DataFrame, root: str, stretch: str, workspace: Workspace, progress
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Render FITS cutouts to PNG in the workspace (again only when a file changes)."""
    if "file" not in table.columns:
        return table, empty_skipped()
    rows = [i for i, f in enumerate(table["file"].astype(str)) if is_fits(f)]
    if not rows:
        return table, empty_skipped()
    table = table.copy()
    skipped = []
    for n, i in enumerate(rows):
        source = Path(root) / table.at[i, "file"]
        name = hashlib.sha1(f"{source}:{stretch}".encode()).hexdigest()[:16]
        png = workspace.file(f"images/fits/{name}.png")
        try:
            if not png.exists() or png.stat().st_mtime_ns < source.stat().st_mtime_ns:
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
