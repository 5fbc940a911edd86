import pytest
from playwright.sync_api import expect

expect.set_options(timeout=60_000)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_home_shows_the_sky_and_shuffles(server, page):
    page.goto(server)
    expect(page.get_by_role("heading", name="Galaxy morphology tools")).to_be_visible()
    expect(page.get_by_text("Galaxies", exact=True)).to_be_visible()
    captions = page.get_by_test_id("stImageCaption")
    expect(captions).to_have_count(12)
    before = captions.all_inner_texts()
    page.get_by_role("button", name="Shuffle").click()  # the next fixed seed
    expect(captions).not_to_have_text(before)
    expect(captions).to_have_count(12)


def test_switching_to_an_unprepared_dataset_offers_prepare(server, page):
    page.goto(server)
    page.get_by_test_id("stSelectbox").click()
    page.get_by_role("option", name="decals_rings (not prepared)").click()
    expect(page.get_by_text("decals_rings is not prepared yet")).to_be_visible()
    expect(page.get_by_role("button", name="Prepare", exact=True)).to_be_visible()
