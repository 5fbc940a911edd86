"""The rater in a real browser: clicks and keys, reloads, double clicks, a lost
message (sent again, or kept over a reload), two tabs of one rater, and ten
raters at once, every click checked against the store."""

import random
import time

import pandas as pd
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect
from streamlit.proto.BackMsg_pb2 import BackMsg

from morph_core.dataset import open_dataset
from tests.browser import crowd

pytestmark = [pytest.mark.browser, pytest.mark.slow]
expect.set_options(timeout=60_000)


def _count(page):
    return page.get_by_test_id("stMetricValue").first


def _cards(page):
    return page.locator(".card")


def _button(page, index: int, rating: int):
    return _cards(page).nth(index).locator(f'button.rate[data-rating="{rating}"]')


def _name(page):
    return page.get_by_role("textbox", name="Your name")


def _store(served):
    return open_dataset("synthetic", served.root).rating_store()


def test_rate_by_click_and_key_then_reload(served, page):
    page.goto(f"{served.url}/anomaly_rater")
    expect(page.get_by_role("heading", name="Anomaly rater")).to_be_visible()
    expect(_count(page)).to_have_text("0")
    _name(page).fill("eve")
    _name(page).press("Enter")
    expect(_cards(page)).to_have_count(10)  # the desk drawn (it draws after the text)
    first, second = [c.get_attribute("data-galaxy-id") for c in _cards(page).all()][:2]
    _button(page, 0, 5).click()
    expect(_count(page)).to_have_text("1")  # the render drops the rated card
    page.locator("body").press("3")  # the frame moved on to the next galaxy
    expect(_count(page)).to_have_text("2")
    key = page.url.split("visitor=")[1].split("&")[0]
    assert _store(served).ratings(key).values[:, :2].tolist() == [
        [first, 5],
        [second, 3],
    ]
    page.locator("body").press("u")
    expect(_count(page)).to_have_text("1")
    assert _store(served).ratings(key)["galaxy_id"].tolist() == [first]
    page.reload()
    expect(page.get_by_role("heading", name="Anomaly rater")).to_be_visible()
    expect(_count(page)).to_have_text("1")
    expect(_name(page)).to_have_value("eve")


def test_a_rapid_double_click_rates_once(served, page):
    page.goto(f"{served.url}/anomaly_rater")
    expect(_cards(page)).to_have_count(10)
    first, second = [c.get_attribute("data-galaxy-id") for c in _cards(page).all()][:2]
    on = page.locator(f'.card[data-galaxy-id="{first}"]')
    on.locator('button.rate[data-rating="3"]').dblclick()  # two clicks, ~no gap
    expect(_count(page)).to_have_text("1")
    on = page.locator(f'.card[data-galaxy-id="{second}"]')
    on.locator('button.rate[data-rating="3"]').click()
    time.sleep(0.3)
    try:  # the same card again: gone from the desk, or saving and inert
        on.locator('button.rate[data-rating="4"]').click(force=True, timeout=2000)
    except PlaywrightTimeout:
        pass
    expect(_count(page)).to_have_text("2")
    time.sleep(1)  # anything late would have been saved by now
    key = page.url.split("visitor=")[1].split("&")[0]
    ratings = _store(served).ratings(key)
    assert ratings.values[:, :2].tolist() == [[first, 3], [second, 3]]
    assert len(_store(served).events(key)) == 2


def test_six_ratings_by_key_faster_than_the_server_each_land_on_their_galaxy(
    served, page
):
    sent = []  # messages from the page to the server
    page.on("websocket", lambda ws: ws.on("framesent", lambda f: sent.append(f)))
    page.goto(f"{served.url}/anomaly_rater")
    expect(_cards(page)).to_have_count(10)
    expect(_count(page)).to_have_text("0")
    shown = [c.get_attribute("data-galaxy-id") for c in _cards(page).all()]
    before = len(sent)
    for _ in range(6):  # six ratings faster than the server answers one
        page.keyboard.press("4")
    expect(_count(page)).to_have_text("6")
    messages = len(sent) - before
    assert messages < 6  # those made while a run was going went together
    key = page.url.split("visitor=")[1].split("&")[0]
    ratings = _store(served).ratings(key)
    assert ratings.values[:, :2].tolist() == [[g, 4] for g in shown[:6]]


def _carries_clicks(message: str | bytes) -> bool:
    """Whether a page-to-server websocket message sends the desk's clicks."""
    if isinstance(message, str):
        return False
    back = BackMsg()
    back.ParseFromString(message)
    states = back.rerun_script.widget_states.widgets
    return any('"clicks"' in state.json_trigger_value for state in states)


