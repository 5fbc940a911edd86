"""Start a fine-tuning run from the monitor in a real browser and watch it finish."""

import pytest
from playwright.sync_api import expect

from tests.browser.harness import start_head_run

pytestmark = [pytest.mark.browser, pytest.mark.slow]
expect.set_options(timeout=60_000)
RUN_TIMEOUT = 300_000  # a staged run on two busy cores; set per call (the
# module-level expect options are shared with the other browser tests)


def test_start_a_run_and_watch_it_live(server, page):
    page.goto(f"{server}/finetune_monitor")
    expect(page.get_by_role("heading", name="Fine-tune monitor")).to_be_visible()
    expect(page.get_by_text("No runs yet")).to_be_visible()
    start_head_run(page)
    expect(page.get_by_text("queued.")).to_be_visible()
    # the page polls: the run appears, trains, and its curves are drawn live
    expect(page.get_by_text("1 finished", exact=False)).to_be_visible(
        timeout=RUN_TIMEOUT
    )
    expect(page.locator(".js-plotly-plot").first).to_be_visible()
    page.get_by_role("button", name="Apply to the whole dataset").click()
    expect(page.get_by_text("Added column pred_")).to_be_visible(timeout=RUN_TIMEOUT)


def test_learn_the_vote_counts_and_apply_a_column_per_answer(server, page):
    page.goto(f"{server}/finetune_monitor")
    expect(page.get_by_role("heading", name="Fine-tune monitor")).to_be_visible()
    page.get_by_text("the vote counts (decision tree)").click()
    labelled = page.get_by_role("spinbutton", name="Labelled galaxies")
    labelled.fill("20")
    labelled.press("Enter")
    page.get_by_label("Strategy", exact=True).click()
    page.get_by_role("option", name="head only").click()
    page.get_by_role("button", name="Start run").click()
    expect(page.get_by_text("queued.")).to_be_visible()
    # the newest run is shown when none is selected: its per-question errors
    expect(page.get_by_text("Test vote-fraction error per question")).to_be_visible(
        timeout=RUN_TIMEOUT
    )
    # the run to act on (the page keeps this visitor's earlier choice)
    page.get_by_label("Run", exact=True).click()
    page.keyboard.type("votes on every question")
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Apply to the whole dataset").click()
    expect(page.get_by_text("Added 38 columns")).to_be_visible(timeout=RUN_TIMEOUT)
