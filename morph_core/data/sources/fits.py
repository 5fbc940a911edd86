"""FITS cutouts to 8-bit images: single band (greyscale) or three bands (colour).

NaNs and masked pixels become the sky level; the stretch is astropy's asinh
(per band, between the 0.5 and 99.8 percentiles) or Lupton et al. (2004) RGB.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from astropy.io import fits
from astropy.visualization import AsinhStretch, PercentileInterval, make_lupton_rgb

from morph_core.errors import ImageError

FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz", ".fits.fz")
Stretch = Literal["asinh", "lupton"]


def is_fits(path: str | Path) -> bool:
    return str(path).lower().endswith(FITS_SUFFIXES)


def fits_to_image(path: str | Path, stretch: Stretch = "asinh") -> np.ndarray:
    """Render a FITS cutout: ``(H, W)`` uint8 for one band, ``(H, W, 3)`` for three.

    The first HDU holding a 2-D image or a 3-D stack of bands is used; with
    more than three bands the first three are taken (e.g. g, r, z).

    Raises
    ------
    ImageError
        Unreadable file, no image HDU, or no finite pixel.
    """
    try:
        with fits.open(path, memmap=False) as hdus:
            data = next(
                (
                    np.asarray(h.data, dtype=np.float32)
                    for h in hdus
                    if h.data is not None and h.data.ndim in (2, 3)
                ),
                None,
            )
    except (OSError, ValueError, TypeError) as e:
        raise ImageError(f"unreadable FITS file ({e}): {path}") from e
    if data is None:
        raise ImageError(f"FITS file has no image HDU: {path}")
    if isinstance(data, np.ma.MaskedArray):
        data = data.filled(np.nan)
    bands = data[None] if data.ndim == 2 else data[:3]
    finite = np.isfinite(bands)
    if not finite.any():
        raise ImageError(f"FITS image has no finite pixels: {path}")
    sky = np.nanmedian(np.where(finite, bands, np.nan), axis=(1, 2), keepdims=True)
    bands = np.where(finite, bands, sky)
    if len(bands) == 1:
        return _asinh(bands[0])
    if len(bands) == 2:
        bands = np.concatenate([bands, bands.mean(0, keepdims=True)])
    if stretch == "lupton":
        scale = np.percentile(bands, 99.5) or 1.0
        return make_lupton_rgb(*(bands[::-1] / scale), stretch=0.5, Q=8)
    return np.stack([_asinh(b) for b in bands[::-1]], axis=-1)  # reddest band as red


def _asinh(band: np.ndarray) -> np.ndarray:
    low, high = PercentileInterval(99.3).get_limits(band)
    scaled = np.clip((band - low) / max(high - low, 1e-12), 0, 1)
    return (AsinhStretch()(scaled) * 255).astype(np.uint8)
