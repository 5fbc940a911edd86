"""The workshop store: create, join, answers, the instructor key, and bad input."""

import re
import threading
import time

import pytest

from morph_core.access import Refused, new_key
from morph_core.errors import MorphCoreError
from morph_core.store.workshops import (
    CODE_ALPHABET,
    MAX_PARTICIPANTS,
    WorkshopStore,
    WrongCode,
)

LESSONS = ["explorer", "similarity", "rater", "finetune"]


@pytest.fixture
def store(tmp_path) -> WorkshopStore:
    return WorkshopStore(tmp_path / "workshops.sqlite")


@pytest.fixture
def opened(store):
    workshop, key = store.create("Galaxies 101", "synthetic", LESSONS, "teacher")
    return workshop, key


def test_a_workshop_has_a_short_readable_code_and_a_secret_instructor_key(
    store, opened
):
    workshop, key = opened
    assert re.fullmatch(f"[{CODE_ALPHABET}]{{6}}", workshop.code)
    assert workshop.status() == "open" and workshop.lessons == tuple(LESSONS)
    assert store.by_code(workshop.code.lower()[:3] + "-" + workshop.code[3:]) == (
        workshop
    )
    assert key not in store.path.read_bytes().decode("latin-1")  # only its hash
    assert store.check_key(workshop.workshop_id, key) == workshop
    for wrong in (None, "", new_key(), key[:-1]):
        with pytest.raises(Refused, match="instructor key"):
            store.check_key(workshop.workshop_id, wrong)
    with pytest.raises(Refused, match="instructor key"):
        store.set_state(workshop.workshop_id, new_key(), "ended")
    assert store.get(workshop.workshop_id).state == "open"


def test_bad_workshops_are_refused(store):
    with pytest.raises(MorphCoreError, match="title"):
        store.create("   ", "synthetic", LESSONS, "t")
    with pytest.raises(MorphCoreError, match="lesson"):
        store.create("A class", "synthetic", [], "t")
    with pytest.raises(MorphCoreError, match="passed"):
        store.create("A class", "synthetic", LESSONS, "t", ends_at=time.time() - 1)
    assert store.workshops() == []


def test_joining_by_code_with_a_unique_display_name(store, opened):
    workshop, _ = opened
    ann, bob = new_key(), new_key()
    joined, me = store.join(workshop.code, ann, "  Ann   Lee ")
    assert joined == workshop and me.name == "Ann Lee"
    with pytest.raises(MorphCoreError, match="called 'ann lee' already"):
        store.join(workshop.code, bob, "ann lee")
    store.join(workshop.code, bob, "Bob")
    again = store.join(workshop.code, ann, "Ann Lee")[1]  # a reload: same person
    assert again.joined_at == me.joined_at
    assert list(store.participants(workshop.workshop_id)["name"]) == ["Ann Lee", "Bob"]
    for code in ("", "ZZZZZZ", "'; DROP TABLE workshops; --"):
        with pytest.raises(WrongCode, match="No workshop has this code"):
            store.join(code, new_key(), "Cy")
    with pytest.raises(MorphCoreError, match="display name"):
        store.join(workshop.code, new_key(), "   ")


def test_a_full_workshop_takes_no_stranger_but_lets_its_own_back(store, opened):
    workshop, _ = opened  # e.g. a code leaked beyond the class
    keys = [new_key() for _ in range(MAX_PARTICIPANTS)]
    for i, key in enumerate(keys):
        store.join(workshop.code, key, f"P{i}")
    with pytest.raises(MorphCoreError, match="full"):
        store.join(workshop.code, new_key(), "Stranger")
    store.leave(workshop.workshop_id, keys[0])
    assert store.join(workshop.code, keys[0], "P0")[1].name == "P0"  # back again
    with pytest.raises(MorphCoreError, match="full"):  # a seat is not freed by leaving
        store.join(workshop.code, new_key(), "Stranger")
    assert len(store.participants(workshop.workshop_id)) == MAX_PARTICIPANTS


def test_a_workshop_past_its_end_time_takes_no_one(store):
    workshop, _ = store.create("Short", "synthetic", LESSONS, "t", time.time() + 0.3)
    visitor = new_key()
    store.join(workshop.code, visitor, "Ann")
    time.sleep(0.4)
    assert store.get(workshop.workshop_id).status() == "ended"
    with pytest.raises(WrongCode, match="ended"):
        store.join(workshop.code, new_key(), "Bob")
    with pytest.raises(MorphCoreError, match="ended"):
        store.answer(workshop.workshop_id, visitor, "explorer", {}, {})


