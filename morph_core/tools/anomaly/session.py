"""One rater's loop (§3.2): the model fitted on their ratings, and the batch to
rate now, kept until it is used up so that a reload shows the same galaxies.

Plain functions of tables and dicts; the caller keeps the batch record (the
dataset's ``rater_batch``) and the ratings (the rating store).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from morph_core.tools.anomaly.finder import AnomalyFinder, Proposal, Start
from morph_core.tools.anomaly.metrics import ranking_scores


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
        ``uncertainty``, ``acquisition``, ``rating``; most interesting first.
    """

    ratings: pd.DataFrame
    proposal: Proposal
    ranking: pd.DataFrame

    def beliefs(self, galaxy_ids: list[str]) -> pd.DataFrame:
        """For these galaxies: predicted rating, uncertainty and the acquisition
        score that chose them (what the rater page explains)."""
        table = self.ranking.set_index("galaxy_id").loc[galaxy_ids]
        return pd.DataFrame(
            {
                "galaxy_id": galaxy_ids,
                "predicted rating": table["predicted"].round(2).to_numpy(),
                "uncertainty": table["uncertainty"].round(2).to_numpy(),
                "score": table["acquisition"].to_numpy(),
            }
        )


def fit_rater(
    ratings: pd.DataFrame,
    galaxy_ids: pd.Series,
    features: np.ndarray,
    oddness: np.ndarray,
    start: Start = "isolation_forest",
    random_state: int = 0,
) -> RaterModel:
    """Fit the finder on one rater's current ratings (deterministic for them).

    Parameters
    ----------
    ratings : DataFrame
        ``galaxy_id``, ``rating`` (ratings of galaxies not in ``galaxy_ids`` are
        ignored).
    galaxy_ids : Series of str
        The catalogue's ids, in the rows of ``features``.
    features : ndarray of shape (n_galaxies, n_components)
        Standardised features.
    oddness : ndarray of shape (n_galaxies,)
        Isolation-forest scores (cold start).
    """
    ids = galaxy_ids.astype(str)
    row_of = pd.Series(np.arange(len(ids)), index=ids)
    known = ratings[ratings["galaxy_id"].isin(row_of.index)]
    rated_rows = row_of[known["galaxy_id"]].to_numpy()
    values = known["rating"].to_numpy()
    finder = AnomalyFinder(start=start, random_state=random_state + len(rated_rows))
    proposal = finder.fit(features, rated_rows, values).propose(features, oddness)
    rating_of = dict(zip(ratings["galaxy_id"], ratings["rating"], strict=True))
    ranking = (
        pd.DataFrame(
            {
                "galaxy_id": ids,
                "interest": ranking_scores(proposal.mean, rated_rows, values),
                "predicted": proposal.mean,
                "uncertainty": proposal.std,
                "acquisition": proposal.acquisition,
                "rating": ids.map(rating_of),
            }
        )
        .sort_values("interest", ascending=False, kind="stable")
        .reset_index(drop=True)
    )
    return RaterModel(ratings, proposal, ranking)


def current_batch(
    saved: dict[str, Any],
    model: RaterModel,
    galaxy_ids: pd.Series,
    key: dict[str, Any],
    retrain: bool = False,
) -> tuple[list[str], dict[str, Any] | None]:
    """The batch to show, and the record to save when it changed.

    The saved batch minus what was rated or skipped; a new one from ``model``
    when it is used up, ``key`` (round, start, features) changed, or
    ``retrain`` is set. ``None`` as the record: keep the saved one.
    """
    done = set(model.ratings["galaxy_id"]) | set(saved.get("skipped", []))
    known = set(galaxy_ids.astype(str))
    remaining = [g for g in saved.get("batch", []) if g not in done and g in known]
    if remaining and not retrain and saved.get("key") == key:
        return remaining, None
    batch = galaxy_ids.iloc[model.proposal.rows].astype(str).tolist()
    return batch, {"key": key, "batch": batch, "skipped": []}


def with_skipped(saved: dict[str, Any], galaxy_id: str) -> dict[str, Any]:
    """The batch record with ``galaxy_id`` left unrated."""
    return saved | {"skipped": [*saved.get("skipped", []), galaxy_id]}
