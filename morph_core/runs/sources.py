"""Where a run's labels come from: a catalogue column, a rater's ratings,
galaxies marked positive and negative (e.g. in the explorer), or the
catalogue's vote counts."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from morph_core.dataset import PreparedDataset
from morph_core.errors import MorphCoreError
from morph_core.training.config import Task
from morph_core.training.labels import (
    LabelError,
    Labels,
    labels_from_column,
    labels_from_ids,
    labels_from_ratings,
)
from morph_core.training.targets import Targets, fraction_targets, vote_targets

KINDS = ("column", "ratings", "ids", "votes")


@dataclass(frozen=True)
class LabelSource:
    """A run's labels, as a request records them.

    Attributes
    ----------
    kind : {"column", "ratings", "ids", "votes"}
    column, threshold
        For "column": the column, and the value from which a number is "yes"
        (none: a fraction to regress, or classes).
    rater, positive_from
        For "ratings": whose ratings, and from which rating a galaxy is "yes".
    positive, negative
        For "ids": the galaxies marked yes and no.
    questions
        For "votes": the questions whose vote counts to learn (none: all).
    """

    kind: str
    column: str | None = None
    threshold: float | None = None
    rater: str | None = None
    positive_from: int = 3
    positive: tuple[str, ...] = ()
    negative: tuple[str, ...] = ()
    questions: tuple[str, ...] = ()

    @classmethod
    def from_record(cls, record: dict) -> LabelSource:
        """The source a request's JSON holds (lists back to tuples)."""
        lists = ("positive", "negative", "questions")
        return cls(**(record | {k: tuple(record.get(k, ())) for k in lists}))

    def targets(
        self, dataset: PreparedDataset, catalog: pd.DataFrame, task: Task
    ) -> Labels | Targets:
        """What a run of ``task`` learns: :meth:`labels` to classify, a
        column's fraction, or the vote counts.

        Raises
        ------
        MorphCoreError
            A source that does not give what the task learns; bad labels.
        """
        if task == "classify":
            if self.kind == "votes":
                raise LabelError("vote counts are learnt by the task 'votes'")
            return self.labels(dataset, catalog)
        if task == "fraction" and self.kind == "column":
            return fraction_targets(catalog, str(self.column))
        if task == "votes" and self.kind == "votes":
            return vote_targets(catalog, self.questions)
        raise LabelError(
            "a vote fraction is learnt from a catalogue column, vote counts from "
            f"the catalogue's votes (task {task!r}, labels from {self.kind!r})"
        )

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
        if self.kind == "votes":
            raise LabelError("vote counts are not classes: use the task 'votes'")
        raise MorphCoreError(f"unknown label source {self.kind!r}; use one of {KINDS}")

    def describe(self) -> str:
        if self.kind == "column":
            return str(self.column) + (
                f" >= {self.threshold:g}" if self.threshold is not None else ""
            )
        if self.kind == "ratings":
            return f"ratings of {self.rater} (>= {self.positive_from} is yes)"
        if self.kind == "votes":
            return "votes on " + (
                ", ".join(self.questions) if self.questions else "every question"
            )
        return f"{len(self.positive)} marked yes, {len(self.negative)} marked no"
