"""The workshop pages: an instructor's dashboard, a participant's lessons, and
the lesson tasks inside the tools."""

import io
import zipfile

import pytest

from morph_core.access import Visitor, new_key
from morph_core.dataset import open_dataset
from morph_core.runs import queue
from morph_core.workshop import classroom
from tests.app.pages import open_in_app, open_page, text


def _new_class(title: str = "Rings 101"):
    """A workshop made the way the dashboard makes it, with its key."""
    workshops = classroom.store()
    teacher = Visitor(new_key(), "teacher", "admin")
    dataset = open_dataset("synthetic")
    workshop, key = classroom.create(
        workshops,
        teacher,
        title,
        dataset,
        ["explorer", "similarity", "rater", "finetune"],
    )
    return workshops, workshop, key


def test_an_instructor_creates_projects_and_manages_a_workshop(prepared_env, downloads):
    at = open_page("class_dashboard")
    at.text_input(key="class.title").input("Rings 101")
    at.number_input(key="class.minutes").set_value(0)
    at.button(key="class.create").click().run()
    assert not at.exception
    workshop = classroom.store().workshops()[0]
    assert workshop.title == "Rings 101" and workshop.ends_at is None
    assert at.metric[0].value == workshop.code
    assert any(f"workshop?code={workshop.code}" in m.value for m in at.markdown)
    assert len(at.get("image")) >= 1  # the QR code
    assert any("instructor key" in s.value for s in at.success)
    (key,) = [c.value for c in at.code]  # folded away from the projector
    assert all(key not in s.value for s in at.success)
    assert classroom.store().check_key(workshop.workshop_id, key) == workshop
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Participants"] == "0"

    at.button(key="class.pause").click().run()
    assert classroom.store().get(workshop.workshop_id).state == "paused"
    at.button(key="class.pause").click().run()  # resume
    assert classroom.store().get(workshop.workshop_id).state == "open"
    at.selectbox(key="class.reveal_lesson").select("rater").run()
    at.button(key="class.reveal").click().run()
    assert classroom.store().get(workshop.workshop_id).revealed == ("rater",)
    archive = zipfile.ZipFile(io.BytesIO(downloads[f"workshop_{workshop.code}.zip"]))
    assert "scores.csv" in archive.namelist()

    at.text_input(key="class.confirm_delete").input("not the title").run()
    at.button(key="class.delete").click().run()
    assert "Nothing was deleted" in text(at.error[0].value)
    assert classroom.store().workshops()  # still there
    at.button(key="class.again").click().run()  # the next class, same settings
    newest = classroom.store().workshops()[0]
    assert newest.workshop_id != workshop.workshop_id and newest.state == "open"
    assert (newest.title, newest.lessons) == (workshop.title, workshop.lessons)
    assert newest.code != workshop.code and at.metric[0].value == newest.code
    at.selectbox(key="class.workshop").select(workshop.workshop_id).run()
    assert at.button(key="class.archive").disabled  # not confirmed yet
    at.checkbox(key="class.confirm_archive").check().run()
    at.button(key="class.archive").click().run()
    assert classroom.store().get(workshop.workshop_id).state == "archived"
    assert classroom.store().get(newest.workshop_id).state == "open"
    assert not at.exception


def test_a_dashboard_opened_without_the_instructor_key_changes_nothing(prepared_env):
    workshops, workshop, _ = _new_class()
    at = open_page("class_dashboard")
    assert at.metric[0].value == workshop.code  # an admin sees the class...
    assert not [b for b in at.button if b.key == "class.pause"]  # ...manages with key
    at.text_input(key="class.key").input(new_key()).run()
    assert "instructor key" in at.error[0].value
    assert not [b for b in at.button if b.key == "class.pause"]


def test_a_public_visitor_cannot_open_the_dashboard(prepared_env, monkeypatch):
    monkeypatch.setenv("MORPH_MODE", "public")
    _new_class()
    at = open_page("class_dashboard")
    assert "sign in as admin" in at.info[0].value
    assert not at.metric and not at.get("form")


