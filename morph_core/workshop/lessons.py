"""The four lessons of a workshop, one per tool, and how each answer is scored
against the synthetic sky's truth (columns ``merging``, ``ring``, ``lens``).

Plain functions of the catalogue and of ids, ratings or runs: no Streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from morph_core.errors import MorphCoreError

TRUTH_COLUMNS = ("merging", "ring", "lens")
N_PICKS = 10  # lesson 2: rings to collect
N_RATINGS = 50  # lesson 3: galaxies to rate
LABEL_COUNTS = (10, 50)  # lesson 4: labels per class of the two runs


@dataclass(frozen=True)
class Lesson:
    """What a participant reads and does; ``page`` is the tool's page file."""

    lesson_id: str
    title: str
    page: str
    idea: str
    task: str
    answer: str  # shown when the instructor reveals the lesson


LESSONS = {
    lesson.lesson_id: lesson
    for lesson in (
        Lesson(
            "explorer",
            "1. The map of the representation",
            "pages/umap_explorer.py",
            "The CNN turns each image into 1280 numbers. PCA then UMAP squeeze them "
            "into a 2-D map where galaxies that look alike sit together (Walmsley et "
            "al. 2022, §2.3): the map was never told what a merger is, yet mergers "
            "gather in their own region.",
            "Open the UMAP explorer, find where the mergers are (hover the points, "
            "colour by a column), lasso that region and press **Send this selection "
            "to the workshop**. Your score: purity (how much of your selection are "
            "mergers) and completeness (how many of all mergers you caught).",
            "The mergers are the galaxies whose `merging` is `merger`: colour the "
            "map by `merging` to see their region.",
        ),
        Lesson(
            "similarity",
            "2. Similar galaxies from one tag",
            "pages/tag_similarity.py",
            "Galaxies close together in the representation look alike, so the "
            "neighbours of a few tagged examples are a fast way to collect more of a "
            "rare kind (§2.4: PCA-10, Manhattan distance).",
            f"Open Tag similarity, search from the tag `#ring`, tick the {N_PICKS} "
            "results you think are rings and press **Send my picks to the "
            f"workshop**. Your score: true rings among your {N_PICKS}, against what a "
            "random pick would give.",
            "True rings are the galaxies whose `ring` column is true; the nearest "
            "neighbours of `#ring` galaxies are mostly rings.",
        ),
        Lesson(
            "rater",
            "3. Finding what you find interesting",
            "pages/anomaly_rater.py",
            "An anomaly is what a person finds interesting, not only what is rare. "
            "A Gaussian process learns your taste from your ratings and picks the "
            "galaxies most likely to beat your best rating (§3.2); after each batch "
            "of 10 its beliefs change.",
            f"Open the Anomaly rater and rate {N_RATINGS} galaxies, with 5 for rings "
            "and lenses (arcs around a galaxy) and 0-1 for everything else. Your "
            f"score: how many true rings and lenses you met in your {N_RATINGS} "
            "ratings, against the class and a random order.",
            "The interesting galaxies here are the sky's rings and lenses: a rater "
            "who gives them 5 meets several times more than a random order.",
        ),
        Lesson(
            "finetune",
            "4. A ring classifier from a handful of labels",
            "pages/finetune_monitor.py",
            "A representation learned from volunteers' answers transfers to new "
            "questions: a small head on top of it learns rings from few labels "
            "(§4), and more labels help less and less.",
            "Start two runs here (head only, under a minute each): 10 and then 50 "
            "labels per class. Watch them in the Fine-tune monitor. Your score: "
            "each run's ROC AUC on the class's common test set.",
            "The class curve shows test AUC against labels per class: it rises "
            "fast and then flattens, as in the paper's ring figure.",
        ),
    )
}


def check_truth(catalog: pd.DataFrame) -> None:
    """Refuse a dataset without the synthetic sky's truth (lessons cannot be scored).

    Raises
    ------
    MorphCoreError
        A truth column is missing.
    """
    missing = [c for c in TRUTH_COLUMNS if c not in catalog.columns]
    if missing:
        raise MorphCoreError(
            "Workshops need a dataset with known truth (the synthetic sky): "
            f"this one has no {', '.join(missing)} column."
        )


def is_merger(catalog: pd.DataFrame) -> np.ndarray:
    return (catalog["merging"] == "merger").to_numpy()


