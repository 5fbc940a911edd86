"""A real Streamlit server on a local port, and Debian's chromium via Playwright."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.browser.harness import chromium_available, launch_chromium, start_streamlit


@dataclass
class Served:
    """A running dashboard: its URL and its workspace root."""

    url: str
    root: Path


@contextmanager
def serve_copy(
    workspace: Path, manifest: Path, folder: Path, **env: str
) -> Iterator[Served]:
    """The dashboard on a copy of ``workspace`` (in ``folder``) with ``manifest``."""
    root = folder / "workspace"
    shutil.copytree(workspace, root)
    process, url = start_streamlit(
        {"MORPH_WORKSPACE": str(root), "MORPH_MANIFEST": str(manifest), **env}
    )
    try:
        yield Served(url, root)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _manifest(prepared_root: Path) -> Path:
    return prepared_root.parent / "manifest.yaml"


@pytest.fixture(scope="module")
def served(prepared_root: Path, tmp_path_factory) -> Iterator[Served]:
    """The dashboard (local mode) on 127.0.0.1 with a private copy of the tiny sky."""
    with serve_copy(
        prepared_root, _manifest(prepared_root), tmp_path_factory.mktemp("browser")
    ) as server:
        yield server


@pytest.fixture(scope="module")
def server(served: Served) -> str:
    return served.url


@pytest.fixture(scope="module")
def public_served(prepared_root: Path, tmp_path_factory) -> Iterator[Served]:
    """The dashboard as a public demo (MORPH_MODE=public), its own tiny sky;
    runs are queued, not trained (what the tests check is who sees them)."""
    folder = tmp_path_factory.mktemp("public")
    with serve_copy(
        prepared_root,
        _manifest(prepared_root),
        folder,
        MORPH_MODE="public",
        MORPH_RUN_WORKERS="0",
    ) as server:
        yield server


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
