"""A workshop's class at work: creating it, answering lessons, the lesson runs,
and the class's combined results for the instructor's dashboard and export.

Joins the workshop store to what participants did in the tools: their ratings
(the dataset's rating store, rater = their visitor key) and their fine-tuning
runs (the run queue; a lesson run carries ``sweep = "workshop:<id>"``).
"""

from __future__ import annotations

import io
import time
import zipfile
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from morph_core import access, settings
from morph_core.access import Refused, Visitor
from morph_core.data.export import to_csv
from morph_core.dataset import PreparedDataset
from morph_core.errors import MorphCoreError
from morph_core.runs import queue
from morph_core.runs.sources import LabelSource
from morph_core.store.workshops import Workshop, WorkshopStore
from morph_core.training.config import FinetuneConfig
from morph_core.workshop import lessons
from morph_core.workshop.lessons import LABEL_COUNTS, LESSONS

ANSWERED = {  # lessons answered with galaxies -> their score
    "explorer": lessons.score_selection,
    "similarity": lessons.score_picks,
}


def store() -> WorkshopStore:
    """The workshops of this server (beside its datasets)."""
    return WorkshopStore(settings.workspace_root() / "workshops.sqlite")


def create(
    workshops: WorkshopStore,
    visitor: Visitor,
    title: str,
    dataset: PreparedDataset,
    lesson_ids: list[str],
    minutes: int | None = None,
) -> tuple[Workshop, str]:
    """A new workshop on ``dataset`` run by ``visitor`` (an admin on a public
    server); returns it and its instructor key.

    Raises
    ------
    Refused
        A visitor who is not an admin of a public server.
    MorphCoreError
        A dataset without the synthetic sky's truth, an unknown lesson.
    """
    access.policy().require(visitor, "run_workshop")
    unknown = [lesson for lesson in lesson_ids if lesson not in LESSONS]
    if unknown:
        raise MorphCoreError(f"unknown lessons {unknown}; choose from {list(LESSONS)}")
    lessons.check_truth(dataset.catalog())
    ends_at = time.time() + 60 * minutes if minutes else None
    return workshops.create(title, dataset.name, lesson_ids, visitor.key, ends_at)


def run_tag(workshop: Workshop) -> str:
    """What a lesson run carries in its ``sweep`` field."""
    return f"workshop:{workshop.workshop_id}"


# -- a participant's answers ---------------------------------------------------------


def answer(
    workshops: WorkshopStore,
    workshop: Workshop,
    visitor: Visitor,
    lesson: str,
    catalog: pd.DataFrame,
    galaxy_ids: list[str],
) -> dict:
    """Score and record a participant's galaxies for ``lesson``: the lasso of
    lesson 1 ("explorer") or the ticked rings of lesson 2 ("similarity").
    Returns the score."""
    if lesson not in ANSWERED:
        raise MorphCoreError(f"lesson {lesson!r} takes no galaxies as its answer")
    score = ANSWERED[lesson](catalog, galaxy_ids)
    record = {"galaxy_ids": list(map(str, galaxy_ids))}
    workshops.answer(workshop.workshop_id, visitor.key, lesson, record, score)
    return score


def lesson_config(n_per_class: int, visitor: Visitor) -> FinetuneConfig:
    """Lesson 4's run: the head alone on the prepared features (seconds, not
    minutes); seed 0, so every run of the class is scored on one test set, and
    each participant's own random pick of training labels (``draw``), so the
    class's curve shows how much the pick matters."""
    draw = 1 + zlib.crc32(visitor.key.encode()) % 1_000_000
    return FinetuneConfig(n_per_class=n_per_class, strategy="head", seed=0, draw=draw)


def submit_lesson_run(
    workshops: WorkshopStore,
    workshop: Workshop,
    dataset: PreparedDataset,
    visitor: Visitor,
    n_per_class: int,
) -> str:
    """Queue lesson 4's ring run with ``n_per_class`` labels (fairly: the queue
    takes participants in turn, one run each at a time). Returns the run id.

    Raises
    ------
    MorphCoreError
        Not a participant, a paused or ended workshop, another label count.
    Refused
        The participant has runs of both label counts waiting already.
    """
    if n_per_class not in LABEL_COUNTS:
        raise MorphCoreError(f"lesson runs use {LABEL_COUNTS} labels per class")
    if "finetune" not in workshop.lessons or not workshop.accepting():
        raise MorphCoreError(f"The workshop is {workshop.status()}: no new runs now.")
    if workshops.participant(workshop.workshop_id, visitor.key) is None:
        raise MorphCoreError("Join the workshop first.")
    with queue.queue_lock(dataset):
        runs = queue.list_runs(dataset)
        waiting = runs["state"].isin(["queued", "running"]) & (
            runs["owner"] == visitor.key
        )
        if int(waiting.sum()) >= len(LABEL_COUNTS):
            raise Refused(
                f"You have {int(waiting.sum())} runs queued or running: wait for "
                "one to finish."
            )
        return queue.submit(  # the server's queue cap is for strangers' runs: a
            dataset,  # class's head-only runs take a second each
            LabelSource("column", column="ring"),
            lesson_config(n_per_class, visitor),
            name=f"lesson 4: ring, {n_per_class}/class",
            sweep=run_tag(workshop),
            visitor=visitor,
            counted=True,
        )


