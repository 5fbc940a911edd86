"""A real Streamlit server on a local port, and Debian's chromium via Playwright."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.harness import chromium_available, launch_chromium, start_streamlit


@pytest.fixture(scope="module")
def server(
    prepared_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """``streamlit run Home.py`` on 127.0.0.1 with a private copy of the tiny sky."""
    root = tmp_path_factory.mktemp("browser") / "workspace"
    shutil.copytree(prepared_root, root)
    process, url = start_streamlit(
        {
            "MORPH_WORKSPACE": str(root),
            "MORPH_MANIFEST": str(prepared_root.parent / "manifest.yaml"),
        }
    )
    yield url
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def browser():
    if not chromium_available():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(p)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()
