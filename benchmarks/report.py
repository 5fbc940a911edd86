"""Record benchmark figures: JSON per topic, and a table in benchmarks/README.md."""

from __future__ import annotations

import json
import platform
import re
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent


def machine() -> dict[str, str]:
    import os

    return {
        "cpu": platform.processor() or platform.machine(),
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def record(topic: str, results: dict, table: str) -> None:
    """Write ``results/<topic>.json`` and replace the topic's table in README.md."""
    (HERE / "results").mkdir(exist_ok=True)
    path = HERE / "results" / f"{topic}.json"
    path.write_text(json.dumps(results | {"machine": machine()}, indent=2) + "\n")
    readme = HERE / "README.md"
    text = readme.read_text() if readme.exists() else "# Benchmarks\n"
    start, end = f"<!-- {topic}:start -->", f"<!-- {topic}:end -->"
    block = f"{start}\n{table.strip()}\n{end}"
    if start in text:
        text = re.sub(f"{re.escape(start)}.*?{re.escape(end)}", block, text, flags=re.S)
    else:
        text = text.rstrip() + f"\n\n## {topic}\n{block}\n"
    readme.write_text(text)
    print(table)


def save_png(fig, path: Path, width: int = 1000, height: int = 420) -> None:
    """A Plotly figure as PNG, drawn by Debian's chromium (no kaleido needed).

    Plotly's JavaScript is inlined, so nothing is fetched."""
    from playwright.sync_api import sync_playwright

    from tests.browser.harness import launch_chromium

    html = path.with_suffix(".html")
    fig.update_layout(width=width, height=height)
    fig.write_html(html, include_plotlyjs=True, full_html=True)
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(viewport={"width": width, "height": height})
        page.goto(html.resolve().as_uri())
        page.locator(".js-plotly-plot").wait_for()
        page.screenshot(path=str(path))
        browser.close()
    html.unlink()


def synthetic_survey(n: int, seed: int = 42):
    """The demo sky (or another seed) rendered once into a cache folder
    (``MORPH_BENCH_CACHE``, default /tmp/morph-bench) shared by the benchmarks."""
    import os

    import pandas as pd

    from morph_core.data.synthetic import SurveySpec, make_survey

    folder = Path(os.environ.get("MORPH_BENCH_CACHE", "/tmp/morph-bench"))
    table = folder / f"synthetic-{n}-{seed}.parquet"
    if table.exists():
        return pd.read_parquet(table)
    catalog = make_survey(SurveySpec(n, 128, seed), folder / f"synthetic-{n}-{seed}")
    catalog.to_parquet(table)
    return catalog