def test_a_participant_joins_and_sees_the_lessons_in_order(ringed_env, monkeypatch):
    monkeypatch.setenv("MORPH_RUN_WORKERS", "0")
    workshops, workshop, _ = _new_class()
    at = open_in_app("workshop")
    at.text_input(key="workshop.code").input("WRONG1")
    at.text_input(key="workshop.name").input("Ann")
    at.button(key="workshop.join_submit").click().run()
    assert "No workshop has this code" in at.error[0].value
    assert workshops.participants(workshop.workshop_id).empty

    at.text_input(key="workshop.code").input(workshop.code.lower())
    at.button(key="workshop.join_submit").click().run()
    assert not at.exception
    key = at.session_state["visitor.key"]
    assert workshops.participant(workshop.workshop_id, key).name == "Ann"
    headings = [m.value for m in at.markdown if m.value.startswith("####")]
    assert [h.split(" · ")[0] for h in headings] == [
        "#### 1. The map of the representation",
        "#### 2. Similar galaxies from one tag",
        "#### 3. Finding what you find interesting",
        "#### 4. A ring classifier from a handful of labels",
    ]
    assert len(at.get("plotly_chart")) == 4

    at.button(key="workshop.train_10").click().run()
    assert any("queued" in i.value for i in at.info)
    runs = queue.list_runs(open_dataset("synthetic"))
    assert runs["owner"].tolist() == [key] and runs["strategy"].tolist() == ["head"]

    again = open_in_app("workshop", query={"visitor": key})  # a reload, a new tab
    assert not again.get("form")
    assert any("You are **Ann**" in c.value for c in again.caption)


def test_a_name_taken_in_the_class_is_refused(prepared_env):
    workshops, workshop, _ = _new_class()
    workshops.join(workshop.code, new_key(), "Ann")
    at = open_in_app("workshop", query={"code": workshop.code})
    assert at.text_input(key="workshop.code").value == workshop.code  # the link
    at.text_input(key="workshop.name").input("ANN")
    at.button(key="workshop.join_submit").click().run()
    assert "called 'ANN' already" in text(at.error[0].value)


@pytest.fixture
def participant(prepared_env):
    workshops, workshop, _ = _new_class()
    key = new_key()
    workshops.join(workshop.code, key, "Ann")
    return workshops, workshop, key


def test_lesson_1_sends_the_explorer_selection(participant):
    workshops, workshop, key = participant
    ids = open_dataset("synthetic").catalog()["galaxy_id"].tolist()[:6]
    at = open_page(
        "umap_explorer", query={"visitor": key}, visitor__key=key, umap__selection=ids
    )
    assert any("Workshop · 1." in i.value for i in at.info)
    at.button(key="classwork.send_selection").click().run()
    assert "Sent: 6 galaxies" in at.success[0].value
    answer = workshops.answers(workshop.workshop_id).iloc[0]
    assert answer["lesson"] == "explorer" and answer["answer"]["galaxy_ids"] == ids


def test_lesson_2_sends_the_picked_rings(participant):
    workshops, workshop, key = participant
    at = open_page("tag_similarity", query={"visitor": key}, visitor__key=key)
    at.button(key="similarity.search").click().run()
    shown = at.session_state["similarity.result"].neighbours["galaxy_id"].tolist()
    # the picks are a form: a pick alone commits and sends nothing
    at.multiselect(key="classwork.picks").set_value(shown[:2]).run()
    assert at.session_state["classwork.picks"] == []
    assert workshops.answers(workshop.workshop_id).empty
    at.multiselect(key="classwork.picks").set_value(shown[:3])
    at.button(key="classwork.send_picks").click().run()
    assert "among your 3 picks" in at.success[0].value
    assert workshops.answers(workshop.workshop_id).iloc[0]["score"]["n_picked"] == 3


def test_lesson_2_with_no_picks_says_so_and_sends_nothing(participant):
    workshops, workshop, key = participant
    at = open_page("tag_similarity", query={"visitor": key}, visitor__key=key)
    at.button(key="similarity.search").click().run()
    at.button(key="classwork.send_picks").click().run()
    assert "Tick at least one galaxy" in at.error[0].value
    assert workshops.answers(workshop.workshop_id).empty


def test_no_task_is_shown_outside_a_workshop(prepared_env):
    _new_class()
    at = open_page("umap_explorer", umap__selection=["x"])
    assert not [b for b in at.button if b.key == "classwork.send_selection"]


def test_lesson_3_counts_the_ratings_made_since_joining(participant):
    workshops, workshop, key = participant
    ids = open_dataset("synthetic").catalog()["galaxy_id"].tolist()
    for galaxy in ids[:3]:
        open_dataset("synthetic").rating_store().rate(key, galaxy, 4)
    at = open_page("anomaly_rater", query={"visitor": key}, visitor__key=key)
    assert any("Workshop · 3." in i.value for i in at.info)
    assert any("Workshop: 3 of 50 rated" in c.value for c in at.caption)
