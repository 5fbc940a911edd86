"""Click through the explorer and the similarity page in a real browser."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.browser.harness import lasso

pytestmark = [pytest.mark.browser, pytest.mark.slow]
expect.set_options(timeout=60_000)


def test_explorer_lasso_grid_csv_then_similar(server, page):
    page.goto(f"{server}/umap_explorer")
    expect(page.get_by_role("heading", name="UMAP explorer")).to_be_visible()
    lasso(page)
    expect(page.get_by_text("48 galaxies selected")).to_be_visible()
    expect(page.get_by_test_id("stImage")).to_have_count(24)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the selection (CSV)").click()
    table = pd.read_csv(download.value.path())
    assert len(table) == 48 and table["galaxy_id"].is_unique
    page.get_by_role("button", name="Open in tag similarity").click()
    expect(page.get_by_role("heading", name="Tag similarity")).to_be_visible()
    expect(page.get_by_text("Galaxy chosen in the explorer")).to_be_visible()
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("7 most similar galaxies")).to_be_visible()
    expect(page.get_by_test_id("stImage")).to_have_count(8)


def test_tag_query_reads_out_tagged_neighbours(server, page):
    page.goto(f"{server}/tag_similarity")
    expect(page.get_by_role("heading", name="Tag similarity")).to_be_visible()
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("Neighbours carrying the tag")).to_be_visible()
    expect(page.get_by_text("Query: the galaxy tagged")).to_be_visible()
    expect(page.get_by_role("button", name="Download (CSV)")).to_be_visible()


def test_uploaded_image_query_and_a_bad_upload(server, page, tmp_path):
    good = tmp_path / "galaxy.png"
    Image.fromarray(
        np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    ).save(good)
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG not really")
    page.goto(f"{server}/tag_similarity")
    page.get_by_text("Upload an image").click()
    page.locator("input[type=file]").set_input_files(bad)  # searched at once:
    expect(page.get_by_text("not an image: broken.png")).to_be_visible()  # no click
    page.get_by_role("button", name="Remove broken.png").click()
    page.locator("input[type=file]").set_input_files(good)
    expect(page.get_by_text("Query: the uploaded image.")).to_be_visible()
    expect(page.get_by_test_id("stImage")).to_have_count(7)
    page.get_by_role("button", name="Search").click()  # and again on request
    expect(page.get_by_text("Query: the uploaded image.")).to_be_visible()
    expect(page.get_by_test_id("stImage")).to_have_count(7)
