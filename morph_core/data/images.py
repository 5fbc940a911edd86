"""Reading galaxy cutouts of any common mode into 8-bit arrays.

Survey cutouts come as 8-bit RGB JPEGs, but users also bring 16-bit PNGs, CMYK
or RGBA files. All are turned into ``uint8`` greyscale ``(H, W)`` or RGB
``(H, W, 3)``; a file that cannot be decoded raises :class:`ImageError` with the
reason, so one bad file skips one galaxy and never the dataset.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from morph_core.errors import ImageError

MAX_PIXELS = 40_000_000  # larger images are refused: no cutout is that big
MAX_FILE_BYTES = 20 * 1024 * 1024

_HIGH_DEPTH = {"I", "I;16", "I;16B", "I;16L", "I;16N", "F"}


def load_image(
    path: str | Path, channels: int = 1, draft: int | None = None
) -> np.ndarray:
    """Decode an image file to ``uint8``.

    Parameters
    ----------
    path : str or Path
        JPEG, PNG, TIFF, ... of any mode (8/16-bit, float, CMYK, RGBA, palette).
    channels : {1, 3}
        1 gives greyscale ``(H, W)``; 3 gives RGB ``(H, W, 3)``.
    draft : int, optional
        A JPEG is decoded at a reduced scale (1/2, 1/4 or 1/8 by libjpeg, and
        only its luminance for greyscale), at least this many pixels a side:
        what an encoder that shrinks the image anyway needs (a 424-px cutout
        for a 96-px encoder decoded in half the time).

    Raises
    ------
    ImageError
        The file is missing, empty, too large, truncated or not an image.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as e:
        raise ImageError(f"missing file: {path}") from e
    _check_size(size, path)
    return _decode(path, channels, path, draft=draft)


def content_hash(path: str | Path) -> str:
    """Hash of a file's bytes (blake2b, 128 bit): what keys its cached features.

    Raises
    ------
    OSError
        The file cannot be read.
    """
    with open(path, "rb") as f:
        return hashlib.blake2b(f.read(), digest_size=16).hexdigest()


def decode_image(
    data: bytes,
    channels: int = 1,
    name: str = "upload",
    max_bytes: int | None = None,
    max_pixels: int | None = None,
    max_bits: int = 16,
    draft: int | None = None,
) -> np.ndarray:
    """Decode image bytes (an upload) to ``uint8``, checked as in :func:`load_image`
    and against the limits (bytes, pixels, bits per channel: a public server's
    upload quota), all checked from the header before decoding. ``draft``: a
    JPEG is decoded at a reduced scale, at least this many pixels a side."""
    _check_size(len(data), name, max_bytes)
    return _decode(io.BytesIO(data), channels, name, max_pixels, max_bits, draft)


def _check_size(size: int, name: object, max_bytes: int | None = None) -> None:
    max_bytes = max_bytes or MAX_FILE_BYTES
    if size == 0:
        raise ImageError(f"empty file: {name}")
    if size > max_bytes:
        raise ImageError(
            f"file too large ({size / 2**20:.1f} MB > {max_bytes / 2**20:.0f} MB): "
            f"{name}"
        )


def _decode(
    source,
    channels: int,
    name: object,
    max_pixels: int | None = None,
    max_bits: int = 16,
    draft: int | None = None,
) -> np.ndarray:
    max_pixels = max_pixels or MAX_PIXELS
    try:
        with Image.open(source) as im:
            if im.width * im.height > max_pixels:
                raise ImageError(
                    f"image too large ({im.width}x{im.height} > "
                    f"{max_pixels / 1e6:g} megapixels): {name}"
                )
            if im.mode in _HIGH_DEPTH and max_bits < 16:
                raise ImageError(
                    f"{im.mode} images (more than {max_bits} bits per channel) "
                    f"are not accepted here: {name}"
                )
            if draft is not None and im.format == "JPEG":
                grey = channels == 1 and im.mode == "RGB"  # libjpeg's Y: the same luma
                im.draft("L" if grey else im.mode, (draft, draft))
            im.load()
            return to_uint8(im, channels)
    except UnidentifiedImageError as e:
        raise ImageError(f"not an image: {name}") from e
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise ImageError(f"unreadable image ({e}): {name}") from e


def to_uint8(im: Image.Image, channels: int = 1) -> np.ndarray:
    """Convert a decoded PIL image of any mode to ``uint8`` grey or RGB."""
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, not {channels}")
    if im.mode in _HIGH_DEPTH:
        array = _stretch(np.asarray(im, dtype=np.float32))
        return array if channels == 1 else np.repeat(array[..., None], 3, axis=2)
    if im.mode in ("RGBA", "LA", "PA") or (
        im.mode == "P" and "transparency" in im.info
    ):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        im = Image.alpha_composite(background, rgba)
    return np.asarray(im.convert("L" if channels == 1 else "RGB"), dtype=np.uint8)


def _stretch(array: np.ndarray) -> np.ndarray:
    """Linear stretch of a high-depth image to 0-255 between its finite min and max."""
    finite = np.isfinite(array)
    if not finite.any():
        raise ImageError("image has no finite pixels")
    low, high = array[finite].min(), array[finite].max()
    scaled = np.where(finite, (array - low) / max(high - low, 1e-12), 0.0)
    return np.round(scaled * 255).astype(np.uint8)
