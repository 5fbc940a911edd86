"""The catalogue: a plain DataFrame of galaxies with agreed columns.

=============  ======  =====================================================
column         type    meaning
=============  ======  =====================================================
``galaxy_id``  str     unique id (an IAU name, an SDSS objid, ...)
``file``       str     absolute path of the galaxy's image
``ra``         float   right ascension in degrees, [0, 360) (optional)
``dec``        float   declination in degrees, [-90, 90] (optional)
anything else          labels, vote fractions, tags: kept as they are
=============  ======  =====================================================

Problems with single rows (a duplicate id, a missing file, a position out of
range) skip that row with a reason; problems with the whole table (a missing
column, a CSV that cannot be parsed) raise :class:`CatalogError`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from morph_core import settings
from morph_core.errors import CatalogError

REQUIRED_COLUMNS = ("galaxy_id", "file")
SKIPPED_COLUMNS = ("galaxy_id", "file", "reason")
MAX_CATEGORIES = 20  # a text column with more values is a name, not a class


def read_catalog_csv(path: Path, columns: dict[str, str] | None = None) -> pd.DataFrame:
    """Read a catalogue CSV, renaming source columns to ours.

    Parameters
    ----------
    path : Path
        CSV with at least ``galaxy_id`` and ``file`` (after renaming).
    columns : dict, optional
        Our column name -> the CSV's, e.g. ``{"galaxy_id": "objid"}``.
    """
    try:
        table = pd.read_csv(
            path, dtype={(columns or {}).get("galaxy_id", "galaxy_id"): str}
        )
    except FileNotFoundError as e:
        raise CatalogError(f"catalogue not found: {path.name}") from e
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise CatalogError(
            f"catalogue {path.name} is not a readable CSV ({type(e).__name__})"
        ) from e
    rename = {theirs: ours for ours, theirs in (columns or {}).items()}
    missing = [c for c in rename if c not in table.columns]
    if missing:
        raise CatalogError(
            f"catalogue {path.name} has no column {', '.join(map(repr, missing))}"
            f"{_columns_hint(table)}"
        )
    return table.rename(columns=rename)


def validate_catalog(
    table: pd.DataFrame, image_root: Path | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Check a catalogue; return the usable rows and the skipped ones with reasons.

    Parameters
    ----------
    table : DataFrame
        Must have ``galaxy_id`` and ``file``; ``ra``/``dec`` are optional.
    image_root : Path, optional
        Relative ``file`` paths are taken from here.

    Returns
    -------
    catalog : DataFrame
        Valid rows in input order, ``file`` absolute, ``galaxy_id`` str.
    skipped : DataFrame
        Columns ``galaxy_id``, ``file``, ``reason``.

    Raises
    ------
    CatalogError
        A required column is missing, or ``ra``/``dec`` are not numeric.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise CatalogError(
            f"catalogue needs columns {', '.join(REQUIRED_COLUMNS)}; missing "
            f"{', '.join(missing)}{_columns_hint(table)}. Rename them in the CSV "
            "or map them with columns={'galaxy_id': 'objid'}."
        )
    table = table.reset_index(drop=True).copy()
    table["file"] = absolute_files(table, image_root)
    reasons = row_problems(table)
    exists = np.array([Path(f).is_file() for f in table["file"]], dtype=bool)
    reasons[~exists & (reasons == "")] = "image file not found"

    bad_rows = reasons != ""
    skipped = table.loc[bad_rows, ["galaxy_id", "file"]].assign(
        reason=reasons[bad_rows]
    )
    return table.loc[~bad_rows].reset_index(drop=True), skipped.reset_index(drop=True)


def row_problems(table: pd.DataFrame) -> pd.Series:
    """Why each row cannot be used (``""`` where it can): an empty or repeated
    ``galaxy_id``, a position out of range. Cleans ``table`` in place:
    ``galaxy_id`` as stripped text, ``ra``/``dec`` as floats.

    Raises
    ------
    CatalogError
        ``ra`` or ``dec`` holds no numbers at all.
    """
    table["galaxy_id"] = table["galaxy_id"].astype(str).str.strip()
    reasons = pd.Series("", index=table.index, dtype=object)
    for col in ("ra", "dec"):
        if col in table.columns:
            values = pd.to_numeric(table[col], errors="coerce")
            if values.isna().all() and table[col].notna().any():
                raise CatalogError(f"column {col!r} must hold numbers in degrees")
            table[col] = values.astype(float)
    if "ra" in table.columns:
        bad = ~table["ra"].between(0, 360, inclusive="left") & table["ra"].notna()
        reasons[bad & (reasons == "")] = "ra outside [0, 360) degrees"
    if "dec" in table.columns:
        bad = ~table["dec"].between(-90, 90) & table["dec"].notna()
        reasons[bad & (reasons == "")] = "dec outside [-90, 90] degrees"
    empty = table["galaxy_id"].isin(["", "nan", "None"])
    reasons[empty & (reasons == "")] = "empty galaxy_id"
    dupes = table["galaxy_id"].duplicated(keep="first") & ~empty
    reasons[dupes & (reasons == "")] = "duplicate galaxy_id (first kept)"
    return reasons


def _columns_hint(table: pd.DataFrame) -> str:
    """The columns found, for an error message; never on a public server, where
    a header line is file content a visitor must not read."""
    if settings.mode() == "public":
        return ""
    return f" (found: {', '.join(map(str, table.columns[:20]))})"


def inside(folder: Path, name: str | Path) -> Path:
    """``folder / name`` when that stays inside ``folder`` (links resolved).

    Raises
    ------
    CatalogError
        ``name`` is absolute or leads out of the folder (``..``, a link).
    """
    root = Path(folder).resolve()
    path = (root / name).resolve()
    if Path(name).is_absolute() or not path.is_relative_to(root):
        raise CatalogError(
            f"{Path(name).name!r}: a path in a dataset must stay inside its folder "
            "(no absolute paths, no '..')"
        )
    return path


def descriptive_columns(catalog: pd.DataFrame) -> list[str]:
    """Columns that describe galaxies: numbers, and text with few values (not the
    id or the file), in catalogue order."""
    return [
        name
        for name in catalog.columns
        if name not in REQUIRED_COLUMNS
        and (
            pd.api.types.is_numeric_dtype(catalog[name])
            or catalog[name].nunique(dropna=True) <= MAX_CATEGORIES
        )
    ]


def empty_skipped() -> pd.DataFrame:
    """A skipped-rows table with no rows."""
    return pd.DataFrame({c: pd.Series(dtype=object) for c in SKIPPED_COLUMNS})


def absolute_files(table: pd.DataFrame, image_root: Path | str | None) -> list[str]:
    """The ``file`` column as absolute paths (relative ones from ``image_root``)."""
    root = Path(image_root) if image_root else Path.cwd()
    out = []
    for file in table["file"].astype(str):
        path = Path(file).expanduser()
        out.append(str(path if path.is_absolute() else root / path))
    return out
