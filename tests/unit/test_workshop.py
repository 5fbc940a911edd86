"""Lessons scored against the sky's truth, and the class's combined results."""

import io
import time
import zipfile

import numpy as np
import pandas as pd
import pytest

from morph_core.access import Refused, Visitor, new_key
from morph_core.dataset import open_dataset
from morph_core.errors import MorphCoreError
from morph_core.runs import queue
from morph_core.workshop import classroom, lessons
from morph_core.workshop.join import join_link, qr_png

ALL = list(lessons.LESSONS)


def sky(n: int = 100) -> pd.DataFrame:
    """A catalogue with known truth: 10 mergers, 5 rings, 5 lenses."""
    return pd.DataFrame(
        {
            "galaxy_id": [f"g{i:03d}" for i in range(n)],
            "merging": ["merger" if i < 10 else "none" for i in range(n)],
            "ring": [10 <= i < 15 for i in range(n)],
            "lens": [15 <= i < 20 for i in range(n)],
        }
    )


def test_lessons_score_against_the_truth():
    catalog = sky()
    assert lessons.score_selection(catalog, ["g000", "g001", "g050", "g001"]) == {
        "n_selected": 3,
        "n_mergers": 2,
        "purity": round(2 / 3, 4),
        "completeness": 0.2,
    }
    picks = lessons.score_picks(catalog, ["g010", "g011", "g090"])
    assert picks == {"n_picked": 3, "n_rings": 2, "random_expected": 0.15}
    order = ["g010", "g090", "g015", "g010"]  # rated again: counted once
    interesting = lessons.interesting_by_id(catalog)
    curve = lessons.found_curve(interesting, lessons.rated_order(_events(order)))
    assert curve.tolist() == [1, 1, 2]
    score = lessons.score_ratings(interesting, ["g010", "g090", "g015"])
    assert score == {"rated": 3, "target": 50, "found": 2, "random_expected": 0.3}
    with pytest.raises(MorphCoreError, match="not in this dataset"):
        lessons.found_curve(interesting, ["g010", "nope"])
    for bad, message in (([], "empty"), (["nope"], "not in this dataset")):
        with pytest.raises(MorphCoreError, match=message):
            lessons.score_selection(catalog, bad)
    with pytest.raises(MorphCoreError, match="at most 10"):
        lessons.score_picks(catalog, [f"g{i:03d}" for i in range(11)])
    with pytest.raises(MorphCoreError, match="no ring, lens column"):
        lessons.check_truth(catalog.drop(columns=["ring", "lens"]))


def _events(order: list[str], t0: float = 100.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "galaxy_id": order,
            "kind": "rate",
            "created_at": t0 + np.arange(len(order)),
        }
    )


def test_the_join_link_and_its_qr_code():
    link = join_link("http://127.0.0.1:8501/", "K7MQ2P")
    assert link == "http://127.0.0.1:8501/workshop?code=K7MQ2P"
    png = qr_png(link)
    assert png.startswith(b"\x89PNG")


def _class(env, n: int = 2):
    dataset = open_dataset("synthetic", env)
    workshops = classroom.store()
    teacher = Visitor(new_key(), "teacher", "admin")
    workshop, key = classroom.create(workshops, teacher, "Class", dataset, ALL, 90)
    people = [Visitor(new_key(), f"P{i}") for i in range(n)]
    for person in people:
        workshops.join(workshop.code, person.key, person.name)
    return dataset, workshops, workshop, key, people


def test_only_an_admin_runs_a_workshop_on_a_public_server(prepared_env, monkeypatch):
    dataset = open_dataset("synthetic", prepared_env)
    monkeypatch.setenv("MORPH_MODE", "public")
    with pytest.raises(Refused, match="admins only"):
        classroom.create(
            classroom.store(), Visitor(new_key()), "Class", dataset, ALL, None
        )
    with pytest.raises(MorphCoreError, match="unknown lessons"):
        classroom.create(
            classroom.store(), Visitor(new_key(), role="admin"), "C", dataset, ["x"]
        )
    assert classroom.store().workshops() == []


