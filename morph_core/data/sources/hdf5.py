"""HDF5 image stacks such as Galaxy10 DECaLS (``images``, ``ans``, ``ra``, ``dec``)."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from PIL import Image

from morph_core.data.sky import iau_names
from morph_core.errors import CatalogError
from morph_core.progress import ProgressFn


def read_hdf5(
    path: Path, image_dir: Path, progress: ProgressFn | None = None
) -> pd.DataFrame:
    """Write each image of ``path`` to ``image_dir`` as PNG; return the catalogue.

    ``images`` must be ``(n, H, W)`` or ``(n, H, W, 3)``; every other 1-D dataset of
    length ``n`` becomes a column (``ans`` is renamed ``label``). ``galaxy_id`` is
    the IAU name when ``ra``/``dec`` are there, else ``<file stem>-<row>``.

    Raises
    ------
    CatalogError
        Not an HDF5 file, no ``images`` dataset, or images of the wrong shape.
    """
    try:
        h5 = h5py.File(path, "r")
    except OSError as e:
        raise CatalogError(f"{path} is not a readable HDF5 file: {e}") from e
    with h5:
        if "images" not in h5:
            keys = ", ".join(h5.keys()) or "none"
            raise CatalogError(f"{path} has no 'images' dataset (keys: {keys})")
        images = h5["images"]
        if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[-1] != 3):
            raise CatalogError(f"{path}: 'images' must be (n, H, W) or (n, H, W, 3)")
        n = len(images)
        columns = {
            ("label" if k == "ans" else k): np.asarray(v)
            for k, v in h5.items()
            if k != "images" and isinstance(v, h5py.Dataset) and v.shape == (n,)
        }
        table = pd.DataFrame(columns)
        if {"ra", "dec"} <= set(table.columns):
            names = iau_names(table["ra"].to_numpy(float), table["dec"].to_numpy(float))
        else:
            names = [f"{path.stem}-{i}" for i in range(n)]
        image_dir.mkdir(parents=True, exist_ok=True)
        files = []
        for start in range(0, n, 256):
            block = np.asarray(images[start : start + 256])
            for j, pixels in enumerate(block):
                file = image_dir / f"{start + j:07d}.png"
                Image.fromarray(_to_uint8(pixels)).save(file, compress_level=1)
                files.append(str(file))
            if progress:
                progress(min(start + 256, n), n)
    table.insert(0, "file", files)
    table.insert(0, "galaxy_id", names)
    return table


def _to_uint8(pixels: np.ndarray) -> np.ndarray:
    if pixels.dtype == np.uint8:
        return pixels
    pixels = np.nan_to_num(pixels.astype(np.float32))
    low, high = pixels.min(), pixels.max()
    return ((pixels - low) / max(high - low, 1e-12) * 255).astype(np.uint8)
