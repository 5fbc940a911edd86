"""Sky positions and IAU-style names (``JHHMMSS.ss+DDMMSS.s``)."""

from __future__ import annotations

import re

import numpy as np
from astropy import units as u
from astropy.coordinates import Angle, SkyCoord

_IAU = re.compile(
    r"^J(\d{2})(\d{2})(\d{2}(?:\.\d+)?)([+-])(\d{2})(\d{2})(\d{2}(?:\.\d+)?)$"
)


def iau_names(ra: np.ndarray, dec: np.ndarray) -> list[str]:
    """IAU-style names for positions in degrees, e.g. ``J000411.19+020924.0``."""
    ra_s = Angle(np.asarray(ra) * u.deg).to_string(
        unit=u.hour, sep="", precision=2, pad=True
    )
    dec_s = Angle(np.asarray(dec) * u.deg).to_string(
        unit=u.deg, sep="", precision=1, pad=True, alwayssign=True
    )
    return [
        f"J{r}{d}"
        for r, d in zip(np.atleast_1d(ra_s), np.atleast_1d(dec_s), strict=True)
    ]


def parse_iau_name(name: str) -> tuple[float, float]:
    """RA and Dec in degrees encoded in an IAU-style name.

    Raises
    ------
    ValueError
        The name is not of the form ``JHHMMSS.ss+DDMMSS.s``.
    """
    match = _IAU.match(name.strip())
    if not match:
        raise ValueError(f"{name!r} is not an IAU-style name like J000411.19+020924.0")
    h, m, s, sign, d, dm, ds = match.groups()
    ra = (int(h) + int(m) / 60 + float(s) / 3600) * 15
    dec = int(d) + int(dm) / 60 + float(ds) / 3600
    return ra, -dec if sign == "-" else dec


def parse_position(text: str) -> tuple[float, float]:
    """RA and Dec in degrees from what a user types.

    Accepts degrees (``150.1 2.2``, ``150.1, -2.2``), sexagesimal
    (``10:00:24 +02:12:00``, ``10h00m24s +2d12m00s``) and IAU-style names.

    Raises
    ------
    ValueError
        The text is none of these, or the position is off the sky.
    """
    text = text.strip()
    if text.upper().startswith("J"):
        return parse_iau_name(text.upper())
    parts = text.replace(",", " ").split()
    if len(parts) != 2:
        raise ValueError(
            f"{text!r}: give RA and Dec, e.g. '150.1 2.2' (degrees), "
            "'10:00:24 +02:12:00' or 'J100024.00+021200.0'"
        )
    sexagesimal = any(c in text for c in ":hms")
    try:
        coord = SkyCoord(
            parts[0], parts[1], unit=(u.hourangle, u.deg) if sexagesimal else u.deg
        )
    except (ValueError, u.UnitsError) as e:
        raise ValueError(f"{text!r} is not a sky position: {e}") from e
    return float(coord.ra.deg), float(coord.dec.deg)


def nearest(
    ra: np.ndarray, dec: np.ndarray, target_ra: float, target_dec: float
) -> tuple[int, float]:
    """Row of the position nearest to the target and its separation in arcsec."""
    catalog = SkyCoord(ra * u.deg, dec * u.deg)
    target = SkyCoord(target_ra * u.deg, target_dec * u.deg)
    separation = target.separation(catalog).arcsec
    row = int(np.nanargmin(separation))
    return row, float(separation[row])


def separation_arcsec(
    ra: np.ndarray, dec: np.ndarray, target_ra: float, target_dec: float
) -> np.ndarray:
    """Angular distance of each position from the target, arcsec (NaN if unknown)."""
    target = SkyCoord(target_ra * u.deg, target_dec * u.deg)
    return target.separation(
        SkyCoord(np.asarray(ra) * u.deg, np.asarray(dec) * u.deg)
    ).arcsec
