"""Rate by click and by key in a real browser; reload; the ratings are still there."""

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]
expect.set_options(timeout=60_000)


def _count(page):
    return page.get_by_test_id("stMetricValue").first


def test_rate_by_click_and_key_then_reload(server, page):
    page.goto(f"{server}/anomaly_rater?rater=eve")
    expect(page.get_by_role("heading", name="Anomaly rater")).to_be_visible()
    expect(_count(page)).to_have_text("0")
    page.locator(".st-key-rater-rate_0_5 button").click()
    expect(_count(page)).to_have_text("1")
    # keys work once the shortcuts' iframe has registered them on the page
    page.wait_for_function(
        "() => (window.__streamlitShortcutsMap || {})['rater-quick_3'] !== undefined"
    )
    page.locator("body").press("3")
    expect(_count(page)).to_have_text("2")
    page.locator("body").press("u")
    expect(_count(page)).to_have_text("1")
    page.reload()
    expect(page.get_by_role("heading", name="Anomaly rater")).to_be_visible()
    expect(_count(page)).to_have_text("1")
    expect(
        page.get_by_label("Your name (your ratings are kept under it)")
    ).to_have_value("eve")
