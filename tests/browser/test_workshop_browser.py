"""A workshop in real browsers: an instructor and five participants (each their
own browser context) go through lessons 2 and 3; the dashboard follows them."""

import re

import pytest
from playwright.sync_api import expect

from morph_core.dataset import open_dataset
from morph_core.store.workshops import WorkshopStore

pytestmark = [pytest.mark.browser, pytest.mark.slow]
expect.set_options(timeout=60_000)
N_PARTICIPANTS = 5
N_RATINGS = 4


def _context(browser, width: int = 1300, height: int = 1000):
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(60_000)
    return context


def _metric(page, label: str):
    return (
        page.get_by_test_id("stMetric")
        .filter(has_text=label)
        .get_by_test_id("stMetricValue")
    )


def _create(page, url: str) -> str:
    page.goto(f"{url}/class_dashboard")
    expect(page.get_by_role("heading", name="Class dashboard")).to_be_visible()
    page.get_by_label("Title").fill("Rings and lenses")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_text("instructor key")).to_be_visible()
    code = _metric(page, "Join code").inner_text()
    expect(page.get_by_test_id("stImage").first).to_be_visible()  # the QR code
    expect(page.get_by_text("Scan to join")).to_be_visible()
    return code


def _join(page, url: str, code: str, name: str) -> None:
    page.goto(f"{url}/workshop?code={code}")
    page.get_by_label("Your display name").fill(name)
    page.get_by_role("button", name="Join").click()
    expect(page.get_by_text(f"You are {name}")).to_be_visible()


def _lesson_2(page, url: str, n_picks: int) -> None:
    page.goto(page.url.replace("/workshop", "/tag_similarity"))
    expect(page.get_by_text("Workshop · 2.")).to_be_visible()
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("7 most similar galaxies")).to_be_visible()
    picks = page.get_by_test_id("stMultiSelect").filter(has_text="Your picks")
    for k in range(1, n_picks + 1):  # the results numbered k (not "select all")
        option = page.get_by_role("option", name=re.compile(rf"^{k}\. "))
        if not option.count():  # the list is closed: open it from the keyboard
            field = picks.locator("input").first
            field.click()
            field.press("ArrowDown")
        option.click()
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Send my picks to the workshop").click()
    expect(page.get_by_text(f"among your {n_picks} picks")).to_be_visible()


def _lesson_3(page, n_ratings: int) -> None:
    page.goto(page.url.replace("/tag_similarity", "/anomaly_rater"))
    expect(page.get_by_text("Workshop · 3.")).to_be_visible()
    count = _metric(page, "Your ratings")
    for i in range(n_ratings):
        card = page.locator(".card:not(.busy)").first
        card.locator(f'button.rate[data-rating="{5 if i % 2 else 1}"]').click()
        expect(count).to_have_text(str(i + 1))


def test_an_instructor_follows_five_participants_through_lessons_2_and_3(
    served, browser
):
    teacher = _context(browser)
    dashboard = teacher.new_page()
    code = _create(dashboard, served.url)
    people = []
    for i in range(N_PARTICIPANTS):
        # the last one on a phone-sized screen
        context = _context(browser, 390, 844) if i == N_PARTICIPANTS - 1 else None
        context = context or _context(browser)
        page = context.new_page()
        _join(page, served.url, code, f"P{i}")
        people.append((context, page))
    expect(_metric(dashboard, "Participants")).to_have_text(str(N_PARTICIPANTS))

    for i, (_, page) in enumerate(people):
        _lesson_2(page, served.url, 1 + i % 3)
        _lesson_3(page, N_RATINGS)

    expect(_metric(dashboard, "Similar galaxies from one tag")).to_have_text(
        f"{N_PARTICIPANTS} done", timeout=30_000
    )
    progress = dashboard.get_by_test_id("stDataFrame").first
    expect(progress).to_contain_text("P4")
    store = WorkshopStore(served.root / "workshops.sqlite")
    workshop = store.by_code(code)
    answers = store.answers(workshop.workshop_id)
    assert sorted(answers["lesson"]) == ["similarity"] * N_PARTICIPANTS
    assert [s["n_picked"] for s in answers["score"]] == [1, 2, 3, 1, 2]
    ratings = open_dataset("synthetic", served.root).rating_store()
    people_keys = store.participants(workshop.workshop_id)["visitor"]
    assert [ratings.count(key) for key in people_keys] == [N_RATINGS] * N_PARTICIPANTS

    # a participant reads their score and the class's figure on the lesson page
    _, phone = people[-1]
    phone.goto(phone.url.replace("/anomaly_rater", "/workshop"))  # ?visitor= kept
    expect(phone.get_by_text(f"in {N_RATINGS} ratings")).to_be_visible()
    scroll_width = phone.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= 390 + 1  # no sideways scrolling on a phone
    for context, _ in people:
        context.close()
    teacher.close()
