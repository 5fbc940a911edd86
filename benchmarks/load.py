"""Load: N strangers at once on one public-mode server.

Usage: ``.venv/bin/python benchmarks/load.py [--visitors 20] [--browsers 2]
[--ratings 20]`` (after ``python -m morph_core prepare``: the demo sky's
artefacts are copied, without its images, to a temporary workspace; nothing of
the real one changes).

The server starts as ``python -m morph_core serve --public`` on 127.0.0.1 with
one fine-tune worker. ``--browsers`` of the visitors are Debian's chromium
(one context each, at nice 10); the others speak Streamlit's websocket protocol
from this process (``tests/browser/wire.py``: what the browser sends, without
drawing), because 20 chromium contexts on the server's own two cores measure
mostly the browsers (1.2 cores against the server's 0.1 when tried). Each
visitor: Home -> explorer lasso -> similarity page (``open_similarity``) ->
search by tag (``similarity``: the click on Search) -> by upload ->
``--ratings`` ratings (0-1 s apart, not waiting for the server, as a person
clicks) -> every third visitor starts one head-only fine-tune run (4 labels per
class). Per action, for all visitors and per kind of client: p50/p95 seconds
from the click to the settled page (the script run finished and the new content
there; for a rating, its acknowledgement); errors shown; ratings lost or
misattributed (every click against the store, galaxy by galaxy); fine-tune
queue waits; the server process's peak RSS (workers apart) and CPU, and the CPU
of the load generators. Everything started is stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.report import record  # noqa: E402
from morph_core.dataset import open_dataset  # noqa: E402
from morph_core.runs import queue  # noqa: E402
from morph_core.runs.folder import seconds_between  # noqa: E402
from tests.browser import crowd, wire  # noqa: E402
from tests.browser.harness import start_streamlit  # noqa: E402

GOALS = {"rate": 2.0, "similarity": 2.0}  # p95 seconds (issue 13)
RSS_GOAL_MIB = 1536
RUN_GOAL_S = 300
COLUMN = "smooth-or-featured_smooth_fraction"
SERVER_LOG = Path(tempfile.gettempdir()) / "morph-load-server.log"  # errors by id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=20)
    parser.add_argument(
        "--browsers", type=int, default=2, help="of the visitors, in chromium"
    )
    parser.add_argument("--ratings", type=int, default=20)
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--timeout", type=float, default=1500, help="whole run, s")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="morph-load-") as tmp:
        root = prepared_copy(args.dataset, Path(tmp))
        results = run(root, args)
    table = _table(results)
    record("load", results, table)


def prepared_copy(name: str, folder: Path) -> Path:
    """A workspace in ``folder`` holding a copy of the prepared dataset ``name``
    without its images (the catalogue points at the originals), ratings or
    runs; returns the workspace root. Exits when ``name`` is not prepared."""
    source = open_dataset(name)
    if not source.is_prepared:
        sys.exit(f"prepare {name!r} first: python -m morph_core prepare")
    root = folder / "workspace"
    shutil.copytree(
        source.path,
        root / name,
        ignore=shutil.ignore_patterns(
            "images", "ratings.sqlite*", "runs", "predictions", "*.lock"
        ),
    )
    return root


def stop_server(process) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except Exception:  # noqa: BLE001 - make sure it is gone
        process.kill()


def clicks_kept(store, visits) -> tuple[int, int]:
    """Ratings clicked but not stored (lost), and stored but never clicked
    (misattributed), over every visit, galaxy by galaxy."""
    lost = misplaced = 0
    for visit in visits:
        if not visit.key:
            continue
        stored = store.ratings(visit.key)
        saved = set(zip(stored["galaxy_id"], stored["rating"], strict=True))
        clicked = set(visit.clicks)
        lost += len(clicked - saved)
        misplaced += len(saved - clicked)
    return lost, misplaced


def run(root: Path, args) -> dict:
    """Start the server, drive the visitors, measure, stop everything."""
    process, url = start_streamlit(
        {
            "MORPH_WORKSPACE": str(root),
            "MORPH_MODE": "public",
            "MORPH_RUN_WORKERS": "1",
        },
        timeout_s=120,
        log=SERVER_LOG,
    )
    meter = ServerMeter(process.pid)
    meter.start()
    upload = _upload_image(args.dataset)
    n_wire = max(args.visitors - args.browsers, 0)
    generator = os.times()
    try:
        start = time.perf_counter()
        with ThreadPoolExecutor(1) as thread:
            browsers = thread.submit(
                crowd.crowd,
                args.visitors - n_wire,
                lambda browser, visit, i: asyncio.wait_for(
                    _visit(browser, visit, n_wire + i, url, args.ratings, upload),
                    timeout=args.timeout,
                ),
                launch_gap_s=0.5,
            )
            wires = asyncio.run(_wire_crowd(n_wire, url, args, upload))
            visits = wires + browsers.result()
        wall = time.perf_counter() - start
        meter.mark()  # CPU is reported over the visits (not the runs after)
        used = os.times()
        generator_s = (used.user - generator.user) + (used.system - generator.system)
        runs = wait_for_runs(root / args.dataset, deadline_s=RUN_GOAL_S + 120)
    finally:
        meter.stop()
        stop_server(process)
        stop_workers(root)
    kinds = ["wire"] * n_wire + ["browser"] * (args.visitors - n_wire)
    return _summarise(
        visits, kinds, runs, meter, wall, generator_s, root / args.dataset, args
    )


async def _wire_crowd(n: int, url: str, args, upload: Path) -> list[crowd.Visit]:
    """``n`` protocol visitors at once, their starts 0.5 s apart."""
    visits = [crowd.Visit() for _ in range(n)]

    async def one(i: int) -> None:
        await asyncio.sleep(i * 0.5)
        tab = wire.Wire(url, timeout_s=120)
        try:
            await asyncio.wait_for(
                _wire_visit(tab, visits[i], i, args.ratings, upload),
                timeout=args.timeout,
            )
        except Exception as error:  # noqa: BLE001 - a failed visit is a result
            visits[i].errors.append(f"visit: {type(error).__name__}: {error}")
        finally:
            visits[i].errors.extend(tab.errors)
            await tab.close()

    await asyncio.gather(*(one(i) for i in range(n)))
    return visits


async def _wire_visit(tab, visit, index, n_ratings, upload) -> None:
    """The scripted visit of :func:`_visit`, over the protocol."""
    rng = random.Random(index)
    await timed(visit, "home", tab.open(""))
    query = tab.query
    visit.key = parse_qs(query)["visitor"][0]
    await timed(visit, "explorer_lasso", _wire_explorer(tab, query))
    await timed(visit, "open_similarity", tab.open("tag_similarity", query))
    await timed(visit, "similarity", _wire_similarity(tab))
    await timed(visit, "similarity_upload", _wire_upload(tab, upload))
    await timed(visit, "open_rater", tab.open("anomaly_rater", query))
    await wire.rate(tab, visit, n_ratings, rng, pause_s=1.0)
    if index % 3 == 0:
        await timed(visit, "finetune_submit", _wire_finetune(tab, query))


async def _wire_explorer(tab, query: str) -> None:
    await tab.open("umap_explorer", query)
    xs, ys = _map_points(json.loads(tab.widget("umap.chart").spec))
    x0, x1 = float(xs.min()) - 1, float(np.median(xs))
    y0, y1 = float(ys.min()) - 1, float(ys.max()) + 1
    lasso = {"x": [x0, x1, x1, x0], "y": [y0, y0, y1, y1]}
    selection = {"points": [], "point_indices": [], "box": [], "lasso": [lasso]}
    await tab.set(
        "umap.chart",
        string_value=json.dumps({"selection": selection}),
        until=lambda page: page.has_text("galaxies selected"),
    )


def _map_points(spec: dict) -> tuple[np.ndarray, np.ndarray]:
    """The x and y of every point drawn on the map (Plotly sends arrays as
    base64 typed arrays)."""

    def values(axis) -> np.ndarray:
        if isinstance(axis, dict):
            return np.frombuffer(base64.b64decode(axis["bdata"]), axis["dtype"])
        return np.asarray(axis, float)

    traces = [t for t in spec["data"] if "x" in t]
    return (
        np.concatenate([values(t["x"]) for t in traces]),
        np.concatenate([values(t["y"]) for t in traces]),
    )


async def _wire_similarity(tab) -> None:
    await tab.set(
        "similarity.search",
        trigger_value=True,
        until=lambda page: page.has_text("most similar galaxies"),
    )


async def _wire_upload(tab, upload: Path) -> None:
    await tab.set("similarity.route", string_value="Upload an image")
    await tab.upload(  # searched at once: no click
        "similarity.upload",
        upload.name,
        upload.read_bytes(),
        until=lambda page: page.has_text("the uploaded image"),
    )


async def _wire_finetune(tab, query: str) -> None:
    await tab.open("finetune_monitor", query)
    await tab.set("finetune.column", string_value=COLUMN)
    await tab.set("finetune.n_per_class", double_value=4)
    await tab.set("finetune.strategy", string_value="head only")
    await tab.set(
        "finetune.start",
        trigger_value=True,
        until=lambda page: page.has_text("queued."),
    )


async def _visit(browser, visit, index, url, n_ratings, upload) -> None:
    rng = random.Random(index)
    context, page = await crowd.new_visitor(browser, visit)
    _renice_browsers()
    await timed(visit, "home", _home(page, url))
    key = crowd_key(page)
    await timed(visit, "explorer_lasso", _explorer(page, url, key))
    await timed(visit, "open_similarity", _open_similarity(page, url, key))
    await timed(visit, "similarity", _similarity_tag(page))
    try:
        await timed(visit, "similarity_upload", _similarity_upload(page, upload))
    except Exception:  # noqa: BLE001 - Playwright's timeouts too; re-raised
        shot = Path(tempfile.gettempdir()) / f"morph-load-upload-{index}.png"
        await page.screenshot(path=str(shot), full_page=True)
        raise
    await crowd.open_rater(page, url, visit, f"?visitor={key}")
    await crowd.rate(page, visit, n_ratings, rng, pause_s=1.0)
    if index % 3 == 0:
        await timed(visit, "finetune_submit", _finetune(page, url, key))
    await crowd.exceptions(page, visit)
    await context.close()


def crowd_key(page) -> str:
    return page.url.split("visitor=")[1].split("&")[0]


async def timed(visit, action: str, work) -> None:
    start = time.perf_counter()
    await work
    visit.timed(action, time.perf_counter() - start)
    print(
        f"{time.strftime('%X')} {visit.key[:4] or '----'} {action} "
        f"{time.perf_counter() - start:.1f} s",
        flush=True,
    )


async def _home(page, url: str) -> None:
    await page.goto(url)
    await page.get_by_role("heading", name="A random sample").wait_for()
    await crowd.settle(page)


async def _explorer(page, url: str, key: str) -> None:
    await page.goto(f"{url}/umap_explorer?visitor={key}")
    drag = page.locator(".js-plotly-plot .nsewdrag").first
    await drag.wait_for()
    await crowd.settle(page)
    box = await drag.bounding_box()
    x0, x1 = box["x"] + 3, box["x"] + box["width"] * 0.5
    y0, y1 = box["y"] + 3, box["y"] + box["height"] - 3
    await page.mouse.move(x0, y0)
    await page.mouse.down()
    for x, y in [(x1, y0), (x1, y1), (x0, y1), (x0, y0 + 5)]:
        await page.mouse.move(x, y, steps=8)
    await page.mouse.up()
    await page.get_by_text("galaxies selected").wait_for()
    await crowd.settle(page)


async def _open_similarity(page, url: str, key: str) -> None:
    await page.goto(f"{url}/tag_similarity?visitor={key}")
    await page.get_by_role("button", name="Search").wait_for()
    await crowd.settle(page)


async def _similarity_tag(page) -> None:
    await page.get_by_role("button", name="Search").click()
    await page.get_by_role("heading", name="most similar galaxies").wait_for()
    await crowd.settle(page)


async def _similarity_upload(page, upload: Path) -> None:
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    await page.get_by_text("Upload an image").click()
    await page.locator('input[type="file"]').set_input_files(str(upload))
    answer = page.get_by_text("Query: the uploaded image").or_(
        page.get_by_text("upload an image first")
    )
    for attempt in range(3):  # searched at once; if nothing comes, click Search,
        if attempt:  # as a person would
            await page.get_by_role("button", name="Search").click()
        try:
            await answer.first.wait_for(timeout=30_000)
        except PlaywrightTimeout:
            continue
        await crowd.settle(page)
        if await page.get_by_text("Query: the uploaded image").count():
            return
        await asyncio.sleep(1)
    raise TimeoutError("the upload never reached the server")


async def _finetune(page, url: str, key: str) -> None:
    await page.goto(f"{url}/finetune_monitor?visitor={key}")
    await page.get_by_label("Column", exact=True).click()
    await page.keyboard.type(COLUMN)
    await page.get_by_role("option", name=COLUMN).click()
    labels = page.get_by_role("spinbutton", name="Labels per class")
    await labels.fill("4")
    await labels.press("Enter")
    await page.get_by_label("Strategy").click()
    await page.get_by_role("option", name="head only").click()
    await page.get_by_role("button", name="Start run").click()
    await page.get_by_text("queued.").wait_for()


def _upload_image(dataset: str) -> Path:
    catalog = open_dataset(dataset).catalog()
    return Path(catalog["file"].iloc[7])


def _renice_browsers() -> None:
    """Lower the priority of chromium's processes (the load generator, which
    shares this machine's two cores with the server under test): at nice 10
    they yield the CPU whenever the server needs it."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
            if (
                b"chromium" in command
                and os.getpriority(os.PRIO_PROCESS, int(pid)) < 10
            ):
                os.setpriority(os.PRIO_PROCESS, int(pid), 10)
        except OSError:
            continue


