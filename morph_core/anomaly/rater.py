"""One rater's loop: the batch to rate now, kept until it is done (§3.2).

The batch is saved in the workspace (``raters/<rater>.json``), so a reload or a
server restart shows the same galaxies; the model is refitted only when the
batch is used up (or on "retrain now"), as in the paper.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from morph_core.anomaly.gp import Proposal, Strategy, propose
from morph_core.anomaly.metrics import ranking_scores
from morph_core.ratings import RatingStore
from morph_core.workspace import Workspace


@dataclass
class RaterState:
    """What the rater sees.

    Attributes
    ----------
    batch : list of str
        Galaxy ids still to rate in the current batch, in order.
    ratings : DataFrame
        ``galaxy_id``, ``rating``, ``rated_at`` of this rater.
    proposal : Proposal
        The model after the last fit (mean, std, acquisition, reason).
    ranking : DataFrame
        Every galaxy: ``galaxy_id``, ``interest`` (the ranking score: rated
        galaxies by rating x 100, others by the GP mean), ``predicted``,
        ``uncertainty``, ``rating``; most interesting first.
    """

    batch: list[str]
    ratings: pd.DataFrame
    proposal: Proposal
    ranking: pd.DataFrame


def _batch_file(rater: str) -> str:
    return f"raters/{hashlib.sha1(rater.encode()).hexdigest()[:16]}.json"


def rater_state(
    workspace: Workspace,
    store: RatingStore,
    catalog: pd.DataFrame,
    features: np.ndarray,
    oddness: np.ndarray,
    rater: str,
    strategy: Strategy = "isolation_forest",
    retrain: bool = False,
    random_state: int = 0,
) -> RaterState:
    """The rater's current batch and model, refitting when the batch is done.

    Parameters
    ----------
    features : ndarray of shape (n_galaxies, 40)
        Standardised PCA-40, rows in catalogue order.
    oddness : ndarray of shape (n_galaxies,)
        Isolation-forest scores (cold start).
    retrain : bool
        Fit again and start a new batch now.
    """
    ratings = store.ratings(rater)
    row_of = pd.Series(np.arange(len(catalog)), index=catalog["galaxy_id"].astype(str))
    known = ratings[ratings["galaxy_id"].isin(row_of.index)]
    rated_rows = row_of[known["galaxy_id"]].to_numpy()
    values = known["rating"].to_numpy()
    proposal = propose(
        features,
        rated_rows,
        values,
        strategy,
        oddness,
        random_state=random_state + len(rated_rows),
    )

    key = {"round": store.round(rater), "strategy": strategy}
    saved = workspace.read_json(_batch_file(rater)) or {}
    done = set(ratings["galaxy_id"]) | set(saved.get("skipped", []))
    remaining = [
        g for g in saved.get("batch", []) if g not in done and g in row_of.index
    ]
    if retrain or not remaining or saved.get("key") != key:
        remaining = catalog["galaxy_id"].iloc[proposal.rows].astype(str).tolist()
        workspace.write_json(
            _batch_file(rater), {"key": key, "batch": remaining, "skipped": []}
        )

    rating_of = dict(zip(ratings["galaxy_id"], ratings["rating"], strict=True))
    ranking = (
        pd.DataFrame(
            {
                "galaxy_id": catalog["galaxy_id"].astype(str),
                "interest": ranking_scores(proposal.mean, rated_rows, values),
                "predicted": proposal.mean,
                "uncertainty": proposal.std,
                "rating": catalog["galaxy_id"].map(rating_of),
            }
        )
        .sort_values("interest", ascending=False, kind="stable")
        .reset_index(drop=True)
    )
    return RaterState(remaining, ratings, proposal, ranking)


def skip(workspace: Workspace, rater: str, galaxy_id: str) -> None:
    """Leave a galaxy of the current batch unrated."""
    saved = workspace.read_json(_batch_file(rater)) or {"batch": [], "skipped": []}
    saved["skipped"] = [*saved.get("skipped", []), galaxy_id]
    workspace.write_json(_batch_file(rater), saved)
