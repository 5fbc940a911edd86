"""A small synthetic survey, rendered deterministically from a seed.

The embedded default dataset, so the dashboard works offline on a fresh clone.
Each galaxy is a Sérsic bulge and/or an exponential disc with inclination and
position angle, and, by morphology, a bar, logarithmic spiral arms, a ring, an
edge-on dust lane, a merging companion with a tidal tail, or star-forming clumps;
then a Gaussian PSF, sky noise, three bands and an asinh colour stretch.
Volunteer-like vote fractions and hashtags are simulated from the truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from scipy.ndimage import gaussian_filter

from morph_core.progress import ProgressFn
from morph_core.sky import iau_names

MORPHOLOGIES = {  # name -> share of the survey
    "elliptical": 0.34,
    "spiral": 0.26,
    "barred_spiral": 0.12,
    "edge_on": 0.12,
    "ring": 0.05,
    "merger": 0.06,
    "irregular": 0.05,
}
N_VOLUNTEERS = 40
TAG_RATE = 0.25  # share of eligible galaxies whose tag a volunteer wrote
_TAGS = {
    "ring": "#ring",
    "merger": "#merger",
    "irregular": "#irregular",
    "edge_on": "#dustlane",
    "barred_spiral": "#barred",
}
_BULGE_RGB = np.array([1.35, 1.0, 0.6])  # z, r, g weights: red
_DISC_RGB = np.array([0.9, 1.0, 1.05])
_CLUMP_RGB = np.array([0.6, 1.0, 1.45])  # blue


@dataclass(frozen=True)
class SurveySpec:
    """Parameters of a synthetic survey.

    Parameters
    ----------
    n_galaxies : int
        Number of galaxies, >= 1.
    image_size : int
        Side of each square image in pixels, 32-424.
    seed : int
        Everything follows from it: same seed, same catalogue and pixels.
    """

    n_galaxies: int = 2000
    image_size: int = 128
    seed: int = 42

    def __post_init__(self) -> None:
        if self.n_galaxies < 1:
            raise ValueError(f"n_galaxies must be >= 1, not {self.n_galaxies}")
        if not 32 <= self.image_size <= 424:
            raise ValueError(f"image_size must be in 32-424, not {self.image_size}")


def make_survey(
    spec: SurveySpec, image_dir: Path, progress: ProgressFn | None = None
) -> pd.DataFrame:
    """Render a survey into ``image_dir`` (PNG) and return its catalogue.

    Returns
    -------
    DataFrame
        ``galaxy_id`` (IAU name), ``ra``, ``dec`` (deg), ``file``, ``morphology``,
        vote fractions ``smooth_fraction``, ``edge_on_fraction``, ``bar_fraction``,
        ``spiral_fraction``, ``merging_fraction``, ``odd_fraction``, and ``tags``
        (hashtags with their counts, e.g. ``#ring:3``).
    """
    rng = np.random.default_rng(spec.seed)
    n = spec.n_galaxies
    names = list(MORPHOLOGIES)
    morphology = rng.choice(names, size=n, p=list(MORPHOLOGIES.values()))
    ra, dec = _footprint(rng, n)
    snr = rng.uniform(8, 60, n)
    image_seeds = rng.integers(0, 2**63, n)
    table = pd.DataFrame(
        {
            "galaxy_id": iau_names(ra, dec),
            "ra": ra,
            "dec": dec,
            "morphology": morphology,
            "snr": snr.round(1),
        }
    )
    table = pd.concat([table, _votes(rng, morphology, snr)], axis=1)
    table["tags"] = _tags(rng, morphology)
    table = table.drop_duplicates("galaxy_id").reset_index(drop=True)

    image_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for i, row in table.iterrows():
        pixels = render_galaxy(
            row["morphology"],
            spec.image_size,
            row["snr"],
            np.random.default_rng(image_seeds[i]),
        )
        path = image_dir / f"{i:07d}.png"
        Image.fromarray(pixels).save(path, optimize=False, compress_level=1)
        files.append(str(path))
        if progress and ((i + 1) % 50 == 0 or i + 1 == len(table)):
            progress(i + 1, len(table))
    table.insert(3, "file", files)
    return table


def render_galaxy(
    morphology: str, size: int, snr: float, rng: np.random.Generator
) -> np.ndarray:
    """One ``(size, size, 3)`` uint8 colour image of a galaxy of ``morphology``."""
    if morphology not in MORPHOLOGIES:
        raise ValueError(
            f"unknown morphology {morphology!r}; known: {', '.join(MORPHOLOGIES)}"
        )
    s = size / 128  # sizes below are for 128-px images
    yy, xx = np.mgrid[:size, :size].astype(np.float32) - (size - 1) / 2
    xx = xx - rng.normal(0, 1.5 * s)
    yy = yy - rng.normal(0, 1.5 * s)
    bands = np.zeros((3, size, size), np.float32)
    pa = rng.uniform(0, np.pi)
    q = rng.uniform(0.45, 1.0)

    def add(image: np.ndarray, rgb: np.ndarray) -> None:
        bands[:] += rgb[:, None, None] * image[None]

    if morphology == "elliptical":
        add(
            _sersic(
                xx,
                yy,
                rng.uniform(8, 16) * s,
                rng.uniform(1.5, 3),
                pa,
                rng.uniform(0.6, 1),
            ),
            _BULGE_RGB,
        )
    elif morphology == "irregular":
        add(0.35 * _exp_disc(xx, yy, rng.uniform(8, 14) * s, pa, q), _DISC_RGB)
        for _ in range(rng.integers(4, 10)):
            cx, cy = rng.normal(0, 9 * s, 2)
            add(
                rng.uniform(0.4, 1.2)
                * _gauss(xx - cx, yy - cy, rng.uniform(1.2, 3) * s),
                _CLUMP_RGB,
            )
    else:
        if morphology == "edge_on":
            q = rng.uniform(0.08, 0.2)
        h = rng.uniform(7, 14) * s
        disc = _exp_disc(xx, yy, h, pa, q)
        if morphology in ("spiral", "barred_spiral", "merger"):
            disc = disc * _arms(
                xx,
                yy,
                pa,
                q,
                int(rng.integers(1, 5)),
                rng.uniform(0.2, 0.6),
                rng.uniform(0.5, 0.9),
            )
        if morphology == "edge_on":
            u, v = _rotate(xx, yy, pa)
            disc = disc * (1 - 0.8 * np.exp(-0.5 * (v / (0.6 * s)) ** 2))
        add(disc, _DISC_RGB)
        add(
            rng.uniform(0.2, 0.8) * _sersic(xx, yy, rng.uniform(2, 4) * s, 4, pa, q),
            _BULGE_RGB,
        )
        if morphology == "barred_spiral" or (
            morphology == "ring" and rng.random() < 0.5
        ):
            bar_pa = pa + rng.uniform(-0.8, 0.8)
            add(
                0.6 * _sersic(xx, yy, rng.uniform(5, 9) * s, 0.5, bar_pa, 0.25),
                _BULGE_RGB,
            )
        if morphology == "ring":
            u, v = _rotate(xx, yy, pa)
            r = np.hypot(u, v / q)
            radius = rng.uniform(12, 24) * s
            add(
                0.5 * np.exp(-0.5 * ((r - radius) / (rng.uniform(1.2, 2.5) * s)) ** 2),
                _CLUMP_RGB,
            )
        if morphology == "merger":
            angle = rng.uniform(0, 2 * np.pi)
            sep = rng.uniform(12, 26) * s
            cx, cy = sep * np.cos(angle), sep * np.sin(angle)
            add(
                rng.uniform(0.4, 1)
                * _sersic(
                    xx - cx,
                    yy - cy,
                    rng.uniform(3, 7) * s,
                    2,
                    rng.uniform(0, np.pi),
                    rng.uniform(0.5, 1),
                ),
                _BULGE_RGB,
            )
            add(_tail(xx, yy, angle, sep, s, rng), _DISC_RGB)
    if rng.random() < 0.08:  # a foreground star
        cx, cy = rng.uniform(-0.45, 0.45, 2) * size
        add(
            rng.uniform(1, 4) * _gauss(xx - cx, yy - cy, 1.0 * s),
            np.array([1.0, 1.0, 1.0]),
        )

    bands = gaussian_filter(
        bands, sigma=(0, rng.uniform(0.8, 1.6) * s, rng.uniform(0.8, 1.6) * s)
    )
    scale = float(np.percentile(bands.sum(0), 99.7)) or 1.0  # bright cores saturate
    bands = bands / scale + rng.normal(0, 1 / snr, bands.shape).astype(np.float32)
    stretched = np.arcsinh(np.clip(bands, 0, None) * 10) / np.arcsinh(10)
    return (np.clip(stretched, 0, 1) * 255).astype(np.uint8).transpose(1, 2, 0)


def _rotate(x: np.ndarray, y: np.ndarray, pa: float) -> tuple[np.ndarray, np.ndarray]:
    c, s = np.cos(pa), np.sin(pa)
    return x * c + y * s, -x * s + y * c


def _sersic(x, y, r_e: float, n: float, pa: float, q: float) -> np.ndarray:
    u, v = _rotate(x, y, pa)
    r = np.hypot(u, v / q)
    b = 2 * n - 1 / 3
    return np.exp(-b * ((r / r_e) ** (1 / n) - 1)) / np.exp(b)


def _exp_disc(x, y, h: float, pa: float, q: float) -> np.ndarray:
    u, v = _rotate(x, y, pa)
    return np.exp(-np.hypot(u, v / q) / h)


def _gauss(x, y, sigma: float) -> np.ndarray:
    return np.exp(-0.5 * (x**2 + y**2) / sigma**2)


def _arms(
    x, y, pa: float, q: float, m: int, pitch: float, strength: float
) -> np.ndarray:
    """Logarithmic spiral modulation with ``m`` arms and ``pitch`` (radians)."""
    u, v = _rotate(x, y, pa)
    v = v / q
    r = np.hypot(u, v) + 1e-3
    theta = np.arctan2(v, u)
    phase = m * (theta - np.log(r) / np.tan(pitch))
    return (1 - strength) + strength * (0.5 + 0.5 * np.cos(phase)) ** 3 * 2


def _tail(
    x, y, angle: float, sep: float, s: float, rng: np.random.Generator
) -> np.ndarray:
    """A curved tidal tail leaving the companion."""
    t = np.linspace(0, 1, 24)
    bend = rng.choice([-1, 1]) * rng.uniform(0.8, 2.0)
    radius = sep * (1 + 0.9 * t)
    phi = angle + bend * t
    out = np.zeros_like(x)
    for rad, p, w in zip(radius, phi, 1 - 0.7 * t, strict=True):
        out += 0.12 * w * _gauss(x - rad * np.cos(p), y - rad * np.sin(p), 2.2 * s)
    return out


def _footprint(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Uniform positions on the sky in RA 150-210 deg, Dec -5 to +15 deg."""
    ra = rng.uniform(150, 210, n)
    sin_dec = rng.uniform(np.sin(np.radians(-5)), np.sin(np.radians(15)), n)
    return ra, np.degrees(np.arcsin(sin_dec))


def _votes(
    rng: np.random.Generator, morphology: np.ndarray, snr: np.ndarray
) -> pd.DataFrame:
    """Vote fractions of ~40 simulated volunteers; noisier at low S/N."""
    truth = {
        "smooth_fraction": {"elliptical": 0.92},
        "edge_on_fraction": {"edge_on": 0.93},
        "bar_fraction": {"barred_spiral": 0.85, "ring": 0.4},
        "spiral_fraction": {"spiral": 0.9, "barred_spiral": 0.85, "merger": 0.4},
        "merging_fraction": {"merger": 0.88, "irregular": 0.3},
        "odd_fraction": {"ring": 0.9, "merger": 0.85, "irregular": 0.8},
    }
    confusion = np.clip(6 / snr, 0.05, 0.5)  # low S/N pulls votes towards 50/50
    columns = {}
    for column, rates in truth.items():
        p = np.array([rates.get(m, 0.06) for m in morphology])
        p = (1 - confusion) * p + confusion * 0.5
        columns[column] = rng.binomial(N_VOLUNTEERS, p) / N_VOLUNTEERS
    return pd.DataFrame(columns)


def _tags(rng: np.random.Generator, morphology: np.ndarray) -> list[str]:
    """Hashtags with counts (``#ring:3``) on a minority of galaxies, as on Talk.

    A few tags are wrong, as volunteers' tags are.
    """
    wrong = list(_TAGS.values())
    tags = []
    for m in morphology:
        tag = _TAGS.get(m)
        if tag and rng.random() < TAG_RATE:
            tags.append(f"{tag}:{1 + rng.poisson(1.5)}")
        elif rng.random() < 0.01:
            tags.append(f"{rng.choice(wrong)}:1")
        else:
            tags.append("")
    return tags
