"""Survey scale on one machine: a million galaxies from a published representation.

Usage: ``.venv/bin/python benchmarks/scale.py [--n 1000000] [--visitors 5]``

1. A table shaped like Galaxy Zoo DESI's published representation (``id_str``,
   ``ra``, ``dec``, ``feat_pca_0`` ... ``feat_pca_39`` float32) is generated into
   ``MORPH_BENCH_CACHE`` (default /tmp/morph-bench): galaxies from 40 Gaussian
   clusters of unequal sizes and spreads whose variances fall by component as a
   PCA's do, positions uniform on the sphere. Nothing is downloaded.
2. It is prepared from a manifest entry (``source: features``, cutouts from a
   cutout service started here on 127.0.0.1) in a temporary workspace:
   ``load_s`` is everything before the map (the table read and checked, the
   features written, the PCA), ``umap_s`` the map (fitted on a sample of
   ``UMAP_FIT_MAX`` galaxies, the rest placed by ``transform``).
3. Similarity: 200 queries of the exact L1 index on the prepared PCA-10,
   median ms. The anomaly rater: one acquisition step (GP refit on 200 ratings +
   prediction + batch) on the first 100,000 and on all galaxies.
4. The dashboard in public mode with this dataset the default, and
   ``--visitors`` protocol visitors at once (``tests/browser/wire.py``): each
   opens the explorer, lassoes a region, pages through it, colours the map by a
   column, searches similar galaxies and rates 10. ``explorer_p95_s`` is the
   95th percentile of the explorer's interactions once it is open (lasso, page,
   colour); the server's peak RSS is ``server_rss_mib``.
``--compare-umap N``: also fits a full UMAP of the first N galaxies and the
sampled one of the same galaxies, and reports how many of each galaxy's 15
nearest neighbours in PCA-15 stay among its 15 nearest on each map.

Goals (issue 15): load < 120 s, UMAP < 600 s, similarity median < 5 ms, a GP
step < 2 s at 1M and < 0.3 s at 100k, explorer p95 < 1 s, server RSS < 3 GiB.
Everything started is stopped; the workspace is removed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs

import numpy as np
import pandas as pd
import yaml
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.load import ServerMeter, stop_server, timed  # noqa: E402
from benchmarks.report import record  # noqa: E402
from morph_core import settings  # noqa: E402
from morph_core.data.manifest import load_manifest  # noqa: E402
from morph_core.dataset import open_dataset  # noqa: E402
from morph_core.pipeline.anomaly import stored_features, stored_oddness  # noqa: E402
from morph_core.pipeline.prepare import prepare  # noqa: E402
from morph_core.pipeline.umap import UMAP_FIT_MAX, fit_umap  # noqa: E402
from morph_core.tools.anomaly.finder import AnomalyFinder  # noqa: E402
from morph_core.tools.similarity import NeighbourIndex  # noqa: E402
from tests.browser import crowd, wire  # noqa: E402
from tests.browser.harness import start_streamlit  # noqa: E402
from tests.unit.cutout_server import CutoutServer, serve_cutouts  # noqa: E402

NAME = "survey_1m"
GOALS = {
    "load_s": 120,
    "umap_s": 600,
    "similarity_median_ms": 5,
    "gp_step_s": {"100000": 0.3, "1000000": 2.0},
    "explorer_p95_s": 1.0,
    "server_rss_mib": 3072,
}
EXPLORER_ACTIONS = ("explorer_lasso", "explorer_page", "explorer_colour")
CUTOUT_PORT = 18765  # fixed: a reused workspace's cutout URLs stay valid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--visitors", type=int, default=5)
    parser.add_argument("--compare-umap", type=int, default=0, metavar="N")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the prepared workspace in MORPH_BENCH_CACHE and reuse it when "
        "there (its prepare's recorded seconds are reported)",
    )
    args = parser.parse_args()
    table = representation_table(args.n)
    results: dict = {"n_galaxies": args.n, "goals": GOALS}
    with tempfile.TemporaryDirectory(prefix="morph-scale-") as tmp:
        folder = bench_cache() / f"scale-{args.n}" if args.reuse else Path(tmp)
        images = cutout_images(folder / "cutouts")
        with serve_cutouts(CutoutServer(images), CUTOUT_PORT) as cutouts:
            manifest = scale_manifest(folder, table, cutouts)
            os.environ["MORPH_MANIFEST"] = str(manifest)
            os.environ["MORPH_WORKSPACE"] = str(folder / "workspace")
            os.environ["MORPH_CUTOUT_CACHE"] = str(Path(tmp) / "cutout-cache")
            results |= prepared(args.n, folder)
            ds = open_dataset(NAME)
            results |= similarity(ds)
            results["gp_step_s"] = gp_steps(ds, args.n)
            results["float16"] = float16_effect(ds)
            results |= served(folder / "workspace", args.visitors)
            if args.compare_umap:
                results["umap_sampled_vs_full"] = compare_umap(ds, args.compare_umap)
    record("scale", results, _table(results))


def bench_cache() -> Path:
    return Path(os.environ.get("MORPH_BENCH_CACHE", "/tmp/morph-bench"))


def representation_table(n: int, d: int = 40, seed: int = 0) -> Path:
    """A GZ DESI-like PCA-40 table of ``n`` galaxies (made once, cached)."""
    cache = bench_cache()
    path = cache / f"representation-{n}.parquet"
    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    scales = np.geomspace(4.0, 0.2, d).astype(np.float32)
    centres = rng.standard_normal((40, d)).astype(np.float32) * scales * 2
    sizes = rng.dirichlet(np.full(40, 0.7))
    cluster = rng.choice(40, n, p=sizes)
    spread = rng.uniform(0.3, 1.0, 40).astype(np.float32)
    features = centres[cluster] + (
        rng.standard_normal((n, d), dtype=np.float32) * scales * spread[cluster, None]
    )
    table = pd.DataFrame(
        {
            "id_str": np.char.add(
                np.char.add(rng.integers(100_000, 700_000, n).astype(str), "_"),
                np.arange(n).astype(str),
            ),
            "ra": rng.uniform(0, 360, n),
            "dec": np.degrees(np.arcsin(rng.uniform(-1, 1, n))),
            "cluster": cluster.astype(np.int16),
        }
    )
    columns = pd.DataFrame(features, columns=[f"feat_pca_{i}" for i in range(d)])
    cache.mkdir(parents=True, exist_ok=True)
    pd.concat([table, columns], axis=1).to_parquet(path, row_group_size=100_000)
    return path


def cutout_images(folder: Path, n: int = 40) -> dict[str, Path]:
    """``n`` small galaxy-like JPEGs the local cutout service serves, one per
    cluster of the table (:func:`scale_manifest`'s template asks by cluster)."""
    folder.mkdir(parents=True, exist_ok=True)
    y, x = np.mgrid[-1:1:96j, -1:1:96j]
    images = {}
    for i in range(n):
        angle, ratio = i * np.pi / n, 0.3 + 0.7 * (i % 5) / 4
        u = x * np.cos(angle) + y * np.sin(angle)
        v = (-x * np.sin(angle) + y * np.cos(angle)) / ratio
        light = np.exp(-8 * (u**2 + v**2)) * 255
        path = folder / f"cutout{i}.jpg"
        Image.fromarray(np.repeat(light[..., None], 3, 2).astype(np.uint8)).save(path)
        images[str(i)] = path
    return images


def scale_manifest(folder: Path, table: Path, cutouts: CutoutServer) -> Path:
    """The project's manifest with the table as its default dataset."""
    raw = yaml.safe_load(settings.manifest_path().read_text())
    raw["entries"].append(
        {
            "name": NAME,
            "kind": "dataset",
            "source": "features",
            "description": "benchmark table shaped like GZ DESI's representation",
            "path": str(table),
            "columns": {"galaxy_id": "id_str"},
            "cutouts": cutouts.url + "/cutout?id={cluster}",
            "licence": "generated",
            "citation": "benchmarks/scale.py",
        }
    )
    raw["default_dataset"], raw["first_look_dataset"] = NAME, None
    path = folder / "manifest.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def prepared(n: int, folder: Path) -> dict:
    """Prepare the table; seconds of each part and the peak memory. A reused
    workspace is prepared again (only stages out of date run), and the load and
    map seconds are those of its first prepare (kept in ``folder``)."""
    steps: list[tuple[str, int, int]] = []
    start = time.perf_counter()
    summary = prepare(
        load_manifest().dataset(NAME),
        open_dataset(NAME),
        None,
        progress=lambda stage, done, total: steps.append((stage, done, total)),
    )
    wall = time.perf_counter() - start
    print(f"prepared {summary.n_galaxies} in {wall:.0f} s: {summary.seconds}")
    assert summary.n_galaxies == n, summary
    out = {
        "prepare_s": round(wall, 1),
        "prepare_seconds": summary.seconds,
        "umap_fit_sample": min(n, UMAP_FIT_MAX),
        "prepare_peak_rss_mib": round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        ),
    }
    first = folder / "first_prepare.json"
    if summary.seconds["umap"] > 1 or not first.exists():  # the map was made now
        umap_reports = sum(1 for s in steps if s[0] == "umap")
        first.write_text(json.dumps(out | {"umap_progress_reports": umap_reports}))
    kept = json.loads(first.read_text())
    seconds = kept["prepare_seconds"]
    return out | {
        "load_s": round(seconds["catalog"] + seconds["pca"], 1),
        "umap_s": round(seconds["umap"], 1),
        "first_prepare": kept,
    }


