"""Sky positions and IAU-style names (``JHHMMSS.ss+DDMMSS.s``).

astropy is imported by the functions that need it, so a page that only shows
galaxies (and their links) never loads it."""

from __future__ import annotations

import re

import numpy as np

_IAU = re.compile(
    r"^J(\d{2})(\d{2})(\d{2}(?:\.\d+)?)([+-])(\d{2})(\d{2})(\d{2}(?:\.\d+)?)$"
)


def iau_names(ra: np.ndarray, dec: np.ndarray) -> list[str]:
    """IAU-style names for positions in degrees, e.g. ``J000411.19+020924.0``."""
    from astropy import units as u
    from astropy.coordinates import Angle

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
    (``10:00:24 +02:12:00``, ``10h00m24s +2d12m00s``), IAU-style names, and
    object names (``NGC 1300``) resolved online by :func:`resolve_name`.

    Raises
    ------
    ValueError
        The text is none of these, or the position is off the sky.
    """
    text = text.strip()
    if text.upper().startswith("J"):
        return parse_iau_name(text.upper())
    parts = text.replace(",", " ").split()
    if re.search(r"[A-Za-z]{2}", text) and not re.search(r"\d[hdms]", text):
        return resolve_name(text)
    if len(parts) != 2:
        raise ValueError(
            f"{text!r}: give RA and Dec, e.g. '150.1 2.2' (degrees), "
            "'10:00:24 +02:12:00' or 'J100024.00+021200.0'"
        )
    from astropy import units as u
    from astropy.coordinates import SkyCoord

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
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    catalog = SkyCoord(ra * u.deg, dec * u.deg)
    target = SkyCoord(target_ra * u.deg, target_dec * u.deg)
    separation = target.separation(catalog).arcsec
    row = int(np.nanargmin(separation))
    return row, float(separation[row])


def separation_arcsec(
    ra: np.ndarray, dec: np.ndarray, target_ra: float, target_dec: float
) -> np.ndarray:
    """Angular distance of each position from the target, arcsec (NaN if unknown)."""
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    target = SkyCoord(target_ra * u.deg, target_dec * u.deg)
    return target.separation(
        SkyCoord(np.asarray(ra) * u.deg, np.asarray(dec) * u.deg)
    ).arcsec


def links(ra: float, dec: float) -> dict[str, str]:
    """Where to look at a position elsewhere: Legacy Surveys, SDSS, Simbad."""
    return {
        "Legacy Surveys": (
            f"https://www.legacysurvey.org/viewer?ra={ra:.5f}&dec={dec:.5f}"
            "&layer=ls-dr10&zoom=15"
        ),
        "SDSS": (
            "https://skyserver.sdss.org/dr18/VisualTools/navi"
            f"?ra={ra:.5f}&dec={dec:.5f}&scale=0.2"
        ),
        "Simbad": (
            "https://simbad.cds.unistra.fr/simbad/sim-coo"
            f"?Coord={ra:.5f}%20{dec:+.5f}&Radius=10&Radius.unit=arcsec"
        ),
    }


def resolve_name(name: str) -> tuple[float, float]:
    """RA and Dec of an object name (``NGC 1300``) from CDS Sesame; needs the network.

    Raises
    ------
    ValueError
        Unknown name, or offline: the message says to type coordinates.
    """
    from astropy.coordinates import SkyCoord
    from astropy.coordinates.name_resolve import NameResolveError

    try:
        coord = SkyCoord.from_name(name)
    except (NameResolveError, OSError) as e:
        raise ValueError(
            f"could not resolve {name!r} to a position: CDS Sesame did not answer "
            "(offline?) or does not know it; type its coordinates, e.g. '150.1 2.2'"
        ) from e
    return float(coord.ra.deg), float(coord.dec.deg)