def is_ring(catalog: pd.DataFrame) -> np.ndarray:
    return catalog["ring"].astype(bool).to_numpy()


def is_interesting(catalog: pd.DataFrame) -> np.ndarray:
    """Lesson 3's anomalies: rings and lenses."""
    return is_ring(catalog) | catalog["lens"].astype(bool).to_numpy()


def _known(catalog: pd.DataFrame, galaxy_ids: list[str]) -> np.ndarray:
    """Rows of the distinct known ids (unknown ids are an error)."""
    ids = list(dict.fromkeys(str(g) for g in galaxy_ids))
    rows = pd.Index(catalog["galaxy_id"]).get_indexer(ids)
    if (rows < 0).any():
        raise MorphCoreError("some of those galaxies are not in this dataset")
    return rows


def score_selection(catalog: pd.DataFrame, galaxy_ids: list[str]) -> dict:
    """Lesson 1: purity and completeness of a selection for the mergers.

    >>> sky = pd.DataFrame({"galaxy_id": list("abcd"),
    ...                     "merging": ["merger", "merger", "none", "none"]})
    >>> score_selection(sky, ["a", "c"])
    {'n_selected': 2, 'n_mergers': 1, 'purity': 0.5, 'completeness': 0.5}
    """
    rows = _known(catalog, galaxy_ids)
    if not len(rows):
        raise MorphCoreError("The selection is empty: lasso some galaxies first.")
    truth = is_merger(catalog)
    hits = int(truth[rows].sum())
    return {
        "n_selected": len(rows),
        "n_mergers": hits,
        "purity": round(hits / len(rows), 4),
        "completeness": round(hits / max(int(truth.sum()), 1), 4),
    }


def score_picks(catalog: pd.DataFrame, galaxy_ids: list[str]) -> dict:
    """Lesson 2: true rings among the picks, and what a random pick would give."""
    rows = _known(catalog, galaxy_ids)
    if not len(rows):
        raise MorphCoreError("Tick at least one galaxy first.")
    if len(rows) > N_PICKS:
        raise MorphCoreError(
            f"Pick at most {N_PICKS} galaxies (you ticked {len(rows)})."
        )
    truth = is_ring(catalog)
    return {
        "n_picked": len(rows),
        "n_rings": int(truth[rows].sum()),
        "random_expected": round(len(rows) * float(truth.mean()), 2),
    }


def rated_order(events: pd.DataFrame, since: float = 0.0) -> list[str]:
    """The galaxies a rater rated since ``since``, in the order first rated."""
    rated = events[(events["kind"] == "rate") & (events["created_at"] >= since)]
    return list(dict.fromkeys(rated["galaxy_id"].astype(str)))


def interesting_by_id(catalog: pd.DataFrame) -> pd.Series:
    """Lesson 3's truth looked up by ``galaxy_id`` (build once, look up often)."""
    return pd.Series(is_interesting(catalog), index=catalog["galaxy_id"].astype(str))


def found_curve(interesting: pd.Series, order: list[str]) -> np.ndarray:
    """Lesson 3: interesting galaxies met after each rating (cumulative);
    ``interesting`` from :func:`interesting_by_id`."""
    flags = interesting.reindex(order)
    if flags.isna().any():
        raise MorphCoreError("some of those galaxies are not in this dataset")
    return np.cumsum(flags.to_numpy(bool))


def score_ratings(interesting: pd.Series, order: list[str]) -> dict:
    """Lesson 3: interesting galaxies met in the first ``N_RATINGS`` ratings,
    and what a random order would meet in as many."""
    target = min(N_RATINGS, len(interesting))
    curve = found_curve(interesting, order[:target])
    return {
        "rated": len(curve),
        "target": target,
        "found": int(curve[-1]) if len(curve) else 0,
        "random_expected": round(len(curve) * float(interesting.mean()), 2),
    }


def score_runs(runs: pd.DataFrame) -> dict:
    """Lesson 4: the test AUC of the latest finished run at each label count."""
    done = runs[runs["state"] == "finished"].sort_values("created_at")
    return {
        f"auc_{n}": float(done[done["n_per_class"] == n]["test_auc"].iloc[-1])
        if (done["n_per_class"] == n).any()
        else None
        for n in LABEL_COUNTS
    }
