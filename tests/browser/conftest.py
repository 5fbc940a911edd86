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
    """A running dashboard: its URL, its workspace root, its log and process id."""

    url: str
    root: Path
    log: Path
    pid: int


@contextmanager
def serve_copy(
    workspace: Path, manifest: Path, folder: Path, **env: str
) -> Iterator[Served]:
    """The dashboard on a copy of ``workspace`` (in ``folder``) with ``manifest``."""
    root, log = folder / "workspace", folder / "server.log"
    shutil.copytree(workspace, root)
    process, url = start_streamlit(
        {"MORPH_WORKSPACE": str(root), "MORPH_MANIFEST": str(manifest), **env},
        log=log,
    )
    try:
        yield Served(url, root, log, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed browser test shows what CI cannot otherwise: the end of its
    server's log and the text its page showed."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    for value in item.funcargs.values():
        if isinstance(value, Served):
            tail = value.log.read_text(errors="replace").splitlines()[-40:]
            report.sections.append(("server log, last 40 lines", "\n".join(tail)))
    page = item.funcargs.get("page")
    if page is not None:
        try:
            shown = page.locator("body").inner_text(timeout=5000)
            shown += "".join(  # the rater's desk draws in its own (shadow) tree
                f"\n[desk] {text}" for text in page.locator(".desk").all_inner_texts()
            )
        except Exception as e:  # noqa: BLE001 - a closed page: say so, keep the failure
            shown = f"(the page could not be read: {e})"
        report.sections.append((f"page text at {page.url}", shown[-3000:]))


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
