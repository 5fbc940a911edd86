"""Labels for fine-tuning: from a catalogue column (with a threshold), from a
rater's ratings, or from galaxies marked positive and negative; and the seeded,
class-balanced train / validation / test split."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from morph_core.data.catalog import descriptive_columns
from morph_core.errors import MorphCoreError

TEST_FRACTION = 0.25  # of the smallest class, held out of every class first
MAX_TEST_PER_CLASS = 250
VAL_FRACTION = 0.2  # of the labels drawn for training


class LabelError(MorphCoreError):
    """Labels that cannot train a classifier (one class, too few, not binary)."""


@dataclass(frozen=True)
class Labels:
    """Class index per catalogue row (-1: unlabelled) and the class names."""

    values: np.ndarray
    classes: tuple[str, ...]

    @property
    def binary(self) -> bool:
        return len(self.classes) == 2

    def counts(self) -> dict[str, int]:
        return {c: int((self.values == i).sum()) for i, c in enumerate(self.classes)}

    def split(self, n_per_class: int, seed: int = 0, draw: int = 0) -> Split:
        """:func:`balanced_split` of these labels."""
        return balanced_split(self, n_per_class, seed, draw)


def label_columns(catalog: pd.DataFrame) -> list[str]:
    """Catalogue columns a classifier can learn, likeliest first: true/false
    columns, vote fractions, class names, then other numbers (never positions or
    the columns of classifiers applied before)."""
    usable = [
        name
        for name in descriptive_columns(catalog)
        if catalog[name].notna().any()
        and not name.startswith("pred_")
        and name not in ("ra", "dec")
    ]

    def rank(name: str) -> int:
        values = catalog[name]
        if pd.api.types.is_bool_dtype(values):
            return 0
        if name.endswith("_fraction"):
            return 1
        return 2 if not pd.api.types.is_numeric_dtype(values) else 3

    return sorted(usable, key=rank)


def labels_from_column(
    catalog: pd.DataFrame, column: str, threshold: float | None = None
) -> Labels:
    """Labels from a catalogue column.

    With ``threshold``, a numeric column gives 1 where value >= threshold
    (e.g. a vote fraction). Without, the column must be binary (0/1, True/False)
    or name classes (text, 2+ values). Empty cells are unlabelled.
    """
    if column not in catalog.columns:
        raise LabelError(f"no column {column!r} in the catalogue")
    series = catalog[column]
    known = series.notna().to_numpy()
    values = np.full(len(series), -1)
    if threshold is not None:
        numeric = pd.to_numeric(series, errors="coerce")
        if numeric[known].isna().any():
            raise LabelError(f"{column!r} is not numeric: a threshold needs numbers")
        values[known] = (numeric[known] >= threshold).astype(int)
        return _checked(Labels(values, ("no", "yes")), column)
    unique = pd.unique(series[known])
    if pd.api.types.is_bool_dtype(series) or set(unique) <= {0, 1}:
        values[known] = series[known].astype(int)
        return _checked(Labels(values, ("no", "yes")), column)
    if pd.api.types.is_numeric_dtype(series):
        raise LabelError(
            f"{column!r} holds non-binary numbers ({len(unique)} values): give a "
            "threshold, e.g. 0.5 for a vote fraction"
        )
    classes = tuple(sorted(map(str, unique)))
    index = {c: i for i, c in enumerate(classes)}
    values[known] = [index[str(v)] for v in series[known]]
    return _checked(Labels(values, classes), column)


def labels_from_ratings(
    catalog: pd.DataFrame, ratings: pd.DataFrame, positive_from: int = 3
) -> Labels:
    """A rater's ratings: ``rating >= positive_from`` is "yes", lower is "no"."""
    rating = (
        catalog["galaxy_id"]
        .astype(str)
        .map(
            dict(zip(ratings["galaxy_id"].astype(str), ratings["rating"], strict=True))
        )
    )
    values = np.where(rating.isna(), -1, (rating >= positive_from).astype(int))
    return _checked(Labels(values, ("no", "yes")), "ratings")


def labels_from_ids(
    catalog: pd.DataFrame, positive: list[str], negative: list[str]
) -> Labels:
    """Galaxies marked positive and negative (e.g. selected in the explorer)."""
    overlap = set(positive) & set(negative)
    if overlap:
        raise LabelError(
            f"{len(overlap)} galaxies are marked both positive and negative"
        )
    ids = catalog["galaxy_id"].astype(str)
    values = np.where(ids.isin(positive), 1, np.where(ids.isin(negative), 0, -1))
    return _checked(Labels(values, ("no", "yes")), "marked galaxies")


def _checked(labels: Labels, source: str) -> Labels:
    present = [c for c, n in labels.counts().items() if n > 0]
    if len(present) < 2:
        raise LabelError(
            f"{source}: every labelled galaxy is in one class "
            f"({present[0] if present else 'none labelled'}); a classifier needs two"
        )
    return labels


@dataclass(frozen=True)
class Split:
    """Catalogue rows of each part."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def balanced_split(
    labels: Labels, n_per_class: int, seed: int = 0, draw: int = 0
) -> Split:
    """A fixed, balanced test set, then ``n_per_class`` labels of each class for
    training and validation (80/20, at least one of each class in each).

    The test set holds the same number of each class (a quarter of the smallest
    class, at most :data:`MAX_TEST_PER_CLASS`), so accuracy has chance level
    1 / n_classes; it depends on the seed only, not on ``n_per_class`` or
    ``draw``, so runs with different label counts are scored on the same
    galaxies. ``draw`` > 0 picks another random set of training labels (a
    class's runs: each person their own labels, one test set).

    Raises
    ------
    LabelError
        A class has fewer than ``n_per_class`` labels beyond its test share.
    """
    if n_per_class < 2:
        raise LabelError("at least 2 labels per class are needed (1 train, 1 val)")
    rng = np.random.default_rng(seed)
    smallest = min(labels.counts().values())
    n_test = min(int(smallest * TEST_FRACTION), MAX_TEST_PER_CLASS)
    train, val, test = [], [], []
    for k, name in enumerate(labels.classes):
        rows = rng.permutation(np.flatnonzero(labels.values == k))
        held, rest = rows[:n_test], rows[n_test:]
        if len(rest) < n_per_class or n_test == 0:
            raise LabelError(
                f"class {name!r} has {len(rows)} labels: {n_per_class} for training "
                f"and {n_test} for the test set need {n_per_class + max(n_test, 1)}"
            )
        if draw:
            rest = np.random.default_rng([seed, draw, k]).permutation(rest)
        chosen = rest[:n_per_class]
        n_val = max(1, int(round(n_per_class * VAL_FRACTION)))
        val.append(chosen[:n_val])
        train.append(chosen[n_val:])
        test.append(held)
    return Split(*(np.sort(np.concatenate(p)) for p in (train, val, test)))