# -- the class's results -------------------------------------------------------------


@dataclass
class ClassResults:
    """Everything the dashboard, the lesson pages and the export show.

    Attributes
    ----------
    progress : DataFrame
        One row per participant: ``visitor``, ``name``, one status column per
        lesson ("not started", "in progress" or "done"), the scores, ``lessons_done``.
    curves : DataFrame
        Lesson 3: ``name``, ``n_rated``, ``found`` (after each rating).
    found, n_interesting : int
        Interesting galaxies met by anyone in the class, and in the sky.
    ring_rate, interesting_rate : float
        Share of the sky's galaxies that are rings, and rings or lenses: what a
        random pick or order finds.
    fives : DataFrame
        ``galaxy_id``, ``n_fives``: the galaxies most often rated 5.
    agreement : dict
        ``pairs`` compared, ``spearman`` (mean over pairs with 3+ galaxies in
        common), ``within_one`` (share of galaxies rated by 2+ whose ratings
        differ by at most 1).
    runs : DataFrame
        Lesson 4's runs, best test AUC first, with ``name`` of the participant.
    label_curve : DataFrame
        ``n_per_class``, ``runs``, ``mean_auc``, ``best_auc`` of finished runs.
    ratings : DataFrame
        The participants' rating events since they joined.
    """

    progress: pd.DataFrame
    curves: pd.DataFrame
    found: int
    n_interesting: int
    ring_rate: float
    interesting_rate: float
    fives: pd.DataFrame
    agreement: dict
    runs: pd.DataFrame
    label_curve: pd.DataFrame
    ratings: pd.DataFrame


def class_results(
    workshops: WorkshopStore, workshop: Workshop, dataset: PreparedDataset
) -> ClassResults:
    """The class's results now (reads the store, the ratings and the runs)."""
    catalog = dataset.catalog()
    people = workshops.participants(workshop.workshop_id)
    names = dict(zip(people["visitor"], people["name"], strict=True))
    answers = workshops.answers(workshop.workshop_id)
    ratings = _ratings(dataset, people)
    runs = queue.list_runs(dataset)
    runs = runs[runs["sweep"] == run_tag(workshop)].assign(
        participant=lambda t: t["owner"].map(names)
    )
    interesting = lessons.interesting_by_id(catalog)
    rows, curves = [], []
    for visitor, name in names.items():
        order = lessons.rated_order(ratings[ratings["rater"] == visitor])
        curve = lessons.found_curve(interesting, order)
        curves.append(
            pd.DataFrame(
                {"name": name, "n_rated": np.arange(1, len(curve) + 1), "found": curve}
            )
        )
        rows.append(
            _progress_row(
                workshop,
                visitor,
                name,
                answers[answers["visitor"] == visitor],
                lessons.score_ratings(interesting, order),
                runs[runs["owner"] == visitor],
            )
        )
    met = set(ratings["galaxy_id"]) & set(interesting.index[interesting.to_numpy()])
    return ClassResults(
        progress=pd.DataFrame(rows, columns=_progress_columns(workshop)),
        curves=pd.concat(curves, ignore_index=True)
        if curves
        else pd.DataFrame(columns=["name", "n_rated", "found"]),
        found=len(met),
        n_interesting=int(interesting.sum()),
        ring_rate=float(lessons.is_ring(catalog).mean()),
        interesting_rate=float(interesting.mean()),
        fives=_fives(ratings),
        agreement=_agreement(ratings),
        runs=runs.sort_values("test_auc", ascending=False, na_position="last"),
        label_curve=_label_curve(runs),
        ratings=ratings,
    )


def _ratings(dataset: PreparedDataset, people: pd.DataFrame) -> pd.DataFrame:
    """Each participant's rating events since they joined, in order."""
    events = dataset.rating_store().events()
    joined = dict(zip(people["visitor"], people["joined_at"], strict=True))
    since = events["rater"].map(joined)
    return events[since.notna() & (events["created_at"] >= since)].reset_index(
        drop=True
    )


def _progress_columns(workshop: Workshop) -> list[str]:
    scores = {
        "explorer": ["purity", "completeness"],
        "similarity": ["rings_picked"],
        "rater": ["rated", "found"],
        "finetune": [f"auc_{n}" for n in LABEL_COUNTS],
    }
    columns = ["visitor", "name"]
    for lesson in workshop.lessons:
        columns += [lesson, *scores[lesson]]
    return [*columns, "lessons_done"]