def test_the_class_results_join_answers_ratings_and_runs(ringed_env, monkeypatch):
    monkeypatch.setenv("MORPH_RUN_WORKERS", "0")  # queued, not trained
    dataset, workshops, workshop, key, (ann, bob) = _class(ringed_env)
    catalog = dataset.catalog()
    ids = catalog["galaxy_id"].tolist()
    ratings = dataset.rating_store()
    outsider = new_key()
    ratings.rate(outsider, ids[0], 5)  # not in the class: not counted
    for person, values in ((ann, [5, 5, 0, 1]), (bob, [5, 5, 1, 0])):
        for galaxy, value in zip(ids[10:14], values, strict=True):
            ratings.rate(person.key, galaxy, value)
    ratings.rate(ann.key, ids[10], 3)  # a change of mind: the latest counts
    score = classroom.answer(workshops, workshop, ann, "explorer", catalog, ids[:5])
    assert score["n_selected"] == 5
    classroom.answer(workshops, workshop, bob, "similarity", catalog, ids[:10])
    with pytest.raises(MorphCoreError, match="takes no galaxies"):
        classroom.answer(workshops, workshop, bob, "rater", catalog, ids[:10])
    run_id = classroom.submit_lesson_run(workshops, workshop, dataset, ann, 10)
    results = classroom.class_results(workshops, workshop, dataset)

    table = results.progress.set_index("name")
    assert table.loc["P0", "explorer"] == "done" and table.loc["P1", "explorer"] == (
        "not started"
    )
    assert table.loc["P1", "similarity"] == "done"
    assert table.loc["P1", "rings_picked"] == 10  # ids[:10] are rings here
    assert table.loc["P0", "rater"] == "in progress" and table.loc["P0", "rated"] == 4
    assert table.loc["P0", "found"] == 4  # ids[10:14] are rings
    assert table.loc["P0", "finetune"] == "in progress"
    assert table["lessons_done"].tolist() == [1, 1]
    assert results.curves.groupby("name")["found"].max().tolist() == [4, 4]
    assert results.found == 4
    assert results.n_interesting == int((catalog["ring"] | catalog["lens"]).sum())
    assert results.fives.iloc[0].to_dict() == {"galaxy_id": ids[11], "n_fives": 2}
    assert outsider not in set(results.ratings["rater"])
    assert results.agreement["galaxies_shared"] == 4
    assert results.agreement["within_one"] == 0.75  # 3 vs 5 on ids[10]
    assert results.runs["run_id"].tolist() == [run_id]
    assert results.runs.iloc[0]["participant"] == "P0"

    archive = zipfile.ZipFile(
        io.BytesIO(classroom.export_zip(workshops, workshop, dataset))
    )
    assert sorted(archive.namelist()) == [
        f"{n}.csv"
        for n in ("answers", "participants", "ratings", "runs", "scores", "workshop")
    ]
    exported = pd.read_csv(io.BytesIO(archive.read("ratings.csv")))
    assert len(exported) == 9 and set(exported["participant"]) == {"P0", "P1"}
    assert len(pd.read_csv(io.BytesIO(archive.read("participants.csv")))) == 2
    for member in archive.namelist():  # names only: a key is a person's identity
        assert ann.key not in archive.read(member).decode()


def test_ratings_made_before_joining_do_not_count(ringed_env):
    dataset, workshops, workshop, _, _ = _class(ringed_env, 0)
    late = Visitor(new_key(), "Late")
    ids = dataset.catalog()["galaxy_id"].tolist()
    dataset.rating_store().rate(late.key, ids[10], 5)
    time.sleep(0.01)
    workshops.join(workshop.code, late.key, late.name)
    dataset.rating_store().rate(late.key, ids[11], 5)
    row = classroom.class_results(workshops, workshop, dataset).progress.iloc[0]
    assert row["rated"] == 1 and row["found"] == 1