def similarity(ds, n_queries: int = 200) -> dict:
    """Median and p95 ms of one exact L1 query (k = 50) on the PCA-10."""
    features = np.ascontiguousarray(ds.pca_features(10), np.float32)
    start = time.perf_counter()
    index = NeighbourIndex().fit(features)
    build = time.perf_counter() - start
    rows = np.random.default_rng(1).choice(len(features), n_queries, replace=False)
    times = []
    for row in rows:
        start = time.perf_counter()
        index.query(features[row : row + 1], 50)
        times.append((time.perf_counter() - start) * 1000)
    return {
        "similarity_median_ms": round(float(np.median(times)), 2),
        "similarity_p95_ms": round(float(np.percentile(times, 95)), 2),
        "similarity_index_build_s": round(build, 2),
    }


def float16_effect(ds, n_queries: int = 200, n_rated: int = 200) -> dict:
    """What storing the PCA in float16 instead of float32 would change: the
    share of each query's 50 exact L1 neighbours on PCA-10 kept, and, for one
    acquisition step on the rater's features at 100,000 galaxies, whether the
    batch is the same and how much of the top 100 by predicted rating is kept."""
    pca = np.ascontiguousarray(ds.pca_features(10), np.float32)
    half = pca.astype(np.float16).astype(np.float32)
    rows = np.random.default_rng(3).choice(len(pca), n_queries, replace=False)
    exact, approx = NeighbourIndex().fit(pca), NeighbourIndex().fit(half)
    kept = [
        len(
            set(exact.query(pca[r : r + 1], 50)[1][0])
            & set(approx.query(half[r : r + 1], 50)[1][0])
        )
        / 50
        for r in rows
    ]
    features = np.asarray(stored_features(ds, "cnn")[:100_000])
    rng = np.random.default_rng(4)
    rated = rng.choice(len(features), n_rated, replace=False)
    given = rng.integers(0, 6, n_rated)
    oddness = stored_oddness(ds, "cnn")[:100_000]
    steps = [
        AnomalyFinder().fit(x, rated, given).propose(x, oddness)
        for x in (features, features.astype(np.float16).astype(np.float32))
    ]
    tops = [set(np.argsort(-s.mean)[:100]) for s in steps]
    return {
        "neighbours_kept_at_50": round(float(np.mean(kept)), 4),
        "neighbours_kept_min": round(float(np.min(kept)), 2),
        "gp_same_batch": steps[0].rows.tolist() == steps[1].rows.tolist(),
        "gp_top100_kept": len(tops[0] & tops[1]) / 100,
        "gp_mean_max_diff": round(
            float(np.abs(steps[0].mean - steps[1].mean).max()), 4
        ),
    }