def _progress_row(
    workshop: Workshop,
    visitor: str,
    name: str,
    answers: pd.DataFrame,
    rating_score: dict,
    runs: pd.DataFrame,
) -> dict:
    scores = dict(zip(answers["lesson"], answers["score"], strict=True))
    row: dict = {"visitor": visitor, "name": name}
    status: dict[str, str] = {}
    if "explorer" in scores:
        row |= {k: scores["explorer"][k] for k in ("purity", "completeness")}
        status["explorer"] = "done"
    if "similarity" in scores:
        row["rings_picked"] = scores["similarity"]["n_rings"]
        status["similarity"] = "done"
    row |= {"rated": rating_score["rated"], "found": rating_score["found"]}
    if rating_score["rated"]:
        done = rating_score["rated"] >= rating_score["target"]
        status["rater"] = "done" if done else "in progress"
    run_scores = lessons.score_runs(runs)
    row |= run_scores
    if len(runs):
        finished = all(v is not None for v in run_scores.values())
        status["finetune"] = "done" if finished else "in progress"
    for lesson in workshop.lessons:
        row[lesson] = status.get(lesson, "not started")
    row["lessons_done"] = sum(row[lesson] == "done" for lesson in workshop.lessons)
    return row


def _current(ratings: pd.DataFrame) -> pd.DataFrame:
    """Each participant's latest rating of each galaxy (a pivot: galaxy x rater)."""
    rated = ratings[ratings["kind"] == "rate"]
    latest = rated.drop_duplicates(["rater", "galaxy_id"], keep="last")
    return latest.pivot(index="galaxy_id", columns="rater", values="rating")


def _fives(ratings: pd.DataFrame, top: int = 12) -> pd.DataFrame:
    table = _current(ratings)
    counts = (table == 5).sum(axis=1)
    counts = counts[counts > 0].sort_values(ascending=False, kind="stable")
    return counts.head(top).rename("n_fives").rename_axis("galaxy_id").reset_index()


def _agreement(ratings: pd.DataFrame) -> dict:
    table = _current(ratings).astype(float)
    pairs = table.corr(method="spearman", min_periods=3).to_numpy()
    correlations = pairs[np.triu_indices_from(pairs, k=1)]
    correlations = correlations[~np.isnan(correlations)]  # constant raters: NaN
    shared = table[table.notna().sum(axis=1) >= 2]
    spread = shared.max(axis=1) - shared.min(axis=1)
    return {
        "pairs": len(correlations),
        "spearman": round(float(correlations.mean()), 3) if len(correlations) else None,
        "galaxies_shared": len(shared),
        "within_one": round(float((spread <= 1).mean()), 3) if len(shared) else None,
    }


def _label_curve(runs: pd.DataFrame) -> pd.DataFrame:
    done = runs[runs["state"] == "finished"]
    return (
        done.groupby("n_per_class")["test_auc"]
        .agg(runs="count", mean_auc="mean", best_auc="max")
        .reset_index()
    )


def export_zip(
    workshops: WorkshopStore, workshop: Workshop, dataset: PreparedDataset
) -> bytes:
    """One zip of CSVs: the workshop, participants, answers, ratings, runs and
    scores (formula-safe, see :func:`morph_core.data.export.to_csv`).

    Participants appear by display name (unique in a class), never by visitor
    key: a key is a person's identity, and the file is shared."""
    results = class_results(workshops, workshop, dataset)
    answers = workshops.answers(workshop.workshop_id, latest=False)
    people = workshops.participants(workshop.workshop_id)
    name = dict(zip(people["visitor"], people["name"], strict=True))
    tables = {
        "workshop": pd.DataFrame(
            [
                {
                    "title": workshop.title,
                    "code": workshop.code,
                    "dataset": workshop.dataset,
                    "lessons": " ".join(workshop.lessons),
                    "status": workshop.status(),
                    "created_at": workshop.created_at,
                }
            ]
        ),
        "participants": people.drop(columns=["visitor"]),
        "answers": answers.assign(
            visitor=answers["visitor"].map(name),
            answer=answers["answer"].map(str),
            score=answers["score"].map(str),
        ).rename(columns={"visitor": "participant"}),
        "ratings": results.ratings.assign(
            rater=results.ratings["rater"].map(name)
        ).rename(columns={"rater": "participant"})[
            ["participant", "galaxy_id", "rating", "kind", "round", "created_at"]
        ],
        "runs": results.runs.drop(columns=["owner"]),
        "scores": results.progress.drop(columns=["visitor"]),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, table in tables.items():
            archive.writestr(f"{name}.csv", to_csv(table))
    return buffer.getvalue()
