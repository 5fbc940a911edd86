"""A workshop's clicks in a real browser (Playwright, sync API): shared by the
browser test and the README's screenshots."""

import re

from playwright.sync_api import expect


def metric(page, label: str):
    """The value of the ``st.metric`` labelled ``label``."""
    return (
        page.get_by_test_id("stMetric")
        .filter(has_text=label)
        .get_by_test_id("stMetricValue")
    )


def create(page, url: str, title: str = "Rings and lenses") -> str:
    """Create a workshop on the Class dashboard; returns its join code."""
    page.goto(f"{url}/class_dashboard")
    expect(page.get_by_role("heading", name="Class dashboard")).to_be_visible()
    drawn = page.get_by_text("Join code").or_(page.get_by_text("No workshop yet"))
    drawn.first.wait_for()
    form = page.locator("details").filter(has_text="New workshop")
    if form.get_attribute("open") is None:  # classes exist: it is folded
        form.locator("summary").click()
    expect(page.get_by_label("Title")).to_be_editable()
    page.get_by_label("Title").fill(title)
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_text("Created. Your instructor key")).to_be_visible()
    code = metric(page, "Join code").inner_text()
    expect(page.get_by_test_id("stImage").first).to_be_visible()  # the QR code
    expect(page.get_by_text("Scan to join")).to_be_visible()
    return code


def settle(page) -> None:
    """Wait until the app's script run has finished (no running indicator)."""
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
    )


def join(page, url: str, code: str, name: str) -> None:
    """Join by the workshop's link, as ``name``."""
    page.goto(f"{url}/workshop?code={code}")
    page.get_by_label("Your display name").fill(name)
    page.get_by_role("button", name="Join").click()
    expect(page.get_by_text(f"You are {name}")).to_be_visible()


def lesson_2(page, n_picks: int, tag: str | None = None) -> None:
    """From the Workshop page: search by ``tag`` (default: the page's first),
    tick the first ``n_picks`` results, send them."""
    page.goto(page.url.replace("/workshop", "/tag_similarity"))
    expect(page.get_by_text("Workshop · 2.")).to_be_visible()
    if tag:
        page.get_by_role("combobox", name="Tag").click()
        page.get_by_role("option", name=tag, exact=True).click()
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("7 most similar galaxies")).to_be_visible()
    # the run's last element drawn, then the run over: a render closes a list
    # opened under it (typing into a closed list picks nothing)
    expect(page.get_by_role("button", name="Download (CSV)")).to_be_visible()
    settle(page)
    picks = page.get_by_test_id("stMultiSelect").filter(has_text="Your picks")
    field = picks.locator("input").first
    # picked at once, as quick hands do: the picks are a form, nothing reruns
    for k in range(1, n_picks + 1):  # the results numbered k (not "select all")
        field.click()
        field.press_sequentially(f"{k}. ")  # the list shows only a few at a time
        page.get_by_role("option", name=re.compile(rf"^{k}\. ")).click()
    page.keyboard.press("Escape")
    for k in range(1, n_picks + 1):
        expect(picks.get_by_text(re.compile(rf"^{k}\. "))).to_be_visible()
    page.get_by_role("button", name="Send my picks to the workshop").click()
    expect(page.get_by_text(f"among your {n_picks} picks")).to_be_visible()


def lesson_3(page, n_ratings: int) -> None:
    """From the similarity page: rate ``n_ratings`` galaxies (1 and 5 in turn)."""
    page.goto(page.url.replace("/tag_similarity", "/anomaly_rater"))
    expect(page.get_by_text("Workshop · 3.")).to_be_visible()
    count = metric(page, "Your ratings")
    for i in range(n_ratings):
        card = page.locator(".card:not(.busy)").first
        card.locator(f'button.rate[data-rating="{5 if i % 2 else 1}"]').click()
        expect(count).to_have_text(str(i + 1))
