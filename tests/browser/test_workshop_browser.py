"""A workshop in real browsers: an instructor and five participants (each their
own browser context) go through lessons 2 and 3; the dashboard follows them."""

import pytest
from playwright.sync_api import expect

from morph_core.dataset import open_dataset
from morph_core.store.workshops import WorkshopStore
from tests.browser import classroom_ui

pytestmark = [pytest.mark.browser, pytest.mark.slow]
expect.set_options(timeout=60_000)
N_PARTICIPANTS = 5
N_RATINGS = 4


def _context(browser, width: int = 1300, height: int = 1000):
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(60_000)
    return context


def test_an_instructor_follows_five_participants_through_lessons_2_and_3(
    served, browser
):
    teacher = _context(browser)
    dashboard = teacher.new_page()
    code = classroom_ui.create(dashboard, served.url)
    people = []
    for i in range(N_PARTICIPANTS):
        # the last one on a phone-sized screen
        context = _context(browser, 390, 844) if i == N_PARTICIPANTS - 1 else None
        context = context or _context(browser)
        page = context.new_page()
        classroom_ui.join(page, served.url, code, f"P{i}")
        people.append((context, page))
    expect(classroom_ui.metric(dashboard, "Participants")).to_have_text(
        str(N_PARTICIPANTS)
    )

    for i, (_, page) in enumerate(people):
        classroom_ui.lesson_2(page, 1 + i % 3)
        classroom_ui.lesson_3(page, N_RATINGS)

    expect(
        classroom_ui.metric(dashboard, "Similar galaxies from one tag")
    ).to_have_text(f"{N_PARTICIPANTS} done", timeout=30_000)
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
