"""Render one synthetic galaxy with GalSim: three bands, PSF, sky and Poisson noise.

Smooth light profiles (Sérsic bulges, exponential discs, bars, star-forming
knots, companions, field galaxies) are GalSim objects; structure GalSim has no
profile for (spiral arms, rings, dust lanes, tidal tails, lensed arcs, imaging
artefacts) is painted on the same pixel grid. Each band is then convolved with
a Moffat PSF drawn by GalSim and given CCD noise (Poisson over a sky level, read
noise; numpy's generator, 10x faster than GalSim's per-pixel deviates), and
the g, r, z bands are stretched (asinh) into an 8-bit colour image.
"""

from __future__ import annotations

from collections.abc import Mapping

import galsim
import numpy as np
from scipy.ndimage import gaussian_filter
from scipy.signal import fftconvolve

from morph_core.data.synthetic.truth import WINDINGS

BANDS = ("g", "r", "z")  # shown as blue, green, red
SKY_BAND = np.array([0.6, 1.0, 1.6])  # sky level per band relative to r
READ_NOISE = 4.0
STRETCH_SIGMAS = 1.5  # asinh softening, in sky noise units
STRETCH_MAX = 80.0  # value (in softening units) that maps to 255
# colours: relative flux in g, r, z
RED = np.array([0.45, 1.0, 1.55])
DISC = np.array([0.8, 1.0, 1.15])
BLUE = np.array([1.35, 1.0, 0.7])
LENSED = np.array([1.8, 1.0, 0.45])
GSPARAMS = galsim.GSParams(folding_threshold=2e-2, maxk_threshold=4e-3)


def render_galaxy(params: Mapping, size: int) -> np.ndarray:
    """One ``(size, size, 3)`` uint8 RGB image of the galaxy ``params`` describes.

    ``params`` is one row of :func:`morph_core.data.synthetic.truth.draw_truth`, with
    lengths in pixels of a 128-px image; they scale with ``size``.
    """
    painter = _Painter(params, size)
    painter.galaxy()
    return painter.finish()


