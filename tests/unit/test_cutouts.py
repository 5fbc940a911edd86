"""Cutouts fetched when shown: in parallel, with timeouts, a bounded cache and
no waiting on a server that fails."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from morph_core.data.cutouts import CutoutCache, locations
from morph_core.errors import CatalogError
from tests.unit.cutout_server import CutoutServer, serve_cutouts


@pytest.fixture
def server(tmp_path: Path):
    rng = np.random.default_rng(0)
    images = {}
    for i in range(12):
        path = tmp_path / f"g{i}.jpg"
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(path)
        images[f"g{i}"] = path
    service = CutoutServer(
        images, slow={"g9"}, failing={"g10"}, garbage={"g11"}, delay_s=2.0
    )
    with serve_cutouts(service) as running:
        yield running


def _urls(server: CutoutServer, ids) -> list[str]:
    return [server.template.format(galaxy_id=g) for g in ids]


def test_cutouts_are_fetched_in_parallel_once_and_then_read_from_disk(server, tmp_path):
    server.slow, server.delay_s = {f"g{i}" for i in range(8)}, 0.5
    cache = CutoutCache(tmp_path / "cache", timeout_s=5)
    urls = _urls(server, [f"g{i}" for i in range(8)])
    start = time.perf_counter()
    files = cache.local(urls, wait_s=5)
    took = time.perf_counter() - start
    assert all(files) and took < 2.0, took  # eight 0.5 s answers side by side
    for i, file in enumerate(files):
        assert Path(file).read_bytes() == server.images[f"g{i}"].read_bytes()
    assert cache.local(urls, wait_s=5) == files
    assert all(server.hits[f"g{i}"] == 1 for i in range(8))


def test_a_failing_or_missing_cutout_is_a_placeholder_not_a_wait(server, tmp_path):
    cache = CutoutCache(tmp_path / "cache", timeout_s=5)
    urls = _urls(server, ["g10", "g11", "nobody", "g0"])  # 500, text, 404, fine
    files = cache.local(urls, wait_s=5)
    assert files[:3] == [None, None, None] and files[3] is not None
    start = time.perf_counter()
    assert cache.local(urls, wait_s=5)[:3] == [None, None, None]
    assert time.perf_counter() - start < 0.2  # not asked again for a while
    assert server.hits["g10"] == server.hits["nobody"] == 1


def test_a_slow_cutout_does_not_hold_the_page_and_is_there_next_time(server, tmp_path):
    cache = CutoutCache(tmp_path / "cache", timeout_s=5)
    start = time.perf_counter()
    files = cache.local(_urls(server, ["g9", "g1"]), wait_s=0.5)
    assert time.perf_counter() - start < 1.5
    assert files[0] is None and files[1] is not None
    time.sleep(2.5)  # it went on downloading
    assert cache.local(_urls(server, ["g9"]), wait_s=0)[0] is not None
    assert server.hits["g9"] == 1


def test_a_server_slower_than_the_timeout_counts_as_failing(server, tmp_path):
    cache = CutoutCache(tmp_path / "cache", timeout_s=0.5)
    assert cache.local(_urls(server, ["g9"]), wait_s=3) == [None]


def test_offline_gives_placeholders_quickly(tmp_path):
    cache = CutoutCache(tmp_path / "cache", timeout_s=2)
    start = time.perf_counter()
    files = cache.local(["http://127.0.0.1:9/cutout?id=a"] * 3, wait_s=3)
    assert files == [None] * 3 and time.perf_counter() - start < 2.5


def test_the_cache_keeps_the_most_recently_shown_within_its_bytes(server, tmp_path):
    size = server.images["g0"].stat().st_size
    cache = CutoutCache(tmp_path / "cache", max_bytes=4 * size + size // 2)
    first = []
    for galaxy in ["g0", "g1", "g2", "g3"]:  # one after the other: g0 oldest
        first += cache.local(_urls(server, [galaxy]), wait_s=5)
        time.sleep(0.05)
    cache.local(_urls(server, ["g0"]))  # shown again: kept longest
    time.sleep(0.05)
    cache.local(_urls(server, ["g4", "g5"]), wait_s=5)
    cache.trim()
    kept = {p.name for p in (tmp_path / "cache").glob("*.img")}
    assert Path(first[0]).name in kept and Path(first[1]).name not in kept
    assert sum(p.stat().st_size for p in (tmp_path / "cache").glob("*.img")) <= (
        4 * size + size // 2
    )


def test_cutout_urls_quote_their_values_and_paths_are_absolute(tmp_path):
    table = pd.DataFrame(
        {"galaxy_id": ["a b", "c&d", None], "ra": [1.5, 2.25, 3.0], "dec": [-1, 0, 1]}
    )
    urls, reasons = locations(
        table, "https://x.example/c?id={galaxy_id}&ra={ra:.2f}", tmp_path
    )
    assert urls[:2].tolist() == [
        "https://x.example/c?id=a%20b&ra=1.50",
        "https://x.example/c?id=c%26d&ra=2.25",
    ]
    assert reasons.tolist() == ["", "", "no galaxy_id for the cutout"]
    with pytest.raises(CatalogError, match="column names"):
        locations(table, "https://x.example/{0}", tmp_path)