def test_lesson_runs_are_capped_and_refused_when_they_should_be(
    ringed_env, monkeypatch
):
    monkeypatch.setenv("MORPH_RUN_WORKERS", "0")
    dataset, workshops, workshop, key, (ann, bob) = _class(ringed_env)
    with pytest.raises(MorphCoreError, match="labels per class"):
        classroom.submit_lesson_run(workshops, workshop, dataset, ann, 500)
    with pytest.raises(MorphCoreError, match="Join the workshop"):
        classroom.submit_lesson_run(
            workshops, workshop, dataset, Visitor(new_key()), 10
        )
    paused = workshops.set_state(workshop.workshop_id, key, "paused")
    with pytest.raises(MorphCoreError, match="paused"):
        classroom.submit_lesson_run(workshops, paused, dataset, ann, 10)
    opened = workshops.set_state(workshop.workshop_id, key, "open")
    run_id = classroom.submit_lesson_run(workshops, opened, dataset, ann, 10)
    run = queue.list_runs(dataset).set_index("run_id").loc[run_id]
    assert run["strategy"] == "head" and run["owner"] == ann.key
    assert run["sweep"] == classroom.run_tag(workshop) and run["seed"] == 0
    draws = {classroom.lesson_config(10, who).draw for who in (ann, bob)}
    assert len(draws) == 2 and 0 not in draws  # each person their own labels
    workshops.leave(workshop.workshop_id, ann.key)  # leaves with a run queued
    results = classroom.class_results(workshops, opened, dataset)
    assert results.runs["run_id"].tolist() == [run_id]  # still the class's
    assert "P0" in results.progress["name"].tolist()


@pytest.mark.slow
def test_a_lesson_run_trains_on_the_prepared_features_in_seconds(
    ringed_env, monkeypatch
):
    monkeypatch.setenv("MORPH_RUN_WORKERS", "1")
    dataset, workshops, workshop, _, (ann, _) = _class(ringed_env)
    images = dataset.path / "images"
    images.rename(images.with_name("moved"))  # a head run reads no image
    run_id = classroom.submit_lesson_run(workshops, workshop, dataset, ann, 10)
    deadline = time.time() + 120
    while time.time() < deadline:
        run = queue.list_runs(dataset).set_index("run_id").loc[run_id]
        if run["state"] not in ("queued", "running"):
            break
        time.sleep(0.5)
    assert run["state"] == "finished", run["error"]
    results = classroom.class_results(workshops, workshop, dataset)
    row = results.progress.iloc[0]
    assert row["auc_10"] == pytest.approx(run["test_auc"]) and row["auc_50"] is None
    assert results.label_curve["n_per_class"].tolist() == [10]


def test_a_class_fills_the_queue_past_the_public_cap_but_not_one_person(
    ringed_env, monkeypatch
):
    monkeypatch.setenv("MORPH_MODE", "public")  # 20 queued runs at most there
    monkeypatch.setenv("MORPH_RUN_WORKERS", "0")
    dataset, workshops, workshop, _, people = _class(ringed_env, 11)
    for person in people:
        for n in lessons.LABEL_COUNTS[:1] * 2:
            classroom.submit_lesson_run(workshops, workshop, dataset, person, n)
    assert len(queue.list_runs(dataset)) == 22
    with pytest.raises(Refused, match="2 runs queued or running"):
        classroom.submit_lesson_run(workshops, workshop, dataset, people[0], 10)


@pytest.mark.slow
def test_one_worker_trains_the_queued_lesson_runs_in_turn_in_one_process(
    ringed_env, monkeypatch
):
    monkeypatch.setenv("MORPH_RUN_WORKERS", "0")  # queued first, then started
    dataset, workshops, workshop, _, (ann, bob) = _class(ringed_env)
    submitted = [
        classroom.submit_lesson_run(workshops, workshop, dataset, who, 10)
        for who in (ann, ann, bob)
    ]
    monkeypatch.setenv("MORPH_RUN_WORKERS", "1")
    assert queue.start_queued(dataset) == submitted[:1]
    deadline = time.time() + 180
    while time.time() < deadline:
        runs = queue.list_runs(dataset).set_index("run_id")
        if not runs["state"].isin(["queued", "running"]).any():
            break
        time.sleep(0.5)
    assert runs.loc[submitted, "state"].tolist() == ["finished"] * 3
    statuses = [queue.run_folder(dataset, r).status() for r in submitted]
    assert len({s["pid"] for s in statuses}) == 1  # one process, torch loaded once
    started = [s["started_at"] for s in statuses]
    assert started[0] < started[2] < started[1]  # bob's before ann's second
