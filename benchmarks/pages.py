"""First render of every page in a fresh server process, on the prepared demo sky.

Usage: ``.venv/bin/python benchmarks/pages.py [--repeats 3]`` (after
``python -m morph_core prepare``; set MORPH_WORKSPACE to use another workspace).

For each page: ``streamlit run Home.py`` starts on 127.0.0.1 (its own start-up not
counted), Debian's chromium opens the page, and the time runs until the page's
title is shown and its script run has finished; then a second visitor opens the
same page (warm caches). Whether the server process loaded torch is read from its
memory maps (``libtorch``), with its resident memory. Goal (issue 12): under 3 s
for the first render of every page that needs no model. The server is stopped
after each page.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from benchmarks.report import record  # noqa: E402
from morph_core import settings  # noqa: E402
from morph_core.dataset import open_dataset  # noqa: E402
from tests.browser.harness import launch_chromium, start_streamlit  # noqa: E402

PAGES = {  # url path -> title shown
    "": "Galaxy morphology tools",
    "umap_explorer": "UMAP explorer",
    "tag_similarity": "Tag similarity",
    "anomaly_rater": "Anomaly rater",
    "finetune_monitor": "Fine-tune monitor",
}
GOAL_S = 3.0


def _render(browser, url: str, title: str) -> float:
    """Seconds from opening ``url`` to its title shown and its script run done."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    start = time.perf_counter()
    page.goto(url)
    expect(page.get_by_role("heading", name=title)).to_be_visible(timeout=120_000)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
        timeout=120_000,
    )
    seconds = time.perf_counter() - start
    context.close()
    return seconds


def _server_state(pid: int) -> tuple[bool, float]:
    """Whether the process mapped libtorch, and its resident memory in MiB."""
    maps = Path(f"/proc/{pid}/maps").read_text()
    status = Path(f"/proc/{pid}/status").read_text()
    rss_kb = next(
        int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS")
    )
    return "libtorch" in maps, rss_kb / 1024


def measure(repeats: int) -> dict:
    env = {"MORPH_WORKSPACE": str(settings.workspace_root())}
    rows = {}
    with sync_playwright() as p:
        browser = launch_chromium(p)
        for path, title in PAGES.items():
            first, second, torch, rss = [], [], False, 0.0
            for _ in range(repeats):
                process, url = start_streamlit(env)
                try:
                    first.append(_render(browser, f"{url}/{path}", title))
                    second.append(_render(browser, f"{url}/{path}", title))
                    loaded, mib = _server_state(process.pid)
                    torch, rss = torch or loaded, max(rss, mib)
                finally:
                    process.terminate()
                    process.wait(timeout=30)
            rows[path or "home"] = {
                "first_s": round(statistics.median(first), 2),
                "first_max_s": round(max(first), 2),
                "second_s": round(statistics.median(second), 2),
                "torch_loaded": torch,
                "server_rss_mib": round(rss),
            }
            print(path or "home", rows[path or "home"], flush=True)
        browser.close()
    return rows


def table(results: dict) -> str:
    lines = [
        f"Demo sky, {results['n_galaxies']:,} galaxies; median of {results['repeats']} "
        f"fresh servers. Goal: first render < {GOAL_S:g} s where no model must load.",
        "",
        "| page | first render (s) | worst (s) | second visitor (s) | torch loaded "
        "| server RSS (MiB) |",
        "|---|---|---|---|---|---|",
    ]
    for page, row in results["pages"].items():
        lines.append(
            f"| {page} | {row['first_s']} | {row['first_max_s']} | {row['second_s']} "
            f"| {'yes' if row['torch_loaded'] else 'no'} | {row['server_rss_mib']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    summary = open_dataset("synthetic").summary()
    if summary is None:
        sys.exit("prepare the demo sky first: python -m morph_core prepare")
    results = {
        "n_galaxies": summary["n_galaxies"],
        "repeats": args.repeats,
        "pages": measure(args.repeats),
    }
    record("pages", results, table(results))


if __name__ == "__main__":
    main()
