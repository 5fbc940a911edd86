"""Joining label tables (Galaxy Zoo catalogues, ...) to galaxies: by id or position."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from astropy import units as u
from astropy.coordinates import SkyCoord

from morph_core.errors import CatalogError


def read_table(path: Path) -> pd.DataFrame:
    """A CSV or parquet label table."""
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except FileNotFoundError as e:
        raise CatalogError(f"label catalogue not found: {path}") from e
    except (ValueError, OSError, pd.errors.ParserError) as e:
        raise CatalogError(f"label catalogue {path} is not readable: {e}") from e


def join_labels(
    catalog: pd.DataFrame,
    labels: pd.DataFrame,
    on: str = "galaxy_id",
    id_column: str = "galaxy_id",
    radius_arcsec: float = 2.0,
) -> pd.DataFrame:
    """Add the label columns to the catalogue, matched by id or by sky position.

    Parameters
    ----------
    on : {"galaxy_id", "sky"}
        Match ``catalog.galaxy_id`` to ``labels[id_column]``, or each galaxy to
        the nearest label row (``ra``, ``dec`` in degrees) within ``radius_arcsec``.

    Returns
    -------
    DataFrame
        ``catalog`` with the label columns (NaN where unmatched); by position,
        also ``match_sep_arcsec``.

    Raises
    ------
    CatalogError
        Missing columns, or no galaxy matched at all.
    """
    if on == "galaxy_id":
        if id_column not in labels.columns:
            raise CatalogError(f"label catalogue has no column {id_column!r}")
        right = labels.drop_duplicates(id_column).rename(
            columns={id_column: "galaxy_id"}
        )
        right["galaxy_id"] = right["galaxy_id"].astype(str)
        extra = [c for c in right.columns if c not in catalog.columns]
        joined = catalog.merge(right[["galaxy_id", *extra]], on="galaxy_id", how="left")
        matched = int(catalog["galaxy_id"].isin(right["galaxy_id"]).sum())
        how = f"by {id_column}"
    elif on == "sky":
        for table, name in (
            (catalog, "the catalogue"),
            (labels, "the label catalogue"),
        ):
            if not {"ra", "dec"} <= set(table.columns):
                raise CatalogError(f"{name} needs ra and dec to join by position")
        known = catalog[["ra", "dec"]].notna().all(axis=1).to_numpy()
        sep = np.full(len(catalog), np.inf)
        index = np.zeros(len(catalog), dtype=int)
        if known.any() and len(labels):
            ours = SkyCoord(
                catalog.loc[known, "ra"].to_numpy() * u.deg,
                catalog.loc[known, "dec"].to_numpy() * u.deg,
            )
            theirs = SkyCoord(
                labels["ra"].to_numpy() * u.deg, labels["dec"].to_numpy() * u.deg
            )
            idx, d2d, _ = ours.match_to_catalog_sky(theirs)
            index[known], sep[known] = idx, d2d.arcsec
        hit = sep <= radius_arcsec
        extra = [c for c in labels.columns if c not in catalog.columns]
        right = labels.iloc[index][extra].reset_index(drop=True)
        right.loc[~hit] = np.nan
        joined = pd.concat([catalog.reset_index(drop=True), right], axis=1)
        joined["match_sep_arcsec"] = np.where(hit, sep, np.nan)
        matched = int(hit.sum())
        how = f"within {radius_arcsec:g} arcsec"
    else:
        raise CatalogError(f"join labels on 'galaxy_id' or 'sky', not {on!r}")
    if matched == 0:
        raise CatalogError(f"the label catalogue matched no galaxy ({how})")
    return joined
