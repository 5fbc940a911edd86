"""Astronomaly-style ellipse-fit features: the paper's baseline representation.

Isophotes of the galaxy at intensity percentiles 90, 80, 70, 60, 50 and 0 of its
detected pixels; the contour nearest the centre at each level is fitted with an
ellipse (OpenCV) and described by five numbers: how badly the ellipse fits the
contour (residual), how far the ellipse's centre is from the innermost one's
(offset), its axis ratio (minor/major), its angle relative to the innermost
one, and its major axis relative to the image. Lopsided, ringed, or double galaxies give
residuals and offsets that smooth ones do not (Lochner & Bassett 2021).
"""

from __future__ import annotations

import cv2
import numpy as np

PERCENTILES = (90, 80, 70, 60, 50, 0)
PER_LEVEL = ("residual", "offset", "aspect", "angle", "major_axis")
FEATURE_NAMES = tuple(f"{name}_{p}" for p in PERCENTILES for name in PER_LEVEL)
DETECTION_SIGMAS = 3.0


def ellipse_features(image: np.ndarray) -> np.ndarray:
    """The ``len(FEATURE_NAMES)`` ellipse features of one greyscale image.

    Levels where no contour of 5+ points is found give zeros (a blank image
    gives all zeros rather than an error).
    """
    grey = np.asarray(image, np.float32)
    if grey.ndim == 3:
        grey = grey.mean(axis=2)
    size = max(grey.shape)
    background = np.median(grey)
    noise = 1.4826 * np.median(np.abs(grey - background)) + 1e-6
    signal = grey - background
    detected = signal[signal > DETECTION_SIGMAS * noise]
    out = np.zeros((len(PERCENTILES), len(PER_LEVEL)), np.float32)
    if detected.size < 5:
        return out.ravel()
    centre = np.array(grey.shape[::-1], np.float32) / 2
    first_centre, first_angle = None, 0.0
    for i, p in enumerate(PERCENTILES):
        level = np.percentile(detected, p) if p else DETECTION_SIGMAS * noise
        mask = (signal >= level).astype(np.uint8)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        contours = [c for c in contours if len(c) >= 5]
        if not contours:
            continue
        contour = min(contours, key=lambda c: _distance_to(c, centre))
        (cx, cy), (w, h), angle = cv2.fitEllipse(contour)
        major, minor = max(w, h, 1e-3), min(w, h)
        if first_centre is None:
            first_centre, first_angle = np.array([cx, cy]), angle
        out[i] = (
            _residual(contour, (cx, cy), (w, h), angle, mask.shape),
            np.hypot(*(np.array([cx, cy]) - first_centre)) / size,
            minor / major,
            np.radians(((angle - first_angle + 90) % 180) - 90),
            major / size,
        )
    return out.ravel()


def _distance_to(contour: np.ndarray, point: np.ndarray) -> float:
    """0 inside the contour, else the distance from its edge."""
    return max(0.0, -cv2.pointPolygonTest(contour, tuple(map(float, point)), True))


def _residual(contour, centre, axes, angle, shape) -> float:
    """Share of the contour's and the ellipse's area that they do not share."""
    region = np.zeros(shape, np.uint8)
    cv2.drawContours(region, [contour], -1, 1, thickness=-1)
    ellipse = np.zeros(shape, np.uint8)
    cv2.ellipse(ellipse, (centre, axes, angle), 1, thickness=-1)
    union = np.logical_or(region, ellipse).sum()
    return float(np.logical_xor(region, ellipse).sum() / max(union, 1))
