"""The true parameters of every galaxy in a synthetic survey, drawn from a seed.

One row per galaxy: its primary class and the features laid over it (bar, arms,
ring, lens arc, dust lane, disturbance, an overlapping neighbour, a star, an
imaging artefact), sizes in pixels of a 128-px image, flux and sky level.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from morph_core.data.synthetic.spec import SurveySpec

WINDINGS = {"tight": 12.0, "medium": 22.0, "loose": 35.0}  # pitch angle, deg
BARS = ("none", "weak", "strong")
MERGING = ("none", "minor-disturbance", "major-disturbance", "merger")
ARTIFACTS = ("none", "trail", "bleed", "bad-columns")
# bulge-to-total light ratio at the centre of each answer of the bulge question
BULGE_RATIOS = {"none": 0.0, "small": 0.06, "moderate": 0.15, "large": 0.3}
DISC_CLASSES = ("lenticular", "spiral")


def draw_truth(spec: SurveySpec, rng: np.random.Generator) -> pd.DataFrame:
    """The true parameters of ``spec.n_galaxies`` galaxies."""
    n = spec.n_galaxies
    shares = spec.shares()
    morphology = rng.choice(list(shares), size=n, p=list(shares.values()))
    is_ = {name: morphology == name for name in shares}
    disc = is_["lenticular"] | is_["spiral"]

    def flag(mask: np.ndarray, rate: float) -> np.ndarray:
        return mask & (rng.random(n) < rate)

    bar = np.where(disc, rng.choice(len(BARS), size=n, p=[0.62, 0.2, 0.18]), 0).astype(
        int
    )
    arms = np.where(
        is_["spiral"] | is_["merger"],
        rng.choice([1, 2, 3, 4, 5, 6], size=n, p=[0.06, 0.52, 0.2, 0.12, 0.06, 0.04]),
        0,
    )
    winding = rng.choice(list(WINDINGS), size=n, p=[0.3, 0.45, 0.25])
    winding = np.where(arms > 0, winding, "")
    bulge = np.select(
        [is_["elliptical"], is_["lenticular"], is_["irregular"]],
        [np.ones(n), rng.uniform(0.3, 0.6, n), np.zeros(n)],
        rng.beta(1.4, 6.0, n),
    )
    ring = flag(disc, 0.07)
    lens = flag(is_["elliptical"], 0.02)
    dust_lane = flag(is_["edge_on"], 0.45)
    merging = np.zeros(n, dtype=int)
    merging[is_["merger"]] = 3
    disturbed = flag(is_["spiral"] | is_["elliptical"] | is_["lenticular"], 0.05)
    merging[disturbed] = rng.choice([1, 2], size=int(disturbed.sum()), p=[0.6, 0.4])
    overlapping = flag(~is_["artifact"], 0.012)
    star = rng.random(n) < 0.12
    artifact = np.where(
        is_["artifact"],
        rng.choice([1, 2, 3], size=n, p=[0.5, 0.3, 0.2]),
        np.where(rng.random(n) < 0.01, rng.choice([1, 2, 3], size=n), 0),
    )
    edge_on = is_["edge_on"]
    axis_ratio = np.where(
        edge_on,
        rng.uniform(0.1, 0.22, n),
        np.where(
            is_["elliptical"], rng.uniform(0.5, 1.0, n), rng.uniform(0.35, 1.0, n)
        ),
    )
    truth = pd.DataFrame(
        {
            "morphology": morphology,
            "bar": np.asarray(BARS)[bar],
            "arms": arms,
            "winding": winding,
            "bulge_ratio": bulge.round(3),
            "ring": ring,
            "lens": lens,
            "dust_lane": dust_lane,
            "merging": np.asarray(MERGING)[merging],
            "overlapping": overlapping,
            "star": star,
            "artifact": np.asarray(ARTIFACTS)[artifact],
            "radius_px": rng.lognormal(np.log(19.0), 0.3, n).clip(8, 38).round(2),
            "sersic_n": np.where(  # on a 0.5 grid: GalSim caches each index
                is_["elliptical"], rng.integers(5, 11, n), rng.integers(2, 9, n)
            )
            / 2,
            "axis_ratio": axis_ratio.round(3),
            "position_angle": rng.uniform(0, 180, n).round(1),
            "prominence": rng.uniform(0.2, 1.0, n).round(3),
            "flux": rng.lognormal(np.log(3.0e4), 0.6, n).round(0),
            "sky_level": rng.uniform(80, 160, n).round(1),
            "psf_fwhm_px": rng.uniform(2.2, 3.8, n).round(2),
            "image_seed": rng.integers(0, 2**62, n),
        }
    )
    if spec.variety > 0:
        _vary(truth, spec.variety, np.random.default_rng([spec.seed, 1]))
    return truth


def _vary(truth: pd.DataFrame, v: float, rng: np.random.Generator) -> None:
    """Domain randomisation of strength ``v`` (0-1), in place: wider sizes, PSF
    and sky, brighter galaxies, and the style columns the renderer reads
    (``stretch_sigmas``: the display stretch's softening in sky-noise units, as
    survey cutouts hide more of their noise; ``arm_sharpness``, ``arm_contrast``,
    ``flocculence``, ``ring_partial``). Its own generator keeps
    every other draw of the survey as it was."""
    n = len(truth)
    spiral = truth["morphology"].isin(["spiral", "merger"]).to_numpy()
    truth["radius_px"] = (
        (truth["radius_px"] * np.exp(rng.normal(0.3 * v, 0.35 * v, n)))
        .clip(6, 52)
        .round(2)
    )
    truth["flux"] = (truth["flux"] * np.exp(rng.normal(1.5 * v, 0.5 * v, n))).round(0)
    truth["stretch_sigmas"] = rng.uniform(1.5, 1.5 + 7.5 * v, n).round(2)
    truth["psf_fwhm_px"] = rng.uniform(2.2 - 0.6 * v, 3.8 + 1.2 * v, n).round(2)
    truth["sky_level"] = rng.uniform(80 - 40 * v, 160 + 100 * v, n).round(1)
    truth["arm_sharpness"] = rng.choice(
        [1.0, 2.0, 4.0], size=n, p=[v / 3, v / 3, 1 - 2 * v / 3]
    )
    truth["arm_contrast"] = rng.uniform(1 - 0.6 * v, 1, n).round(3)
    truth["flocculence"] = np.where(spiral, rng.uniform(0, v, n), 0).round(3)
    truth["ring_partial"] = np.where(truth["ring"], rng.uniform(0, v, n), 0).round(3)
