"""Sky positions and IAU-style names (``JHHMMSS.ss+DDMMSS.s``)."""

from __future__ import annotations

import re

import numpy as np
from astropy import units as u
from astropy.coordinates import Angle

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