def test_pause_resume_end_and_archive(store, opened):
    workshop, key = opened
    wid, visitor = workshop.workshop_id, new_key()
    store.join(workshop.code, visitor, "Ann")
    store.set_state(wid, key, "paused")
    with pytest.raises(MorphCoreError, match="paused"):
        store.join(workshop.code, new_key(), "Bob")
    with pytest.raises(MorphCoreError, match="paused"):
        store.answer(wid, visitor, "explorer", {"galaxy_ids": []}, {"purity": 1})
    store.set_state(wid, key, "open")
    store.answer(wid, visitor, "explorer", {"galaxy_ids": ["a"]}, {"purity": 1})
    store.set_state(wid, key, "ended")
    with pytest.raises(WrongCode, match="ended"):
        store.by_code(workshop.code)
    store.set_state(wid, key, "archived")
    with pytest.raises(WrongCode):
        store.by_code(workshop.code)
    assert store.current(visitor) is None  # an archived class is not resumed
    with pytest.raises(MorphCoreError, match="stays archived"):
        store.set_state(wid, key, "open")
    assert len(store.answers(wid)) == 1  # archived, not deleted
    with pytest.raises(MorphCoreError, match="unknown state"):
        store.set_state(wid, key, "deleted")


def test_nothing_is_deleted_without_the_title_typed_again(store, opened):
    workshop, key = opened
    visitor = new_key()
    store.join(workshop.code, visitor, "Ann")
    store.answer(workshop.workshop_id, visitor, "similarity", {"ids": []}, {"n": 1})
    with pytest.raises(MorphCoreError, match="Nothing was deleted"):
        store.delete(workshop.workshop_id, key, "yes")
    with pytest.raises(Refused):
        store.delete(workshop.workshop_id, "wrong", "Galaxies 101")
    assert len(store.answers(workshop.workshop_id)) == 1
    store.delete(workshop.workshop_id, key, " Galaxies  101 ")
    assert store.workshops() == [] and store.current(visitor) is None
    assert store.answers(workshop.workshop_id).empty


def test_answers_keep_every_try_and_score_the_latest(store, opened):
    workshop, key = opened
    wid, ann = workshop.workshop_id, new_key()
    with pytest.raises(MorphCoreError, match="Join the workshop first"):
        store.answer(wid, ann, "explorer", {}, {})
    store.join(workshop.code, ann, "Ann")
    with pytest.raises(MorphCoreError, match="no lesson 'quiz'"):
        store.answer(wid, ann, "quiz", {}, {})
    for purity in (0.2, 0.7):
        store.answer(wid, ann, "explorer", {"galaxy_ids": ["a"]}, {"purity": purity})
    latest = store.answers(wid)
    assert latest["score"].tolist() == [{"purity": 0.7}]
    assert len(store.answers(wid, latest=False)) == 2
    with pytest.raises(MorphCoreError, match="no lesson"):
        store.reveal(wid, key, "quiz")
    assert store.reveal(wid, key, "explorer").revealed == ("explorer",)


def test_a_participant_who_leaves_mid_lesson_keeps_their_work_and_can_come_back(
    store, opened
):
    workshop, _ = opened
    ann = new_key()
    store.join(workshop.code, ann, "Ann")
    store.answer(workshop.workshop_id, ann, "similarity", {"ids": ["a"]}, {"n": 1})
    store.leave(workshop.workshop_id, ann)
    assert store.current(ann) is None
    assert len(store.answers(workshop.workshop_id)) == 1
    store.join(workshop.code, ann, "Ann")
    assert store.current(ann)[0] == store.get(workshop.workshop_id)


def test_a_class_joining_at_once_all_get_in_and_one_name_goes_to_one_person(
    store, opened
):
    workshop, _ = opened
    errors = []

    def join(i: int, name: str) -> None:
        try:
            store.join(workshop.code, f"visitor-{i:02d}", name)
        except MorphCoreError as e:
            errors.append(str(e))

    threads = [threading.Thread(target=join, args=(i, f"P{i}")) for i in range(30)]
    threads += [threading.Thread(target=join, args=(90 + i, "Twin")) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    people = store.participants(workshop.workshop_id)
    assert len(people) == 31 and (people["name"] == "Twin").sum() == 1
    assert len(errors) == 1 and "already" in errors[0]