def gp_steps(ds, n: int) -> dict:
    """One acquisition step on 200 ratings, at 100k galaxies and at all."""
    features = np.asarray(ds.pca_features(40), np.float64)
    rng = np.random.default_rng(0)
    out = {}
    for size in sorted({min(100_000, n), n}):
        part = features[:size]
        rated = rng.choice(size, 200, replace=False)
        given = rng.integers(0, 6, 200)
        oddness = rng.uniform(size=size)
        best = []
        for _ in range(3):
            start = time.perf_counter()
            AnomalyFinder().fit(part, rated, given).propose(part, oddness)
            best.append(time.perf_counter() - start)
        out[str(size)] = round(min(best), 2)
        print(f"GP step at {size}: {out[str(size)]} s (best of 3)", flush=True)
    return out


def served(root: Path, n_visitors: int) -> dict:
    """The dashboard with ``n_visitors`` at once; per action p50/p95 seconds and
    the server's peak RSS."""
    process, url = start_streamlit(
        {"MORPH_WORKSPACE": str(root), "MORPH_MODE": "public"}, timeout_s=180
    )
    meter = ServerMeter(process.pid)
    meter.start()
    try:
        visits = asyncio.run(_crowd(url, n_visitors))
    finally:
        meter.stop()
        stop_server(process)
    actions: dict[str, list[float]] = {}
    for visit in visits:
        for action, times in visit.timings.items():
            actions.setdefault(action, []).extend(times)
    explorer = [t for a in EXPLORER_ACTIONS for t in actions.get(a, [])]
    return {
        "explorer_p95_s": round(_p95(explorer), 2),
        "actions": {
            a: {"p50": round(statistics.median(t), 2), "p95": round(_p95(t), 2)}
            for a, t in sorted(actions.items())
        },
        "server_rss_mib": round(max(meter.rss_mib)),
        "errors": [e for v in visits for e in v.errors][:20],
    }


