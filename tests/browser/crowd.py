"""Many visitors at once, each in their own browser context of one chromium
(Playwright's async API): the concurrent-raters test and the load benchmark.

Every click is recorded as the visitor saw it (the galaxy on the card clicked,
the rating), so that the rating store can be checked galaxy by galaxy.
"""

from __future__ import annotations

import asyncio
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlparse

from tests.browser.harness import CHROMIUM, CHROMIUM_ARGS

DESK_CARD = ".card:not(.busy)"


@dataclass
class Visit:
    """What one visitor did and saw."""

    key: str = ""
    clicks: list[tuple[str, int]] = field(default_factory=list)  # (galaxy, rating)
    timings: dict[str, list[float]] = field(default_factory=dict)  # action -> s
    errors: list[str] = field(default_factory=list)

    def timed(self, action: str, seconds: float) -> None:
        self.timings.setdefault(action, []).append(seconds)


async def launch(playwright):
    """Debian's chromium, as the synchronous tests launch it."""
    return await playwright.chromium.launch(
        executable_path=CHROMIUM, args=CHROMIUM_ARGS
    )


async def new_visitor(browser, visit: Visit):
    """A fresh context (cookies, storage: a stranger) and page; page errors and
    Streamlit exceptions are counted in ``visit.errors``."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    page.set_default_timeout(120_000)
    page.on("pageerror", lambda error: visit.errors.append(f"page: {error}"))
    return context, page


async def settle(page) -> None:
    """Wait until the app's script run has finished (no running indicator)."""
    await page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
        timeout=120_000,
    )


async def exceptions(page, visit: Visit) -> None:
    """Count the Streamlit exceptions and error boxes the page shows."""
    for box in await page.locator('[data-testid="stException"]').all():
        visit.errors.append(f"exception: {(await box.inner_text())[:200]}")


async def open_rater(page, url: str, visit: Visit, query: str = "") -> None:
    """Open the anomaly rater and note the visitor key the server gave."""
    start = time.perf_counter()
    await page.goto(f"{url}/anomaly_rater{query}")
    await page.locator(DESK_CARD).first.wait_for()
    visit.timed("open_rater", time.perf_counter() - start)
    visit.key = parse_qs(urlparse(page.url).query)["visitor"][0]


async def rate(
    page, visit: Visit, n_clicks: int, rng: random.Random, pause_s: float = 0.3
) -> None:
    """Click ``n_clicks`` ratings, each on the first card not yet saving, with a
    random pause of up to ``pause_s`` between clicks (not waiting for the
    server); each click's time until its card left the desk is recorded."""
    pending = []
    for _ in range(n_clicks):
        card = page.locator(DESK_CARD).first
        await card.wait_for()
        galaxy = await card.get_attribute("data-galaxy-id")
        rating = rng.randrange(6)
        start = time.perf_counter()
        await card.locator(f'button.rate[data-rating="{rating}"]').click()
        visit.clicks.append((galaxy, rating))
        pending.append(asyncio.create_task(_gone(page, galaxy, start, visit)))
        await asyncio.sleep(rng.uniform(0, pause_s))
    await asyncio.gather(*pending)
    await settle(page)


async def _gone(page, galaxy: str, start: float, visit: Visit) -> None:
    await page.locator(f'.card[data-galaxy-id="{galaxy}"]').wait_for(
        state="detached", timeout=120_000
    )
    visit.timed("rate", time.perf_counter() - start)


def assert_every_click_counted(store, visits: list[Visit], n_clicks: int) -> None:
    """Each visitor a rater of their own, without errors; every click stored
    once, on the galaxy it was made on (clicks made = events stored)."""
    assert len({v.key for v in visits}) == len(visits)
    for visit in visits:
        assert not visit.errors
        stored = store.ratings(visit.key)
        assert sorted(
            zip(stored["galaxy_id"], stored["rating"], strict=True)
        ) == sorted(visit.clicks)
        assert len(store.events(visit.key)) == n_clicks


def crowd(n: int, visitor, launch_gap_s: float = 0.2) -> list[Visit]:
    """Run ``visitor(browser, visit, index)`` for ``n`` visitors at once (their
    starts ``launch_gap_s`` apart) in a thread of its own (a synchronous
    Playwright may own this one's event loop); returns their visits."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, _crowd(n, visitor, launch_gap_s)).result()


async def _crowd(n: int, visitor, launch_gap_s: float) -> list[Visit]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await launch(playwright)
        visits = [Visit() for _ in range(n)]

        async def one(i: int) -> None:
            await asyncio.sleep(i * launch_gap_s)
            try:
                await visitor(browser, visits[i], i)
            except Exception as error:  # noqa: BLE001 - a failed visit is a result
                visits[i].errors.append(f"visit: {type(error).__name__}: {error}")

        await asyncio.gather(*(one(i) for i in range(n)))
        await browser.close()
    return visits
