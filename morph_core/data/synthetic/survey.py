"""A whole synthetic survey: truth, sky positions, volunteers, then images.

The catalogue is drawn first (cheap, in memory); the images are rendered in
chunks by worker processes and written straight to disk as PNG, so surveys of
100k+ galaxies never hold their pixels in memory.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from morph_core.data.sky import iau_names
from morph_core.data.synthetic.render import render_galaxy
from morph_core.data.synthetic.spec import SurveySpec
from morph_core.data.synthetic.truth import draw_truth
from morph_core.data.synthetic.volunteers import (
    signal_to_noise,
    simulate_tags,
    simulate_votes,
)
from morph_core.progress import ProgressFn

CHUNK = 200  # galaxies per task handed to a worker
FOOTPRINT = {"ra": (150.0, 210.0), "dec": (-5.0, 15.0)}  # deg


def make_catalog(spec: SurveySpec) -> pd.DataFrame:
    """The survey's catalogue (no images): ids, positions, truth, votes, tags.

    Returns
    -------
    DataFrame
        ``galaxy_id`` (IAU name), ``ra``, ``dec`` (deg), the true parameters of
        :func:`~morph_core.data.synthetic.truth.draw_truth`, ``snr``, ``duplicate_of``
        (the ``galaxy_id`` a repeated detection repeats, else empty), the vote
        counts and fractions of
        :func:`~morph_core.data.synthetic.volunteers.simulate_votes`
        and ``tags``.
    """
    rng = np.random.default_rng(spec.seed)
    truth = draw_truth(spec, rng)
    ra, dec = _footprint(rng, len(truth))
    truth.insert(0, "ra", ra)
    truth.insert(1, "dec", dec)
    truth["shift_px"] = 0.0
    truth["duplicate_of"] = -1
    truth = _add_duplicates(truth, spec.duplicate_rate, rng)
    names = np.asarray(iau_names(truth["ra"].to_numpy(), truth["dec"].to_numpy()))
    of = truth["duplicate_of"].to_numpy()
    truth["duplicate_of"] = np.where(of >= 0, names[np.maximum(of, 0)], "")
    truth.insert(0, "galaxy_id", names)
    truth = truth.drop_duplicates("galaxy_id").reset_index(drop=True)
    truth["snr"] = signal_to_noise(truth).round(1)
    votes = simulate_votes(truth, rng)
    table = pd.concat([truth, votes], axis=1)
    table["tags"] = simulate_tags(truth, rng)
    return table


def make_survey(
    spec: SurveySpec,
    image_dir: Path,
    progress: ProgressFn | None = None,
    workers: int | None = None,
) -> pd.DataFrame:
    """Render a survey into ``image_dir`` (PNG) and return its catalogue.

    The catalogue is :func:`make_catalog`'s with a ``file`` column. ``workers``
    processes render (default: every core); the pixels depend on the seed only.
    """
    table = make_catalog(spec)
    image_dir.mkdir(parents=True, exist_ok=True)
    files = [str(image_dir / f"{i:07d}.png") for i in range(len(table))]
    table.insert(3, "file", files)
    render_columns = [c for c in table.columns if "_fraction" not in c]
    rows = table[render_columns].to_dict("records")
    chunks = [rows[i : i + CHUNK] for i in range(0, len(rows), CHUNK)]
    workers = workers or os.cpu_count() or 1
    done = 0
    if workers == 1 or len(chunks) == 1:
        for chunk in chunks:
            done += _render_chunk(chunk, spec.image_size)
            if progress:
                progress(done, len(rows))
        return table
    with ProcessPoolExecutor(
        min(workers, len(chunks)), mp_context=get_context("spawn")
    ) as pool:
        futures = [pool.submit(_render_chunk, c, spec.image_size) for c in chunks]
        for future in as_completed(futures):
            done += future.result()
            if progress:
                progress(done, len(rows))
    return table


def _render_chunk(rows: list[dict], size: int) -> int:
    for row in rows:
        pixels = render_galaxy(row, size)
        Image.fromarray(pixels).save(row["file"], optimize=False, compress_level=1)
    return len(rows)


def _footprint(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Uniform positions on the sky inside :data:`FOOTPRINT`."""
    ra = rng.uniform(*FOOTPRINT["ra"], n)
    lo, hi = np.sin(np.radians(FOOTPRINT["dec"]))
    return ra, np.degrees(np.arcsin(rng.uniform(lo, hi, n)))


def _add_duplicates(
    truth: pd.DataFrame, rate: float, rng: np.random.Generator
) -> pd.DataFrame:
    """Repeat a few galaxies as second detections 2-6 arcsec away, slightly
    shifted in their cutout and with their own noise."""
    n_dup = rng.binomial(len(truth), rate)
    if n_dup == 0:
        return truth
    source = rng.choice(len(truth), n_dup, replace=False)
    dup = truth.iloc[source].copy()
    sep = rng.uniform(2, 6, n_dup) / 3600
    angle = rng.uniform(0, 2 * np.pi, n_dup)
    dup["dec"] = dup["dec"] + sep * np.sin(angle)
    dup["ra"] = dup["ra"] + sep * np.cos(angle) / np.cos(np.radians(dup["dec"]))
    dup["shift_px"] = rng.uniform(-4, 4, n_dup)
    dup["duplicate_of"] = source
    dup["image_seed"] = dup["image_seed"] + 1  # new noise, new details
    return pd.concat([truth, dup], ignore_index=True)
