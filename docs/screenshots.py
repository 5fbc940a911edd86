"""Take the README's screenshots of the running app on the prepared demo sky.

Run after ``make prepare``:  ``.venv/bin/python docs/screenshots.py``
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from tests.browser.harness import launch_chromium, start_streamlit  # noqa: E402

OUT = ROOT / "docs" / "images"


def main() -> None:
    process, url = start_streamlit({})
    try:
        with sync_playwright() as p:
            browser = launch_chromium(p)
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.goto(url)
            expect(page.get_by_test_id("stImage")).to_have_count(12, timeout=120_000)
            page.wait_for_timeout(1500)
            page.screenshot(path=OUT / "home.png", full_page=True)
            browser.close()
    finally:
        process.terminate()


if __name__ == "__main__":
    main()
