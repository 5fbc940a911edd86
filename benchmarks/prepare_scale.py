"""Prepare at survey scale: 100,000 image files, killed half way, resumed.

Usage: ``.venv/bin/python benchmarks/prepare_scale.py [--n 100000]``

The files tile the real GZ1 cutouts (../shared/data/gz1_sdss: 6,664 JPEGs of
160 px): copy ``c`` of each is turned by 90 degrees ``c`` times, mirrored every
fourth copy and saved at a JPEG quality that changes every eighth, so that every
file has its own content (and its own cache key). They are written once into
``MORPH_BENCH_CACHE`` (default /tmp/morph-bench), nothing in the repository.

1. ``python -m morph_core prepare tiles --folder ...`` runs as a subprocess and
   is killed (SIGKILL) once half the images are saved as embedded shards;
2. the same prepare runs again in this process: it must embed only the rest;
3. recorded: images embedded by each run, the resumed run's stage times, its
   embed stage's images per second (reading the shards and writing the features
   included) against the raw forward pass of the same encoder on this machine,
   and the peak memory of the resumed run.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.embedding import _raw  # noqa: E402
from benchmarks.report import record  # noqa: E402
from morph_core.data.manifest import load_manifest  # noqa: E402
from morph_core.dataset import folder_entry, open_dataset  # noqa: E402
from morph_core.model.encoder import build_encoder  # noqa: E402
from morph_core.model.weights import resolve_encoder  # noqa: E402
from morph_core.pipeline import embed  # noqa: E402
from morph_core.pipeline.prepare import prepare  # noqa: E402
from morph_core.settings import shared_data_dir  # noqa: E402

NAME = "tiles"


def tiles(n: int) -> Path:
    """``n`` distinct JPEG files tiled from the GZ1 cutouts, and their catalogue."""
    cache = Path(os.environ.get("MORPH_BENCH_CACHE", "/tmp/morph-bench"))
    folder = cache / f"gz1-tiles-{n}"
    if (folder / "catalog.csv").exists():
        return folder
    source = shared_data_dir() / "gz1_sdss"
    files = sorted((source / "images").glob("*.jpg"))
    if not files:
        raise SystemExit(f"no GZ1 cutouts in {source}: set MORPH_SHARED_DATA")
    (folder / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        copy, original = divmod(i, len(files))
        with Image.open(files[original]) as image:
            image = image.rotate(90 * (copy % 4))
            if copy // 4 % 2:
                image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            name = f"images/{i:06d}.jpg"
            image.save(folder / name, quality=95 - copy // 8)
        rows.append({"galaxy_id": f"T{i:06d}", "file": name})
    pd.DataFrame(rows).to_csv(folder / "catalog.csv", index=False)
    return folder


def killed_half_way(folder: Path, workspace: Path, n: int) -> float:
    """Start the CLI prepare and kill it once half the images are in shards;
    returns the seconds it ran."""
    shards = max(1, n // 2 // embed.SHARD)
    command = [sys.executable, "-m", "morph_core", "--workspace", str(workspace)]
    command += ["prepare", NAME, "--folder", str(folder)]
    start = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        while process.poll() is None:
            if (
                len(list(workspace.glob("*/features/*/partial/[0-9]*.parquet")))
                >= shards
            ):
                break
            time.sleep(0.5)
        else:
            raise SystemExit(
                f"the prepare ended before it was killed ({process.returncode})"
            )
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    args = parser.parse_args()
    start = time.perf_counter()
    folder = tiles(args.n)
    made_s = time.perf_counter() - start
    spec = resolve_encoder(None, load_manifest())
    with tempfile.TemporaryDirectory(prefix="morph-prepare-") as tmp:
        workspace = Path(tmp)
        killed_s = killed_half_way(folder, workspace, args.n)
        dataset = open_dataset(NAME, workspace)
        start = time.perf_counter()
        summary = prepare(folder_entry(NAME, folder), dataset, spec)
        resumed_s = time.perf_counter() - start
    raw = _raw(build_encoder(spec), spec, 1024)
    embed_rate = summary.n_embedded / summary.seconds["embed"]
    results = {
        "n_galaxies": summary.n_galaxies,
        "files_made_s": round(made_s, 1),
        "killed_after_s": round(killed_s, 1),
        "embedded_before_the_kill": args.n - summary.n_embedded,
        "embedded_after_resuming": summary.n_embedded,
        "resumed_prepare_s": round(resumed_s, 1),
        "resumed_stages_s": summary.seconds,
        "embed_img_s": round(embed_rate, 1),
        "raw_forward_img_s": round(raw, 1),
        "embed_vs_raw": round(embed_rate / raw, 3),
        "peak_rss_mib": round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        ),
        "encoder": f"{spec.architecture}, {spec.image_size} px",
    }
    table = "\n".join(
        [
            f"{summary.n_galaxies:,} files (GZ1 cutouts tiled, 160-px JPEGs), the "
            f"default encoder ({results['encoder']}). The CLI prepare was killed "
            f"after {killed_s:.0f} s with {results['embedded_before_the_kill']:,} "
            f"images saved in shards; the prepare run again embedded "
            f"{summary.n_embedded:,} (the rest) and took {resumed_s:.0f} s "
            f"(stages: {summary.seconds}).",
            "",
            f"The resumed run's embed stage: {embed_rate:.0f} images embedded a "
            "second (its time also holds reading the shards and writing every "
            f"galaxy's features), against {raw:.0f} for the raw forward pass "
            f"measured after it ({embed_rate / raw:.0%}); peak memory of the "
            f"resumed run {results['peak_rss_mib']} MiB.",
        ]
    )
    record("prepare-100k" if args.n == 100_000 else f"prepare-{args.n}", results, table)


if __name__ == "__main__":
    main()
