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
class RaterModel:
    """What the model learned from one rater's ratings.

    Attributes
    ----------
    ratings : DataFrame
        ``galaxy_id``, ``rating``, ``rated_at`` of this rater.
    proposal : Proposal
        The fit on those ratings (mean, std, acquisition, next rows, reason).
    ranking : DataFrame
        Every galaxy: ``galaxy_id``, ``interest`` (the ranking score: rated
        galaxies by rating x 100, others by the GP mean), ``predicted``,
        ``uncertainty``, ``rating``; most interesting first.
    """

    ratings: pd.DataFrame
    proposal: Proposal
    ranking: pd.DataFrame


@dataclass
class RaterState:
    """What the rater sees: the batch still to rate and the model behind it."""

    batch: list[str]
    model: RaterModel


def _batch_file(rater: str) -> str:
    return f"raters/{hashlib.sha1(rater.encode()).hexdigest()[:16]}.json"


def fit_rater(
    store: RatingStore,
    catalog: pd.DataFrame,
    features: np.ndarray,
    oddness: np.ndarray,
    rater: str,
    strategy: Strategy = "isolation_forest",
    random_state: int = 0,
) -> RaterModel:
    """Fit the model on the rater's current ratings (deterministic for given ratings).

    Parameters
    ----------
    features : ndarray of shape (n_galaxies, 40)
        Standardised PCA-40, rows in catalogue order.
    oddness : ndarray of shape (n_galaxies,)
        Isolation-forest scores (cold start).
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
    return RaterModel(ratings, proposal, ranking)


def rater_state(
    workspace: Workspace,
    store: RatingStore,
    catalog: pd.DataFrame,
    model: RaterModel,
    rater: str,
    strategy: Strategy = "isolation_forest",
    retrain: bool = False,
    feature_set: str = "cnn",
) -> RaterState:
    """The saved batch minus what was rated or skipped; a new one from ``model``
    when it is used up, the round, strategy or feature set changed, or
    ``retrain`` is set."""
    key = {"round": store.round(rater), "strategy": strategy}
    if feature_set != "cnn":  # batches saved before feature sets existed stay valid
        key["features"] = feature_set
    saved = workspace.read_json(_batch_file(rater)) or {}
    done = set(model.ratings["galaxy_id"]) | set(saved.get("skipped", []))
    known = set(catalog["galaxy_id"].astype(str))
    remaining = [g for g in saved.get("batch", []) if g not in done and g in known]
    if retrain or not remaining or saved.get("key") != key:
        remaining = catalog["galaxy_id"].iloc[model.proposal.rows].astype(str).tolist()
        workspace.write_json(
            _batch_file(rater), {"key": key, "batch": remaining, "skipped": []}
        )
    return RaterState(remaining, model)


def skip(workspace: Workspace, rater: str, galaxy_id: str) -> None:
    """Leave a galaxy of the current batch unrated."""
    saved = workspace.read_json(_batch_file(rater)) or {"batch": [], "skipped": []}
    saved["skipped"] = [*saved.get("skipped", []), galaxy_id]
    workspace.write_json(_batch_file(rater), saved)