def _p95(values: list[float]) -> float:
    return float(np.percentile(values, 95)) if values else float("nan")


async def _crowd(url: str, n: int) -> list[crowd.Visit]:
    visits = [crowd.Visit() for _ in range(n)]

    async def one(i: int) -> None:
        await asyncio.sleep(i * 0.5)
        tab = wire.Wire(url, timeout_s=300)
        try:
            await _visit(tab, visits[i], i)
        except Exception as error:  # noqa: BLE001 - a failed visit is a result
            visits[i].errors.append(f"visit: {type(error).__name__}: {error}")
        finally:
            visits[i].errors.extend(tab.errors)
            await tab.close()

    await asyncio.gather(*(one(i) for i in range(n)))
    return visits


async def _visit(tab: wire.Wire, visit: crowd.Visit, index: int) -> None:
    from benchmarks.load import _map_points  # the map's points as sent

    rng = random.Random(index)
    await timed(visit, "home", tab.open(""))
    query = tab.query
    visit.key = parse_qs(query)["visitor"][0]
    await timed(visit, "open_explorer", tab.open("umap_explorer", query))
    xs, ys = _map_points(json.loads(tab.widget("umap.chart").spec))
    for _ in range(2):
        x0, x1 = sorted(rng.sample(list(np.percentile(xs, [10, 30, 50, 70, 90])), 2))
        y0, y1 = float(np.percentile(ys, 20)), float(np.percentile(ys, 80))
        lasso = {"x": [x0, x1, x1, x0], "y": [y0, y0, y1, y1]}
        selection = {"points": [], "point_indices": [], "box": [], "lasso": [lasso]}
        await timed(
            visit,
            "explorer_lasso",
            tab.set(
                "umap.chart",
                string_value=json.dumps({"selection": selection}),
                until=lambda page: page.has_text("galaxies selected"),
            ),
        )
        await timed(visit, "explorer_page", tab.set("umap.page", double_value=2))
    await timed(visit, "explorer_colour", tab.set("umap.colour", string_value="ra"))
    await timed(visit, "open_similarity", tab.open("tag_similarity", query))
    await tab.set("similarity.route", string_value="Galaxy id")
    await tab.set("similarity.id", string_value=_some_id(tab))
    await timed(
        visit,
        "similarity",
        tab.set(
            "similarity.search",
            trigger_value=True,
            until=lambda page: page.has_text("most similar galaxies"),
        ),
    )
    await timed(visit, "open_rater", tab.open("anomaly_rater", query))
    await wire.rate(tab, visit, 10, rng, pause_s=1.0)


