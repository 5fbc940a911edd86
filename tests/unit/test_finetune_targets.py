"""Regression fine-tuning: a vote fraction (MSE) and the decision tree's vote
counts (Dirichlet-multinomial), from the targets to a reloaded run."""

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import dirichlet_multinomial

from morph_core.data.synthetic.volunteers import QUESTIONS
from morph_core.dataset import open_dataset
from morph_core.errors import MorphCoreError
from morph_core.model.spec import EncoderSpec
from morph_core.training.config import FinetuneConfig
from morph_core.training.finetune import FinetuneRun, finetune, train_run
from morph_core.training.labels import LabelError, labels_from_column
from morph_core.training.targets import (
    fraction_columns,
    fraction_targets,
    vote_questions,
    vote_targets,
)
from morph_core.training.tasks import Votes, dirichlet_multinomial_nll

FRACTION = "has-spiral-arms_yes_fraction"
TREE = list(QUESTIONS)  # the synthetic sky's decision tree


@pytest.fixture
def catalog(prepared_env):
    return open_dataset("synthetic", prepared_env).catalog()


def test_the_synthetic_skys_questions_are_found_and_nothing_else(catalog):
    questions = vote_questions(catalog)
    assert list(questions) == TREE  # not the truth columns (bar, image_seed, ...)
    assert questions["bar"] == ["bar_strong", "bar_weak", "bar_no"]
    targets = vote_targets(catalog, ["bar", "odd"])
    assert targets.columns == ("bar_strong", "bar_weak", "bar_no", "odd_yes", "odd_no")
    assert targets.questions == (("bar", 0, 3), ("odd", 3, 5))
    assert np.array_equal(targets.values, catalog[list(targets.columns)].to_numpy())


def test_counts_of_a_real_catalogue_are_read_as_such():
    table = pd.DataFrame(
        {
            "ring_yes": [3.0, np.nan, 0.0],  # a float column with empty cells
            "ring_no": [1.0, np.nan, 0.0],
            "ring_total-votes": [4, 0, 0],  # a total, not an answer
            "sersic_n": [1.5, 4.0, 2.2],  # a number, not a count
            "has_ring": [True, False, True],
        }
    )
    targets = vote_targets(table)
    assert targets.columns == ("ring_yes", "ring_no")
    assert targets.known.tolist() == [True, False, False]  # no votes: unlabelled
    with pytest.raises(LabelError, match="no vote counts for \\['bar'\\]"):
        vote_targets(table, ["bar"])
    with pytest.raises(LabelError, match="no vote counts in the catalogue"):
        vote_targets(table[["sersic_n"]])


def test_a_fraction_must_be_a_fraction(catalog):
    assert FRACTION in fraction_columns(catalog)
    assert "radius_px" not in fraction_columns(catalog)
    assert fraction_targets(catalog, FRACTION).values.shape == (len(catalog), 1)
    for column, why in [
        ("radius_px", "outside 0..1"),
        ("morphology", "not numeric"),
        ("nope", "no column"),
    ]:
        with pytest.raises(LabelError, match=why):
            fraction_targets(catalog, column)
    with pytest.raises(LabelError, match="same for every galaxy"):
        fraction_targets(catalog.assign(flat=0.5), "flat")


def test_the_test_set_depends_on_the_seed_only(catalog):
    targets = vote_targets(catalog)
    small, large, other = (
        targets.split(8, 0),
        targets.split(30, 0),
        targets.split(8, 0, draw=1),
    )
    assert np.array_equal(small.test, large.test)
    assert np.array_equal(small.test, other.test)
    assert set(small.train) != set(other.train)
    assert (len(small.train), len(small.val), len(small.test)) == (6, 2, 12)
    assert not set(large.train) & set(large.test)
    with pytest.raises(LabelError, match="48 labelled galaxies"):
        targets.split(40, 0)


def test_the_dirichlet_multinomial_likelihood_is_the_textbook_one():
    alpha = torch.tensor([[2.0, 3.0, 1.5, 4.0, 1.0], [1.0, 1.0, 9.0, 1.0, 30.0]])
    counts = torch.tensor([[5.0, 2.0, 0.0, 3.0, 4.0], [0.0, 0.0, 0.0, 10.0, 0.0]])
    questions = (("a", 0, 3), ("b", 3, 5))
    nll = dirichlet_multinomial_nll(alpha, counts, questions)
    both = -dirichlet_multinomial.logpmf(
        counts[0, :3], alpha[0, :3], 7
    ) - dirichlet_multinomial.logpmf(counts[0, 3:], alpha[0, 3:], 7)
    assert nll[0] == pytest.approx(both, rel=1e-5)
    only_b = -dirichlet_multinomial.logpmf(counts[1, 3:], alpha[1, 3:], 10)
    assert nll[1] == pytest.approx(only_b, rel=1e-5)  # nobody answered "a"


