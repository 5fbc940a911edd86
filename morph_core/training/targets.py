"""Regression targets for fine-tuning: one vote fraction, or the vote counts of
decision-tree questions (``{question}_{answer}`` count columns, as Galaxy Zoo
catalogues have); and their seeded random train / validation / test split."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from morph_core.training.labels import (
    MAX_TEST_PER_CLASS,
    TEST_FRACTION,
    VAL_FRACTION,
    LabelError,
    Split,
    label_columns,
)

MAX_TEST = 2 * MAX_TEST_PER_CLASS  # as many galaxies as a binary test set
_COUNT_COLUMN = re.compile(r"^([^_]+)_([^_]+)$")  # question_answer, no more "_"


@dataclass(frozen=True)
class Targets:
    """Numbers to regress per catalogue row (NaN: unlabelled).

    Attributes
    ----------
    values : ndarray
        ``(n_rows, n_columns)`` float32: a fraction, or vote counts.
    columns : tuple of str
        The catalogue column of each value.
    questions : tuple of (question, start, stop)
        For vote counts: each question's columns ``values[:, start:stop]``;
        empty for a fraction.
    """

    values: np.ndarray
    columns: tuple[str, ...]
    questions: tuple[tuple[str, int, int], ...] = ()

    @property
    def known(self) -> np.ndarray:
        """Rows with a target: a fraction, or at least one vote."""
        if self.questions:
            return np.nan_to_num(self.values).sum(1) > 0
        return ~np.isnan(self.values).any(1)

    def counts(self) -> dict[str, int]:
        return {"labelled": int(self.known.sum())}

    def split(self, n: int, seed: int = 0, draw: int = 0) -> Split:
        """A fixed random test set (a quarter of the labelled rows, at most
        :data:`MAX_TEST`; from ``seed`` only), then ``n`` rows for training and
        validation (80/20), another pick for each ``draw``.

        Raises
        ------
        LabelError
            Fewer than ``n`` labelled rows beyond the test set.
        """
        rows = np.random.default_rng(seed).permutation(np.flatnonzero(self.known))
        n_test = min(int(len(rows) * TEST_FRACTION), MAX_TEST)
        held, rest = rows[:n_test], rows[n_test:]
        if n < 4 or len(rest) < n or n_test == 0:
            raise LabelError(
                f"{len(rows)} labelled galaxies: {n} for training (at least 4) "
                f"and {n_test} for the test set need {n + max(n_test, 1)}"
            )
        if draw:
            rest = np.random.default_rng([seed, draw]).permutation(rest)
        chosen = rest[:n]
        n_val = max(1, int(round(n * VAL_FRACTION)))
        return Split(*(np.sort(p) for p in (chosen[n_val:], chosen[:n_val], held)))


def fraction_targets(catalog: pd.DataFrame, column: str) -> Targets:
    """One vote fraction (numbers in [0, 1]; empty cells are unlabelled)."""
    if column not in catalog.columns:
        raise LabelError(f"no column {column!r} in the catalogue")
    values = pd.to_numeric(catalog[column], errors="coerce").to_numpy(np.float32)
    given = catalog[column].notna().to_numpy()
    if np.isnan(values[given]).any():
        raise LabelError(f"{column!r} is not numeric: a fraction is a number")
    if ((values[given] < 0) | (values[given] > 1)).any():
        raise LabelError(f"{column!r} has values outside 0..1: it is not a fraction")
    if np.nanstd(values) == 0:
        raise LabelError(f"{column!r} is the same for every galaxy: nothing to learn")
    return Targets(values[:, None], (column,))


def fraction_columns(catalog: pd.DataFrame) -> list[str]:
    """Columns a fraction regression can learn: numbers within 0..1 (not all
    equal, not true/false), vote fractions first."""
    return [
        name
        for name in label_columns(catalog)
        if pd.api.types.is_float_dtype(catalog[name])
        and catalog[name].min() >= 0
        and catalog[name].max() <= 1
        and catalog[name].nunique() > 1
    ]


def vote_questions(catalog: pd.DataFrame) -> dict[str, list[str]]:
    """The catalogue's decision-tree questions: ``{question}_{answer}`` columns
    of whole non-negative numbers (vote counts; empty cells are no votes), two
    answers or more; totals (``..._total-votes``) are not answers."""
    questions: dict[str, list[str]] = {}
    for name in catalog.columns:
        match = _COUNT_COLUMN.match(str(name))
        values = catalog[name]
        if (
            not match
            or match.group(2).startswith("total")
            or not pd.api.types.is_numeric_dtype(values)
            or pd.api.types.is_bool_dtype(values)
        ):
            continue
        given = values.dropna()
        if (given < 0).any() or (given != np.round(given)).any():
            continue
        questions.setdefault(match.group(1), []).append(str(name))
    return {q: answers for q, answers in questions.items() if len(answers) >= 2}


def vote_targets(
    catalog: pd.DataFrame, questions: list[str] | tuple[str, ...] = ()
) -> Targets:
    """The vote counts of ``questions`` (none named: every question found by
    :func:`vote_questions`)."""
    found = vote_questions(catalog)
    if not found:
        raise LabelError(
            "no vote counts in the catalogue: they are whole-number columns "
            "named question_answer, e.g. smooth-or-featured_smooth"
        )
    unknown = [q for q in questions if q not in found]
    if unknown:
        raise LabelError(f"no vote counts for {unknown}; there are {sorted(found)}")
    columns: list[str] = []
    slices = []
    for question in questions or list(found):
        start = len(columns)
        columns += found[question]
        slices.append((question, start, len(columns)))
    values = np.nan_to_num(catalog[columns].to_numpy(np.float32))
    return Targets(values, tuple(columns), tuple(slices))
