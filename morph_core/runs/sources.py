"""Where a run's labels come from: a catalogue column, a rater's ratings, or
galaxies marked positive and negative (e.g. in the explorer)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from morph_core.dataset import PreparedDataset
from morph_core.errors import MorphCoreError
from morph_core.training.labels import (
    Labels,
    labels_from_column,
    labels_from_ids,
    labels_from_ratings,
)

KINDS = ("column", "ratings", "ids")


@dataclass(frozen=True)
class LabelSource:
    """A run's labels, as a request records them.

    Attributes
    ----------
    kind : {"column", "ratings", "ids"}
    column, threshold
        For "column": the column, and the value from which a number is "yes".
    rater, positive_from
        For "ratings": whose ratings, and from which rating a galaxy is "yes".
    positive, negative
        For "ids": the galaxies marked yes and no.
    """

    kind: str
    column: str | None = None
    threshold: float | None = None
    rater: str | None = None
    positive_from: int = 3
    positive: tuple[str, ...] = ()
    negative: tuple[str, ...] = ()

    @classmethod
    def from_record(cls, record: dict) -> LabelSource:
        """The source a request's JSON holds (lists back to tuples)."""
        fix = {k: tuple(record.get(k, ())) for k in ("positive", "negative")}
        return cls(**(record | fix))

    def labels(self, dataset: PreparedDataset, catalog: pd.DataFrame) -> Labels:
        """The labels of ``catalog``'s rows.

        Raises
        ------
        MorphCoreError
            An unknown kind; labels that cannot train a classifier.
        """
        if self.kind == "column":
            return labels_from_column(catalog, str(self.column), self.threshold)
        if self.kind == "ratings":
            ratings = dataset.rating_store().ratings(str(self.rater))
            return labels_from_ratings(catalog, ratings, self.positive_from)
        if self.kind == "ids":
            return labels_from_ids(catalog, list(self.positive), list(self.negative))
        raise MorphCoreError(f"unknown label source {self.kind!r}; use one of {KINDS}")

    def describe(self) -> str:
        if self.kind == "column":
            return str(self.column) + (
                f" >= {self.threshold:g}" if self.threshold is not None else ""
            )
        if self.kind == "ratings":
            return f"ratings of {self.rater} (>= {self.positive_from} is yes)"
        return f"{len(self.positive)} marked yes, {len(self.negative)} marked no"