class ServerMeter(threading.Thread):
    """Samples the server process's RSS and CPU time every 0.5 s, and the CPU
    time of the browsers (the load generator) beside it."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.rss_mib, self.cpu, self.browsers = pid, [], [], []
        self.seen: dict[int, int] = {}  # chromium pid -> CPU ticks last read
        self.halt = threading.Event()
        self.marked: float | None = None

    def run(self) -> None:
        ticks = os.sysconf("SC_CLK_TCK")
        while not self.halt.wait(0.5):
            try:
                status = Path(f"/proc/{self.pid}/status").read_text()
                stat = Path(f"/proc/{self.pid}/stat").read_text().split()
            except OSError:
                return
            rss_kib = next(
                int(line.split()[1])
                for line in status.splitlines()
                if line.startswith("VmRSS")
            )
            self.rss_mib.append(rss_kib / 1024)
            now = time.monotonic()
            self.cpu.append((now, (int(stat[13]) + int(stat[14])) / ticks))
            self.browsers.append((now, _browser_cpu_s(ticks, self.seen)))

    def mark(self) -> None:
        """The end of the period :meth:`cores` averages over."""
        self.marked = time.monotonic()

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=5)

    def cores(self, browsers: bool = False) -> float:
        """Mean cores used by the server (or by the browsers) until the mark."""
        samples = self.browsers if browsers else self.cpu
        if self.marked is not None:
            samples = [s for s in samples if s[0] <= self.marked]
        if len(samples) < 2:
            return float("nan")
        (t0, c0), (t1, c1) = samples[0], samples[-1]
        return (c1 - c0) / (t1 - t0)


def _browser_cpu_s(ticks: int, seen: dict[int, int]) -> float:
    """CPU seconds used so far by chromium processes, the ones that have exited
    included (``seen``: each process's last reading, kept between calls)."""
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if b"chromium" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    stat = Path(f"/proc/{pid}/stat").read_text().split()
                    seen[int(pid)] = int(stat[13]) + int(stat[14])
            except OSError:
                continue
    return sum(seen.values()) / ticks


def wait_for_runs(path: Path, deadline_s: float):
    ds = open_dataset(path.name, path.parent)
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        runs = queue.list_runs(ds)
        if runs.empty or not runs["state"].isin(["queued", "running"]).any():
            break
        queue.start_queued(ds)
        time.sleep(2)
    return queue.list_runs(ds)


def stop_workers(root: Path) -> None:
    for path in root.glob("*/runs/*"):
        if path.is_dir():
            (path / "stop").touch()


def _summarise(visits, kinds, runs, meter, wall, generator_s, path: Path, args) -> dict:
    lost, misplaced = clicks_kept(
        open_dataset(path.name, path.parent).rating_store(), visits
    )
    times = _times(visits)
    by_client = {
        kind: _percentiles(
            _times([v for v, k in zip(visits, kinds, strict=True) if k == kind])
        )
        for kind in sorted(set(kinds))
    }
    waits, done = [], []
    for _, run_row in runs.iterrows():
        folder = ds_status(path, run_row["run_id"])
        created = folder.request()["created_at"]
        status = folder.status()
        waits.append(seconds_between(created, status.get("started_at")))
        done.append(seconds_between(created, status.get("finished_at")))
    return {
        "visitors": args.visitors,
        "browsers": kinds.count("browser"),
        "ratings_per_visitor": args.ratings,
        "wall_s": round(wall, 1),
        "errors": sum(len(v.errors) for v in visits),
        "error_samples": [e for v in visits for e in v.errors][:10],
        "clicks": sum(len(v.clicks) for v in visits),
        "ratings_lost": lost,
        "ratings_misattributed": misplaced,
        **_percentiles(times),
        "by_client": by_client,
        "finetune_runs": len(runs),
        "finetune_states": runs["state"].value_counts().to_dict() if len(runs) else {},
        "finetune_queue_wait_s_max": round(max(waits, default=float("nan")), 1),
        "finetune_done_within_s_max": round(max(done, default=float("nan")), 1),
        "server_rss_peak_mib": round(max(meter.rss_mib, default=float("nan"))),
        "server_cpu_cores_mean": round(meter.cores(), 2),
        "browsers_cpu_cores_mean": round(meter.cores(browsers=True), 2),
        "wire_clients_cpu_cores_mean": round(generator_s / wall, 2),
        "goals": {
            "p95_s": GOALS,
            "server_rss_peak_mib": RSS_GOAL_MIB,
            "finetune_done_within_s": RUN_GOAL_S,
        },
    }


def _times(visits) -> dict[str, list[float]]:
    actions = sorted({a for v in visits for a in v.timings})
    return {a: [t for v in visits for t in v.timings.get(a, [])] for a in actions}


def _percentiles(times: dict[str, list[float]]) -> dict:
    return {
        "p50_s": {a: round(statistics.median(t), 2) for a, t in times.items()},
        "p95_s": {a: round(p95(t), 2) for a, t in times.items()},
        "n": {a: len(t) for a, t in times.items()},
    }


def ds_status(path: Path, run_id: str):
    return queue.run_folder(open_dataset(path.name, path.parent), run_id)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def _table(r: dict) -> str:
    kinds = list(r["by_client"])
    rows = [
        "| action | n | p50 s | p95 s | "
        + " | ".join(f"p95 s, {k}" for k in kinds)
        + " | goal p95 s |",
        "|---|---|---|---|" + "---|" * len(kinds) + "---|",
    ]
    for action in r["p95_s"]:
        per_kind = [str(r["by_client"][k]["p95_s"].get(action, "")) for k in kinds]
        rows.append(
            f"| {action} | {r['n'][action]} | {r['p50_s'][action]} | "
            f"{r['p95_s'][action]} | {' | '.join(per_kind)} | "
            f"{GOALS.get(action, '')} |"
        )
    return "\n".join(
        [
            f"{r['visitors']} visitors at once ({r['browsers']} of them in "
            f"chromium, the others over the websocket protocol), public mode, "
            f"2 cores (`benchmarks/load.py`, {r['wall_s']} s):",
            "",
            *rows,
            "",
            f"Errors shown: {r['errors']}. Clicks: {r['clicks']}; ratings lost "
            f"{r['ratings_lost']}, misattributed {r['ratings_misattributed']}. "
            f"Server peak RSS {r['server_rss_peak_mib']} MiB (goal < "
            f"{RSS_GOAL_MIB}), mean CPU {r['server_cpu_cores_mean']} cores (the "
            f"load generators beside it: browsers {r['browsers_cpu_cores_mean']}, "
            f"protocol clients {r['wire_clients_cpu_cores_mean']} cores). "
            f"Fine-tune runs: {r['finetune_runs']} {r['finetune_states']}, longest "
            f"queue wait {r['finetune_queue_wait_s_max']} s, slowest submit-to-finish "
            f"{r['finetune_done_within_s_max']} s (goal < {RUN_GOAL_S}).",
        ]
    )


if __name__ == "__main__":
    main()
