"""Take the README's screenshots of the running app on the prepared demo sky.

``make screenshots`` (prepares the demo sky first); ``docs/screenshots.py
workshop`` takes only the workshop's two.
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from tests.browser import classroom_ui  # noqa: E402
from tests.browser.harness import lasso, launch_chromium, start_streamlit  # noqa: E402

OUT = ROOT / "docs" / "images"
expect.set_options(timeout=120_000)  # the demo sky's pages, on a busy machine


def main(parts: list[str]) -> None:
    process, url = start_streamlit({})
    try:
        with sync_playwright() as p:
            browser = launch_chromium(p)
            if "tools" in parts:
                _tools(browser, url)
            if "workshop" in parts:
                _workshop(browser, url)
            browser.close()
    finally:
        process.terminate()


def _tools(browser, url: str) -> None:
    """Home and the four tools."""
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.goto(url)
    expect(page.get_by_test_id("stImage")).to_have_count(12, timeout=120_000)
    page.wait_for_timeout(1500)
    page.screenshot(path=OUT / "home.png", full_page=True)

    page.set_viewport_size({"width": 1400, "height": 1900})
    page.goto(f"{url}/umap_explorer")
    page.get_by_text("Colour by").wait_for()
    page.get_by_test_id("stSelectbox").nth(1).click()
    page.get_by_role("option", name="morphology").click()
    page.wait_for_timeout(2000)
    lasso(page, 0.05, 0.3)
    expect(page.get_by_text("galaxies selected")).to_be_visible(timeout=60_000)
    page.wait_for_timeout(3000)
    page.screenshot(path=OUT / "umap_explorer.png", full_page=True)

    page.goto(f"{url}/tag_similarity")
    page.get_by_role("radio", name="Tag").check(force=True)
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("most similar galaxies")).to_be_visible(timeout=60_000)
    page.wait_for_timeout(3000)
    page.screenshot(path=OUT / "tag_similarity.png", full_page=True)

    page.goto(f"{url}/anomaly_rater?name=screenshot")
    expect(page.get_by_text("Rate these")).to_be_visible(timeout=60_000)
    for rating in (5, 0, 4):
        card = page.locator(".card:not(.busy)").first
        card.locator(f'button.rate[data-rating="{rating}"]').click()
        page.wait_for_timeout(2500)
    page.screenshot(path=OUT / "anomaly_rater.png", full_page=True)

    # a head-only label-count sweep for rings: quick, and shows every part
    page.goto(f"{url}/finetune_monitor")
    page.get_by_text("Labels from").wait_for()
    _choose(page, "Column", "ring")
    _choose(page, "Strategy", "head only")
    page.get_by_text("Label-count sweep").click()
    repeats = page.get_by_role("spinbutton", name="Repeats")
    repeats.fill("1")
    repeats.press("Enter")
    page.get_by_role("button", name="Launch sweep").click()
    expect(page.get_by_text("runs queued")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("0 queued")).to_be_visible(timeout=900_000)
    expect(page.get_by_text("0 running")).to_be_visible(timeout=900_000)
    page.wait_for_timeout(4000)
    page.screenshot(path=OUT / "finetune_monitor.png", full_page=True)


def _workshop(browser, url: str) -> None:
    """An instructor and four participants through lessons 2-4 (each in their
    own browser context): the class dashboard and a participant's lessons."""
    teacher = browser.new_page(viewport={"width": 1400, "height": 1100})
    code = classroom_ui.create(teacher, url, "Galaxy morphology workshop")
    pages = []
    for i, name in enumerate(["Ada", "Bo", "Cy", "Dee"]):
        page = browser.new_context(viewport={"width": 1300, "height": 1000}).new_page()
        page.set_default_timeout(120_000)
        classroom_ui.join(page, url, code, name)
        classroom_ui.lesson_2(page, 3 + i, tag="#ring")
        classroom_ui.lesson_3(page, 10)
        page.goto(page.url.replace("/anomaly_rater", "/workshop"))
        for n in (10, 50):
            page.get_by_role("button", name=f"Train with {n} labels per class").click()
            expect(page.get_by_text(re.compile(r"^Run .* queued"))).to_be_visible()
        pages.append(page)
    expect(classroom_ui.metric(teacher, "Participants")).to_have_text("4")
    page = pages[0]
    page.goto(page.url)  # the scores, once the runs finished
    expect(page.get_by_text("10 labels: AUC")).to_be_visible(timeout=300_000)
    page.set_viewport_size({"width": 1300, "height": 3300})  # every lesson
    page.wait_for_timeout(3000)
    page.screenshot(path=OUT / "workshop_lessons.png", full_page=True)
    teacher.set_viewport_size({"width": 1400, "height": 3200})
    teacher.wait_for_timeout(6000)  # a redraw with every result
    teacher.screenshot(path=OUT / "class_dashboard.png", full_page=True)


def _choose(page, label: str, option: str) -> None:
    page.get_by_label(label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()
    page.wait_for_timeout(1000)


if __name__ == "__main__":
    main(sys.argv[1:] or ["tools", "workshop"])