class _Painter:
    def __init__(self, p: Mapping, size: int) -> None:
        self.p = p
        self.size = size
        self.s = size / 128
        self.rng = np.random.default_rng(int(p["image_seed"]))
        self.deviate = galsim.BaseDeviate(int(p["image_seed"]) % 2**31)
        self.bands = np.zeros((3, size, size))  # GalSim profiles, PSF included
        self.painted = np.zeros((3, size, size))  # painted light, PSF added at the end
        self.psf = galsim.Moffat(beta=3.5, fwhm=float(p["psf_fwhm_px"]) * self.s)
        centre = self.rng.normal(0, 1.0, 2) * self.s + p.get("shift_px", 0.0) * self.s
        self.centre = centre
        yy, xx = np.mgrid[:size, :size].astype(float) - (size - 1) / 2
        self.x, self.y = xx - centre[0], yy - centre[1]
        self.flux = float(p["flux"]) * self.s**2
        self.r = float(p["radius_px"]) * self.s
        self.pa = np.radians(float(p["position_angle"]))
        self.q = float(p["axis_ratio"])
        self.stars: list[tuple[int, int, float, np.ndarray]] = []  # x, y, flux, rgb

    # --- drawing helpers -------------------------------------------------
    def add(self, obj: galsim.GSObject, colour: np.ndarray, offset=(0.0, 0.0)) -> None:
        """Draw a GalSim profile seen through the PSF at ``offset`` from the centre."""
        image = (
            galsim.Convolve(obj, self.psf, gsparams=GSPARAMS)
            .drawImage(
                nx=self.size,
                ny=self.size,
                scale=1.0,
                offset=(self.centre[0] + offset[0], self.centre[1] + offset[1]),
            )
            .array
        )
        self.bands += colour[:, None, None] * image[None]

    def paint(self, light: np.ndarray, flux: float, colour: np.ndarray) -> None:
        """Add a painted light map, normalised to ``flux``."""
        total = light.sum()
        if total > 0:
            self.painted += colour[:, None, None] * (flux * light / total)[None]

    def disc_frame(self) -> tuple[np.ndarray, np.ndarray]:
        """Coordinates in the plane of the disc (de-projected)."""
        c, s = np.cos(self.pa), np.sin(self.pa)
        u = self.x * c + self.y * s
        v = -self.x * s + self.y * c
        return u, v / max(self.q, 0.1)

    def shear(self, obj: galsim.GSObject, q: float, pa: float) -> galsim.GSObject:
        return obj.shear(q=max(q, 0.05), beta=pa * galsim.radians)

    # --- the galaxy ------------------------------------------------------
    def galaxy(self) -> None:
        p, rng = self.p, self.rng
        morphology = p["morphology"]
        flux = self.flux * (0.12 if morphology == "artifact" else 1.0)
        if morphology == "elliptical":
            self.add(
                self.shear(
                    galsim.Sersic(
                        float(p["sersic_n"]), half_light_radius=self.r, flux=flux
                    ),
                    self.q,
                    self.pa,
                ),
                RED,
            )
        elif morphology == "irregular":
            self.irregular(flux)
        else:
            self.disc_galaxy(flux)
        if p["lens"]:
            self.lensed_arc(flux)
        if p["merging"] != "none":
            self.disturbance(flux)
        if p["overlapping"]:
            self.overlapping(flux)
        for _ in range(rng.poisson(1.5)):
            self.field_galaxy()
        if p["star"]:
            self.star(flux)
        if p["artifact"] == "bleed" or (morphology == "artifact" and not p["star"]):
            self.star(flux * 4)

    def disc_galaxy(self, flux: float) -> None:
        p, rng = self.p, self.rng
        bulge = float(p["bulge_ratio"])
        disc_flux = flux * (1 - bulge)
        if bulge > 0:
            self.add(
                self.shear(
                    galsim.Sersic(
                        float(p["sersic_n"]),
                        half_light_radius=max(0.25 * self.r, 0.8),
                        flux=flux * bulge,
                    ),
                    min(1.0, self.q * 2.5) if p["morphology"] == "edge_on" else self.q,
                    self.pa,
                ),
                RED,
            )
        u, v = self.disc_frame()
        radius = np.hypot(u, v)
        disc = np.exp(-radius / (self.r / 1.678))
        if p["morphology"] == "edge_on":
            thickness = np.exp(
                -np.abs(-self.x * np.sin(self.pa) + self.y * np.cos(self.pa))
                / (0.12 * self.r)
            )
            disc = np.exp(-np.abs(u) / (self.r / 1.678)) * thickness
            if p["dust_lane"]:
                lane = 1 - (0.5 + 0.45 * float(p["prominence"])) * np.exp(
                    -0.5 * (v * max(self.q, 0.1) / (0.05 * self.r + 0.4)) ** 2
                )
                disc = disc * lane
                self.bands *= lane[None]  # the lane dims the bulge too
        arms = int(p["arms"])
        if arms:
            pitch = np.radians(WINDINGS[p["winding"]])
            theta = np.arctan2(v, u) + rng.uniform(0, 2 * np.pi)
            phase = arms * (theta - np.log(radius + 1e-3) / np.tan(pitch))
            strength = (0.5 + 0.45 * float(p["prominence"])) * float(
                p.get("arm_contrast", 1.0)
            )
            pattern = (0.5 + 0.5 * np.cos(phase)) ** float(p.get("arm_sharpness", 4))
            inner = np.clip(radius / (0.4 * self.r), 0, 1)  # arms start off the bulge
            disc = disc * ((1 - strength * inner) + 2.5 * strength * inner * pattern)
            knots = self.knots(u, v, radius, pattern, rng.integers(15, 50))
            self.paint(knots, 0.12 * disc_flux, BLUE)
        if (flocculence := float(p.get("flocculence", 0.0))) > 0:
            disc = disc * np.exp(0.8 * flocculence * self.texture())
        self.paint(disc, disc_flux, DISC)
        if p["bar"] != "none":
            strong = p["bar"] == "strong"
            bar_pa = self.pa + rng.uniform(-1.2, 1.2) * (1 - self.q)
            self.add(
                self.shear(
                    galsim.Sersic(
                        0.5,
                        half_light_radius=self.r * rng.uniform(0.35, 0.6),
                        flux=disc_flux * (0.22 if strong else 0.1),
                    ),
                    (0.22 if strong else 0.38) * (0.5 + 0.5 * self.q),
                    bar_pa,
                ),
                RED * 0.6 + DISC * 0.4,
            )
        if p["ring"]:
            outer = rng.random() < 0.6
            ring_radius = self.r * (
                rng.uniform(1.3, 2.1) if outer else rng.uniform(0.55, 0.9)
            )
            width = ring_radius * rng.uniform(0.07, 0.14)
            ring = np.exp(-0.5 * ((radius - ring_radius) / width) ** 2)
            colour = BLUE
            if (partial := float(p.get("ring_partial", 0.0))) > 0:  # pseudo-rings
                gap = np.cos(2 * (np.arctan2(v, u) - rng.uniform(0, np.pi)))
                ring = ring * (1 - partial * (0.5 + 0.5 * gap))
                colour = BLUE * (1 - partial) + DISC * partial
            self.paint(ring, disc_flux * (0.15 + 0.35 * float(p["prominence"])), colour)

    def texture(self) -> np.ndarray:
        """Flocculent disc texture: smoothed noise with zero mean and unit spread."""
        field = gaussian_filter(
            self.rng.normal(size=self.x.shape), sigma=max(1.0, 0.12 * self.r)
        )
        return (field - field.mean()) / (field.std() + 1e-9)

    def knots(self, u, v, radius, pattern, n: int) -> np.ndarray:
        """Star-forming clumps along the arms."""
        weight = (pattern * np.exp(-radius / self.r)).ravel()
        weight = weight / weight.sum()
        picks = self.rng.choice(weight.size, size=n, p=weight)
        light = np.zeros(self.size * self.size)
        np.add.at(light, picks, self.rng.exponential(1.0, n))
        return light.reshape(self.size, self.size)

    def irregular(self, flux: float) -> None:
        self.add(
            self.shear(
                galsim.Exponential(half_light_radius=self.r, flux=0.5 * flux),
                self.q,
                self.pa,
            ),
            DISC,
        )
        knots = galsim.Convolve(
            galsim.RandomKnots(
                int(self.rng.integers(15, 60)),
                half_light_radius=self.r * 1.1,
                flux=0.5 * flux,
                rng=self.deviate,
            ),
            galsim.Gaussian(sigma=self.rng.uniform(0.8, 2.0) * self.s),
        )
        self.add(knots, BLUE, offset=tuple(self.rng.normal(0, 0.3 * self.r, 2)))

    def lensed_arc(self, flux: float) -> None:
        """A blue arc (and a fainter counter-image) around the lensing elliptical."""
        einstein = self.r * self.rng.uniform(1.0, 1.7)
        angle = np.arctan2(self.y, self.x)
        centre = self.rng.uniform(-np.pi, np.pi)
        span = self.rng.uniform(0.5, 1.4)
        dphi = np.angle(np.exp(1j * (angle - centre)))
        radius = np.hypot(self.x, self.y)
        arc = np.exp(-0.5 * ((radius - einstein) / (0.7 * self.s + 0.3)) ** 2)
        counter = np.exp(
            -0.5 * (np.angle(np.exp(1j * (angle - centre - np.pi))) / 0.25) ** 2
        )
        light = arc * (np.exp(-0.5 * (dphi / span) ** 2) + 0.35 * counter)
        self.paint(light, flux * (0.1 + 0.15 * float(self.p["prominence"])), LENSED)

    def disturbance(self, flux: float) -> None:
        """A companion with tidal tails (mergers), or tails and plumes alone."""
        p, rng = self.p, self.rng
        kind = p["merging"]
        angle = rng.uniform(0, 2 * np.pi)
        if kind == "merger":
            sep = self.r * rng.uniform(0.9, 2.4)
            ratio = rng.uniform(0.3, 1.0)
            offset = (sep * np.cos(angle), sep * np.sin(angle))
            self.add(
                self.shear(
                    galsim.Sersic(
                        _sersic_index(rng),
                        half_light_radius=self.r * np.sqrt(ratio) * 0.8,
                        flux=flux * ratio,
                    ),
                    rng.uniform(0.4, 1),
                    rng.uniform(0, np.pi),
                ),
                RED * 0.5 + DISC * 0.5,
                offset,
            )
            self.tail(angle, sep, 0.18 * flux * (0.5 + float(p["prominence"])))
            self.tail(angle + np.pi, 0.8 * self.r, 0.12 * flux)
        else:
            strength = 0.05 if kind == "minor-disturbance" else 0.14
            self.tail(
                angle, 0.8 * self.r, strength * flux * (0.5 + float(p["prominence"]))
            )

    def tail(self, angle: float, start: float, flux: float) -> None:
        t = np.linspace(0, 1, 40)
        bend = self.rng.choice([-1, 1]) * self.rng.uniform(0.8, 2.2)
        radius = start + self.r * 2.2 * t
        phi = angle + bend * t
        light = np.zeros_like(self.x)
        width = 0.18 * self.r + 1.0 * self.s
        for rad, ph, w in zip(radius, phi, 1 - 0.8 * t, strict=True):
            light += w * np.exp(
                -0.5
                * ((self.x - rad * np.cos(ph)) ** 2 + (self.y - rad * np.sin(ph)) ** 2)
                / width**2
            )
        self.paint(light, flux, DISC)

    def overlapping(self, flux: float) -> None:
        rng = self.rng
        sep = self.r * rng.uniform(0.3, 1.0)
        angle = rng.uniform(0, 2 * np.pi)
        colour = RED if rng.random() < 0.5 else DISC
        self.add(
            self.shear(
                galsim.Sersic(
                    _sersic_index(rng),
                    half_light_radius=self.r * rng.uniform(0.4, 0.9),
                    flux=flux * rng.uniform(0.3, 0.8),
                ),
                rng.uniform(0.3, 1),
                rng.uniform(0, np.pi),
            ),
            colour,
            (sep * np.cos(angle), sep * np.sin(angle)),
        )

    def field_galaxy(self) -> None:
        """A small faint galaxy somewhere in the field."""
        rng = self.rng
        offset = tuple(rng.uniform(-0.48, 0.48, 2) * self.size)
        self.add(
            self.shear(
                galsim.Sersic(
                    _sersic_index(rng),
                    half_light_radius=rng.uniform(1.0, 4.0) * self.s,
                    flux=self.flux * rng.uniform(0.01, 0.15),
                ),
                rng.uniform(0.3, 1),
                rng.uniform(0, np.pi),
            ),
            RED if rng.random() < 0.6 else BLUE,
            (offset[0] - self.centre[0], offset[1] - self.centre[1]),
        )

    def star(self, flux: float) -> None:
        """A foreground star (a point source, shaped by the PSF)."""
        rng = self.rng
        radius = rng.uniform(0.2, 0.45) * self.size
        angle = rng.uniform(0, 2 * np.pi)
        x = int(np.clip((self.size - 1) / 2 + radius * np.cos(angle), 0, self.size - 1))
        y = int(np.clip((self.size - 1) / 2 + radius * np.sin(angle), 0, self.size - 1))
        colour = np.array([rng.uniform(0.6, 1.3), 1.0, rng.uniform(0.7, 1.5)])
        self.stars += [(x, y, flux * rng.uniform(0.3, 4.0), colour)]

    # --- observing -------------------------------------------------------
    def finish(self) -> np.ndarray:
        p = self.p
        for x, y, flux, colour in self.stars:
            self.painted[:, y, x] += colour * flux
        kernel = self.psf.drawImage(nx=31, ny=31, scale=1.0).array
        bands = self.bands + np.stack(
            [fftconvolve(b, kernel, mode="same") for b in self.painted]
        )
        artifact = p["artifact"]
        if artifact == "trail":
            bands += self.trail()[None] * np.array([1.0, 1.0, 1.0])[:, None, None]
        if artifact == "bleed":
            bands = self.bleed(bands)
        sky = float(p["sky_level"]) * SKY_BAND
        out = np.empty((self.size, self.size, 3), np.uint8)
        sigma = np.sqrt(sky[1] + READ_NOISE**2)
        for i, band in enumerate(bands):
            # CCD noise: Poisson on signal + sky (sky then subtracted), read noise
            expected = np.clip(band, 0, None) + sky[i]
            pixels = (
                self.rng.poisson(expected)
                - sky[i]
                + self.rng.normal(0, READ_NOISE, band.shape)
            )
            softening = float(p.get("stretch_sigmas", STRETCH_SIGMAS)) * sigma
            scaled = np.arcsinh(pixels / softening) / np.arcsinh(STRETCH_MAX)
            out[..., 2 - i] = (np.clip(scaled, 0, 1) * 255).astype(np.uint8)
        if artifact == "bad-columns":
            columns = self.rng.integers(0, self.size, self.rng.integers(1, 4))
            out[:, columns] = self.rng.choice([0, 255])
        return out

    def trail(self) -> np.ndarray:
        """A satellite trail across the image."""
        angle = self.rng.uniform(0, np.pi)
        offset = self.rng.uniform(-0.4, 0.4) * self.size
        d = self.x * np.sin(angle) - self.y * np.cos(angle) - offset
        return self.flux / (self.size * 2) * np.exp(-0.5 * (d / (1.2 * self.s)) ** 2)

    def bleed(self, bands: np.ndarray) -> np.ndarray:
        """A saturated column bleeding from the brightest star."""
        if not self.stars:
            return bands
        x, y, flux, _ = max(self.stars, key=lambda star: star[2])
        length = int(self.rng.uniform(0.15, 0.5) * self.size)
        lo, hi = max(0, y - length), min(self.size, y + length)
        bands[:, lo:hi, max(0, x - 1) : x + 1] += flux / 40
        return bands


def _sersic_index(rng: np.random.Generator) -> float:
    """A Sérsic index on a 0.5 grid: GalSim caches each index's profile tables."""
    return float(rng.choice([1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0]))