def _some_id(tab: wire.Wire) -> str:
    ds = open_dataset(NAME)
    return str(ds.catalog()["galaxy_id"].iloc[12345])


def compare_umap(ds, n: int) -> dict:
    """The sampled map against a full fit of the first ``n`` galaxies: the share
    of each galaxy's 15 nearest neighbours on each map (and in PCA-15 itself)
    that come from its own cluster of the generated table (mean over 2,000)."""
    from sklearn.neighbors import NearestNeighbors

    pca = np.asarray(ds.pca_features(15)[:n], np.float32)
    cluster = ds.catalog()["cluster"].to_numpy()[:n]
    sample = max(n // 10, 1000)
    probe = np.random.default_rng(2).choice(n, 2000, replace=False)

    def purity(space: np.ndarray) -> float:
        near = NearestNeighbors(n_neighbors=16).fit(space).kneighbors(space[probe])
        return round(float((cluster[near[1][:, 1:]] == cluster[probe, None]).mean()), 3)

    out = {"n": n, "sample": sample, "pca_15": {"same_cluster": purity(pca)}}
    for name, fit_max in (("full", n), ("sampled", sample)):
        start = time.perf_counter()
        embedding = fit_umap(pca, fit_max=fit_max)
        out[name] = {
            "seconds": round(time.perf_counter() - start, 1),
            "same_cluster": purity(embedding),
        }
    return out


def _table(r: dict) -> str:
    goals = r["goals"]
    gp = r["gp_step_s"]
    rows = [
        ("load (table + PCA)", f"{r['load_s']} s", f"< {goals['load_s']} s"),
        (
            f"UMAP (fit on {r['umap_fit_sample']:,}, rest transformed)",
            f"{r['umap_s']} s",
            f"< {goals['umap_s']} s",
        ),
        ("similarity, exact L1, median", f"{r['similarity_median_ms']} ms", "< 5 ms"),
    ]
    rows += [
        (f"GP step at {int(n):,}", f"{s} s", f"< {goals['gp_step_s'].get(n, '-')} s")
        for n, s in gp.items()
    ]
    rows += [
        ("explorer interactions p95", f"{r['explorer_p95_s']} s", "< 1 s"),
        ("server peak RSS, 5 visitors", f"{r['server_rss_mib']} MiB", "< 3072 MiB"),
    ]
    lines = [
        f"{r['n_galaxies']:,} galaxies (a GZ DESI-shaped PCA-40 table), "
        f"`python benchmarks/scale.py`:",
        "",
        "| | measured | goal |",
        "|---|---|---|",
        *(f"| {a} | {b} | {c} |" for a, b, c in rows),
        "",
        "Per action (p50 / p95 s): "
        + ", ".join(f"{a} {v['p50']} / {v['p95']}" for a, v in r["actions"].items()),
    ]
    if "float16" in r:
        f = r["float16"]
        lines += [
            "",
            f"PCA in float16 instead of float32: {f['neighbours_kept_at_50']:.1%} "
            f"of each query's 50 exact L1 neighbours kept (worst query "
            f"{f['neighbours_kept_min']:.0%}); one GP step at 100,000 galaxies: "
            f"same batch {'yes' if f['gp_same_batch'] else 'no'}, "
            f"{f['gp_top100_kept']:.0%} of the top 100 by predicted rating kept "
            f"(largest change of a prediction {f['gp_mean_max_diff']}).",
        ]
    if "umap_sampled_vs_full" in r:
        c = r["umap_sampled_vs_full"]
        lines += [
            "",
            f"UMAP of {c['n']:,} galaxies, a full fit against one fitted on "
            f"{c['sample']:,} and the rest transformed: of each galaxy's 15 nearest "
            f"on the map, {c['full']['same_cluster']:.1%} vs "
            f"{c['sampled']['same_cluster']:.1%} from its own cluster "
            f"({c['pca_15']['same_cluster']:.1%} in PCA-15 itself); "
            f"{c['full']['seconds']} s vs {c['sampled']['seconds']} s.",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
