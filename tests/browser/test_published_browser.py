"""The four tools on a representation-only dataset, in chromium: a published
features table whose cutouts come from a (local) cutout service, two of them
failing."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from morph_core.dataset import open_dataset
from tests.browser.conftest import serve_copy
from tests.browser.harness import lasso, start_head_run
from tests.conftest import FAILING_CUTOUTS

pytestmark = [pytest.mark.browser, pytest.mark.slow]
expect.set_options(timeout=60_000)
RUN_TIMEOUT = 180_000


@pytest.fixture(scope="module")
def published_server(published_root: Path, prepared_root: Path, tmp_path_factory):
    folder = tmp_path_factory.mktemp("published-browser")
    with serve_copy(
        published_root,
        prepared_root.parent / "manifest.yaml",
        folder,
        MORPH_CUTOUT_CACHE=str(folder / "cutouts"),
    ) as served:
        yield served.url, served.root


def _tool(page, title: str) -> None:
    page.get_by_test_id("stSidebarNavItems").get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=title)).to_be_visible()


def test_the_four_tools_on_a_table_of_features(published_server, page):
    url, root = published_server
    page.goto(url)
    expect(page.get_by_test_id("stImageCaption")).to_have_count(12)  # settled
    page.get_by_test_id("stSelectbox").first.click()
    page.get_by_role("option", name="published", exact=True).click()
    expect(page.get_by_text("Features from a published table")).to_be_visible()

    _tool(page, "UMAP explorer")
    lasso(page)
    expect(page.get_by_text("48 galaxies selected")).to_be_visible()
    missing = page.get_by_text("cutout not available now")
    expect(page.get_by_test_id("stImage")).to_have_count(24 - missing.count())
    assert missing.count() <= FAILING_CUTOUTS

    page.get_by_role("button", name="Open in tag similarity").click()
    expect(page.get_by_role("heading", name="Tag similarity")).to_be_visible()
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("7 most similar galaxies")).to_be_visible()

    _tool(page, "Anomaly rater")
    cards = page.locator(".card")
    expect(cards).to_have_count(10)
    first = cards.first.get_attribute("data-galaxy-id")
    count = page.get_by_test_id("stMetric").filter(has_text="Your ratings")
    expect(count.get_by_test_id("stMetricValue")).to_have_text("0")
    cards.first.locator('button.rate[data-rating="4"]').click()
    expect(count.get_by_test_id("stMetricValue")).to_have_text("1")
    key = page.url.split("visitor=")[1].split("&")[0]
    ratings = open_dataset("published", root).rating_store().ratings(key)
    assert ratings.values[:, :2].tolist() == [[first, 4]]

    _tool(page, "Fine-tune monitor")
    expect(page.get_by_text("table of features without images")).to_be_visible()
    start_head_run(page)
    expect(page.get_by_text("queued.")).to_be_visible()
    expect(page.get_by_text("1 finished", exact=False)).to_be_visible(
        timeout=RUN_TIMEOUT
    )
