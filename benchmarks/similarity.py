"""Similarity query latency: our exact L1 index vs scikit-learn's ball tree.

Usage: ``.venv/bin/python benchmarks/similarity.py [--queries 200]``

For k = 50 neighbours on PCA-10-like features (random Gaussian with the
decreasing variances of a PCA) at 100,000 and 1,000,000 galaxies, one query at a
time as the page sends them: median and 95th percentile latency, and index build
time, for :class:`morph_core.tools.similarity.NeighbourIndex` (faiss ``IndexFlat``,
``METRIC_L1``) and ``NearestNeighbors(metric="manhattan", algorithm="ball_tree")``,
which earlier galaxy-similarity apps used. Both are exact; their answers are
checked to agree. Goal: median under 20 ms at 1,000,000 and faster than the ball
tree at both sizes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sklearn.neighbors import NearestNeighbors  # noqa: E402

from benchmarks.report import record  # noqa: E402
from morph_core.tools.similarity import NeighbourIndex  # noqa: E402

K = 50


def _features(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    scales = np.linspace(3.0, 0.5, 10, dtype=np.float32)
    return (rng.standard_normal((n, 10), dtype=np.float32) * scales).astype(np.float32)


def _latencies(query_one, queries: np.ndarray) -> np.ndarray:
    query_one(queries[0])  # warm-up
    times = []
    for q in queries:
        start = time.perf_counter()
        query_one(q)
        times.append(time.perf_counter() - start)
    return np.array(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    results, rows = {"k": K, "queries": args.queries}, []
    for n in (100_000, 1_000_000):
        features = _features(n)
        queries = features[np.random.default_rng(1).choice(n, args.queries, False)]

        start = time.perf_counter()
        ours = NeighbourIndex().fit(features)
        ours_build = time.perf_counter() - start
        start = time.perf_counter()
        tree = NearestNeighbors(
            n_neighbors=K, metric="manhattan", algorithm="ball_tree"
        )
        tree.fit(features)
        tree_build = time.perf_counter() - start

        d_ours, i_ours = ours.query(queries[:20], K)
        d_tree, _ = tree.kneighbors(queries[:20], K)
        np.testing.assert_allclose(d_ours, d_tree, rtol=1e-4, atol=1e-4)

        t_ours = _latencies(lambda q, index=ours: index.query(q[None], K), queries)
        t_tree = _latencies(lambda q, index=tree: index.kneighbors(q[None], K), queries)
        entry = {}
        for name, t, build in (
            ("faiss_l1", t_ours, ours_build),
            ("ball_tree", t_tree, tree_build),
        ):
            entry[name] = {
                "median_ms": round(float(np.median(t)), 2),
                "p95_ms": round(float(np.percentile(t, 95)), 2),
                "build_s": round(build, 2),
            }
            e = entry[name]
            rows.append(
                f"| {n:,} | {name} | {e['median_ms']} | {e['p95_ms']} "
                f"| {e['build_s']} |"
            )
        results[str(n)] = entry
    table = "\n".join(
        [
            f"k = {K}, PCA-10-like random features, {args.queries} single queries. "
            "Goal: median < 20 ms at 1,000,000 and faster than the ball tree.",
            "",
            "| galaxies | index | median (ms) | p95 (ms) | build (s) |",
            "|---|---|---|---|---|",
            *rows,
        ]
    )
    record("similarity", results, table)


if __name__ == "__main__":
    main()