def _lose_clicks(page) -> tuple[list, list]:
    """Between the page and the server: once armed (anything put in the first
    list), the next message with clicks is lost (kept in the second list)."""
    armed, lost = [], []

    def route(socket):
        server = socket.connect_to_server()

        def to_server(message):
            if armed and not lost and _carries_clicks(message):
                lost.append(message)
            else:
                server.send(message)

        socket.on_message(to_server)

    page.route_web_socket("**/_stcore/stream", route)
    return armed, lost


def test_a_click_whose_message_was_lost_is_sent_again(served, page):
    armed, lost = _lose_clicks(page)
    page.goto(f"{served.url}/anomaly_rater")
    expect(_cards(page)).to_have_count(10)
    first, second = [c.get_attribute("data-galaxy-id") for c in _cards(page).all()][:2]
    _button(page, 0, 2).click()
    expect(_count(page)).to_have_text("1")  # saved and drawn again: a new render
    armed.append(True)
    started = time.perf_counter()
    _button(page, 0, 4).click()
    expect(_cards(page).first).to_contain_text("saving")  # waits for its answer
    expect(_count(page)).to_have_text("2")  # the click went again, unasked
    assert lost and 4 < time.perf_counter() - started < 30
    key = page.url.split("visitor=")[1].split("&")[0]
    ratings = _store(served).ratings(key).values[:, :2].tolist()
    assert ratings == [[first, 2], [second, 4]]
    assert len(_store(served).events(key)) == 2


def test_a_reload_keeps_a_click_the_server_never_got(served, page):
    armed, lost = _lose_clicks(page)
    armed.append(True)
    page.goto(f"{served.url}/anomaly_rater")
    expect(_cards(page)).to_have_count(10)
    first = _cards(page).first.get_attribute("data-galaxy-id")
    _button(page, 0, 5).click()
    expect(_cards(page).first).to_contain_text("saving")
    page.reload()  # before the click would go again on its own
    expect(_count(page)).to_have_text("1")
    assert lost
    key = page.url.split("visitor=")[1].split("&")[0]
    assert _store(served).ratings(key).values[:, :2].tolist() == [[first, 5]]
    page.reload()  # nothing left to send: nothing counted twice
    expect(_count(page)).to_have_text("1")
    expect(_cards(page)).to_have_count(9)
    assert len(_store(served).events(key)) == 1


def test_two_tabs_of_one_rater_never_misplace_a_click(served, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    first = context.new_page()
    first.goto(f"{served.url}/anomaly_rater")
    expect(_cards(first)).to_have_count(10)
    second = context.new_page()
    second.goto(first.url)  # the same visitor, in another tab
    expect(_cards(second)).to_have_count(10)
    old = [c.get_attribute("data-galaxy-id") for c in _cards(second).all()]
    for _ in range(10):  # the first tab rates the whole batch
        expect(first.locator(crowd.DESK_CARD).first).to_be_visible()
        first.locator(crowd.DESK_CARD).first.locator(
            'button.rate[data-rating="1"]'
        ).click()
    expect(_count(first)).to_have_text("10")
    key = first.url.split("visitor=")[1].split("&")[0]
    before = len(_store(served).events(key))
    _button(second, 3, 5).click()  # a click on the stale tab's old batch
    expect(second.get_by_text("out-of-date page")).to_be_visible()
    events = _store(served).events(key)
    assert len(events) == before  # nothing stored, least of all on another galaxy
    assert set(_store(served).ratings(key)["galaxy_id"]) == set(old)
    expect(_count(second)).to_have_text("10")
    now = [c.get_attribute("data-galaxy-id") for c in _cards(second).all()]
    assert not set(now) & set(old)  # the stale tab now shows the current batch
    context.close()


def test_ten_raters_at_once_every_click_counted_on_its_galaxy(served):
    async def rater(browser, visit, i):
        context, page = await crowd.new_visitor(browser, visit)
        await crowd.open_rater(page, served.url, visit)
        await crowd.rate(page, visit, 15, random.Random(i), pause_s=0.4)
        await crowd.exceptions(page, visit)
        await context.close()

    visits = crowd.crowd(10, rater)
    crowd.assert_every_click_counted(_store(served), visits, 15)


def test_both_csvs_download_right_after_a_batch_is_rated(served, page):
    page.goto(f"{served.url}/anomaly_rater")
    page.locator(crowd.DESK_CARD).first.wait_for()
    for _ in range(10):  # the tenth click ends the batch: the whole page reruns
        page.locator(crowd.DESK_CARD).first.locator(
            'button.rate[data-rating="3"]'
        ).click()
        page.wait_for_timeout(150)
    for name in ("Full ranking (CSV)", "Your ratings (CSV)"):  # written on click
        with page.expect_download(timeout=30_000) as download:
            page.get_by_role("button", name=name).click()
        assert len(pd.read_csv(download.value.path())) > 0
