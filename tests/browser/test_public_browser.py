"""Two strangers on a public demo, each in their own browser context: neither
sees nor acts on the other's ratings and runs; a visitor's link resumes their
own; refused actions say why."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from morph_core import access
from morph_core.app import routing
from morph_core.dataset import open_dataset
from morph_core.runs import queue
from tests.browser.harness import start_head_run

pytestmark = [pytest.mark.browser, pytest.mark.slow]
expect.set_options(timeout=60_000)
COLUMN = "smooth-or-featured_smooth_fraction"


def _visitor(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    return context, page


def _key(page) -> str:
    return page.url.split("visitor=")[1].split("&")[0]


def _rate_two(page, url):
    page.goto(f"{url}/anomaly_rater")
    for expected in ("1", "2"):
        page.locator(".card:not(.busy)").first.locator(
            'button[data-rating="5"]'
        ).click()
        expect(page.get_by_test_id("stMetricValue").first).to_have_text(expected)


def _start_run(page, url):
    page.goto(f"{url}/finetune_monitor?visitor={_key(page)}")
    start_head_run(page, COLUMN)


def test_strangers_neither_see_nor_act_on_each_other(public_served, browser):
    url = public_served.url
    ann_context, ann = _visitor(browser)
    _rate_two(ann, url)
    _start_run(ann, url)
    expect(ann.get_by_text("queued.")).to_be_visible()
    ann_key = _key(ann)
    ds = open_dataset("synthetic", public_served.root)
    [run_id] = queue.list_runs(ds)["run_id"]

    bob_context, bob = _visitor(browser)
    bob.goto(f"{url}/anomaly_rater")
    expect(bob.locator(".card")).to_have_count(10)
    assert _key(bob) != ann_key and access.is_key(_key(bob))
    expect(bob.get_by_test_id("stMetricValue").first).to_have_text("0")
    bob.goto(f"{url}/finetune_monitor?visitor={_key(bob)}")
    expect(bob.get_by_text("No runs yet")).to_be_visible()
    expect(bob.get_by_text(run_id)).to_have_count(0)
    # nothing of the server's is offered to a stranger
    expect(bob.get_by_text("Or start from a weights file")).to_have_count(0)
    bob.goto(f"{url}/?visitor={_key(bob)}")
    expect(bob.get_by_role("heading", name="Galaxy morphology tools")).to_be_visible()
    expect(bob.get_by_text("Use your own images")).to_have_count(0)
    expect(bob.get_by_text(str(public_served.root))).to_have_count(0)

    # Ann comes back later, in a new browser, with her link
    ann_context.close()
    back_context, back = _visitor(browser)
    back.goto(f"{url}/anomaly_rater?visitor={ann_key}")
    expect(back.get_by_test_id("stMetricValue").first).to_have_text("2")
    back.goto(f"{url}/finetune_monitor?visitor={ann_key}")
    expect(back.get_by_text(run_id).first).to_be_attached()  # a grid cell
    back_context.close()
    bob_context.close()
    store = ds.rating_store()
    assert len(store.ratings(ann_key)) == 2 and store.ratings(_key(bob)).empty


def test_a_refused_action_says_why(public_served, browser):
    context, page = _visitor(browser)
    page.goto(f"{public_served.url}/anomaly_rater")
    expect(page.locator(".card")).to_have_count(10)
    limit = access.PUBLIC_LIMITS.runs_per_visitor
    for _ in range(limit):
        _start_run(page, public_served.url)
        expect(page.get_by_text("queued.")).to_be_visible()
    _start_run(page, public_served.url)
    expect(page.get_by_text(f"at most {limit} at once")).to_be_visible()
    context.close()


PAGES = {  # url path -> its title: Home and every page of the navigation
    "": "Galaxy morphology tools",
    **{
        Path(path).stem: title
        for path, (title, _) in {**routing.TOOLS, **routing.WORKSHOP_PAGES}.items()
    },
}


def test_no_page_fetches_from_another_server(public_served, browser):
    """Visitors' browsers ask nothing of third parties (no address of theirs
    handed to a font or icon host), and a closed network shows every page whole."""
    context, page = _visitor(browser)
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    for path, title in PAGES.items():
        page.goto(f"{public_served.url}/{path}")
        expect(page.get_by_role("heading", name=title).first).to_be_visible()
        page.wait_for_timeout(1000)  # the favicon and images are fetched after
    elsewhere = [
        url
        for url in requested
        if not url.startswith((public_served.url + "/", "data:", "blob:"))
    ]
    assert len(requested) > 20 and not elsewhere
    context.close()
