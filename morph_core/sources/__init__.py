"""Where catalogues come from: the synthetic survey, or a folder of images and a CSV.

:func:`read_source` turns a manifest :class:`DatasetEntry` into a raw catalogue
table (``galaxy_id``, ``file`` and any other columns) and the folder its relative
``file`` paths start from; :func:`morph_core.catalog.validate_catalog` checks it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from morph_core.catalog import read_catalog_csv
from morph_core.errors import CatalogError
from morph_core.manifest import DatasetEntry
from morph_core.progress import ProgressFn
from morph_core.sky import parse_iau_name
from morph_core.sources.synthetic import SurveySpec, make_survey
from morph_core.workspace import Workspace

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff")


def read_source(
    entry: DatasetEntry, workspace: Workspace, progress: ProgressFn | None = None
) -> tuple[pd.DataFrame, str | None]:
    """The raw catalogue of a dataset and the folder its image paths start from.

    A synthetic survey is rendered into the workspace once; rendering again only
    happens when its parameters change.
    """
    if entry.source == "synthetic":
        return _synthetic(entry, workspace, progress), None
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


def _synthetic(
    entry: DatasetEntry, workspace: Workspace, progress: ProgressFn | None
) -> pd.DataFrame:
    try:
        spec = SurveySpec(**entry.params)
    except (TypeError, ValueError) as e:
        raise CatalogError(f"synthetic dataset {entry.name!r}: {e}") from e
    key = {
        "generator": "morph_core.sources.synthetic",
        "spec": vars(spec),
        "version": 2,
    }
    if workspace.is_fresh("synthetic.parquet", key):
        return workspace.read_table("synthetic.parquet")
    table = make_survey(spec, workspace.file("images"), progress)
    workspace.write_table("synthetic.parquet", table, key)
    return table


def _list_images(folder) -> pd.DataFrame:
    """A catalogue of every image in ``folder`` (recursively), id = file stem."""
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
    )
    if not files:
        raise CatalogError(
            f"{folder} has no catalog.csv and no images ({', '.join(IMAGE_SUFFIXES)})"
        )
    return pd.DataFrame(
        {"galaxy_id": [p.stem for p in files], "file": list(map(str, files))}
    )


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