def test_votes_predict_a_fraction_per_answer_that_sums_to_one_per_question():
    task = Votes((("a", 0, 3), ("b", 3, 5)))
    predicted = task.predict(torch.randn(4, 5) * 3)
    assert torch.allclose(predicted[:, :3].sum(1), torch.ones(4))
    assert torch.allclose(predicted[:, 3:].sum(1), torch.ones(4))
    right = torch.tensor([[4.0, -4, -4, 0, 0]])
    wrong = torch.tensor([[-4.0, 4, -4, 0, 0]])
    votes = torch.tensor([[20.0, 1, 0, 0, 0]])
    assert task.loss(right, votes) < task.loss(wrong, votes)
    scores = task.metrics(right, votes)
    assert scores["error/a"] < task.metrics(wrong, votes)["error/a"]
    assert np.isnan(scores["error/b"]) and scores["error"] == scores["error/a"]


@pytest.mark.parametrize(
    ("task", "column", "outputs"),
    [("fraction", FRACTION, 1), ("votes", None, 38)],
)
def test_a_tiny_regression_learns_and_reloads_to_identical_outputs(
    catalog, tmp_path, task, column, outputs
):
    run = finetune(
        catalog,
        column,
        n_labels=20,
        task=task,
        folder=tmp_path / "run",
        head_epochs=30,
        head_patience=30,
        stages=1,
        stage_epochs=2,
    )
    head = [r["train_loss"] for r in run.history if r["stage"] == "head"]
    assert np.mean(head[-5:]) < head[0]
    assert {"head", "top"} == {r["stage"] for r in run.history}
    assert {"loss", "error", "n_test"} <= set(run.test) and "auc" not in run.test
    assert 0 <= run.test["error"] < 1
    p = run.predict(catalog)
    assert p.shape == (len(catalog), outputs) and ((p >= 0) & (p <= 1)).all()
    again = FinetuneRun.load(tmp_path / "run")
    assert again.questions == run.questions and again.classes == run.classes
    assert np.allclose(p, again.predict(catalog), atol=1e-6)
    if task == "votes":
        assert {f"error/{q}" for q in TREE} <= set(run.test)
        assert np.allclose(p[:, :3].sum(1), 1, atol=1e-5)  # smooth-or-featured


def test_a_task_learns_only_from_its_kind_of_labels(catalog):
    labels = labels_from_column(catalog, FRACTION, threshold=0.5)
    with pytest.raises(MorphCoreError, match="task 'votes' does not learn"):
        train_run(
            catalog,
            labels,
            labels.split(4),
            None,
            FinetuneConfig(n_per_class=4, strategy="head", task="votes"),
            features=np.zeros((len(catalog), 8), np.float32),
        )
    assert FinetuneConfig().head_dropout == 0.75  # the paper's, for classes
    assert FinetuneConfig(task="votes").head_dropout == 0.2  # Zoobot's
    assert FinetuneConfig(task="fraction", dropout=0.5).head_dropout == 0.5
    with pytest.raises(MorphCoreError, match="dropout must be in"):
        FinetuneConfig(dropout=1.0)
    with pytest.raises(MorphCoreError, match="unknown task"):
        FinetuneConfig(task="segment")
    with pytest.raises(MorphCoreError, match="at least 4 labelled"):
        FinetuneConfig(task="fraction", n_per_class=3)


def test_vote_counts_train_a_colour_convnext_unfrozen_and_reload(catalog, tmp_path):
    spec = EncoderSpec(
        architecture="convnext_nano",
        channels=3,
        image_size=32,
        mean=(0.5,) * 3,
        std=(0.25,) * 3,
    )
    run = finetune(
        catalog,
        "bar",
        n_labels=20,
        task="votes",
        init=spec,
        folder=tmp_path / "run",
        head_epochs=3,
        stages=2,
        stage_epochs=1,
    )
    stages = list(dict.fromkeys(r["stage"] for r in run.history))
    assert stages[0] == "head" and len(stages) == 3  # the head, then two stages
    assert run.classes == ("bar_strong", "bar_weak", "bar_no")
    p = run.predict(catalog)
    assert p.shape == (len(catalog), 3) and np.allclose(p.sum(1), 1, atol=1e-5)
    again = FinetuneRun.load(tmp_path / "run")
    assert again.spec == spec and again.config.task == "votes"
    np.testing.assert_allclose(again.predict(catalog), p, atol=1e-6)
