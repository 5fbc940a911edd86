"""Settings of a synthetic survey, checked before any work starts."""

from __future__ import annotations

from dataclasses import dataclass, field

MORPHOLOGIES = {  # primary class -> share of the survey
    "elliptical": 0.30,
    "lenticular": 0.10,
    "spiral": 0.38,
    "edge_on": 0.12,
    "irregular": 0.04,
    "merger": 0.04,
    "artifact": 0.02,
}
MIN_IMAGE_SIZE = 32
MAX_IMAGE_SIZE = 424


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
    morphologies : dict
        Share of each primary class (names from :data:`MORPHOLOGIES`); the shares
        are normalised. Empty means the default mix.
    duplicate_rate : float
        Share of extra detections of an already listed galaxy a few arcseconds away.
    variety : float
        Domain randomisation, 0-1: 0 is the demo sky's look; more widens galaxy
        sizes, PSF and sky level, makes galaxies brighter under a softer display
        stretch, and varies how sharp and strong spiral arms are, flocculent disc
        texture and partial rings. ``pretrain --variety`` sets it for the
        encoder's training survey.

    >>> SurveySpec(n_galaxies=-1)
    Traceback (most recent call last):
    ...
    ValueError: n_galaxies must be >= 1, not -1
    """

    n_galaxies: int = 12000
    image_size: int = 128
    seed: int = 42
    morphologies: dict[str, float] = field(default_factory=dict)
    duplicate_rate: float = 0.002
    variety: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.n_galaxies, int) or self.n_galaxies < 1:
            raise ValueError(f"n_galaxies must be >= 1, not {self.n_galaxies}")
        if not MIN_IMAGE_SIZE <= self.image_size <= MAX_IMAGE_SIZE:
            raise ValueError(
                f"image_size must be in {MIN_IMAGE_SIZE}-{MAX_IMAGE_SIZE}, "
                f"not {self.image_size}"
            )
        unknown = sorted(set(self.morphologies) - set(MORPHOLOGIES))
        if unknown:
            raise ValueError(
                f"unknown morphology {', '.join(map(repr, unknown))}; "
                f"known: {', '.join(MORPHOLOGIES)}"
            )
        if any(v < 0 for v in self.morphologies.values()) or (
            self.morphologies and sum(self.morphologies.values()) <= 0
        ):
            raise ValueError("morphology shares must be >= 0 and not all 0")
        if not 0 <= self.duplicate_rate < 0.5:
            raise ValueError(
                f"duplicate_rate must be in [0, 0.5), not {self.duplicate_rate}"
            )
        if not 0 <= self.variety <= 1:
            raise ValueError(f"variety must be in [0, 1], not {self.variety}")

    def shares(self) -> dict[str, float]:
        """The share of each primary class, summing to 1."""
        raw = self.morphologies or MORPHOLOGIES
        total = sum(raw.values())
        return {name: raw.get(name, 0.0) / total for name in MORPHOLOGIES}
