"""Runs trained by real worker processes, as the monitor page starts them."""

import os
import signal
import time
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from morph_core.data.manifest import load_manifest
from morph_core.dataset import open_dataset
from morph_core.errors import MorphCoreError, WeightsError
from morph_core.model.spec import EncoderSpec
from morph_core.model.weights import resolve_encoder
from morph_core.pipeline.prepare import prepare
from morph_core.runs import queue
from morph_core.runs.apply import apply
from morph_core.runs.folder import RunFolder
from morph_core.runs.sources import LabelSource
from morph_core.runs.sweep import summarise, sweep
from morph_core.training.config import FinetuneConfig
from tests.unit.test_finetune import colour_encoder
from tests.unit.test_weights import hub_folder

SOURCE = LabelSource(
    "column", column="smooth-or-featured_smooth_fraction", threshold=0.5
)
QUICK = FinetuneConfig(n_per_class=4, strategy="head", head_epochs=15)
ENDLESS = FinetuneConfig(
    n_per_class=4, strategy="head", head_epochs=100_000, head_patience=100_000
)


@pytest.fixture
def ds(prepared_env):
    return open_dataset("synthetic", prepared_env)


def _wait(ds, run_id, states, timeout=120):
    folder = RunFolder(ds.run_folder(run_id))
    deadline = time.time() + timeout
    while time.time() < deadline:
        state = folder.status()
        if state["state"] in states:
            return state
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} still {state} after {timeout}s")


def _wait_epochs(ds, run_id, n=1, timeout=120):
    deadline = time.time() + timeout
    while len(queue.history(ds, run_id)) < n:
        assert time.time() < deadline, "no epoch recorded"
        time.sleep(0.5)


@pytest.mark.slow
def test_queue_run_finish_apply_and_delete(ds):
    first = queue.submit(ds, SOURCE, QUICK)
    second = queue.submit(ds, SOURCE, QUICK, init="random")
    listed = queue.list_runs(ds).set_index("run_id")
    assert listed.loc[second, "state"] == "queued"  # one at a time on 2 cores
    assert _wait(ds, first, {"finished", "failed"})["state"] == "finished"
    assert _wait(ds, second, {"finished", "failed"})["state"] == "finished"
    table = queue.list_runs(ds).set_index("run_id")
    assert table.loc[first, "epochs"] == len(queue.history(ds, first))
    assert 0 <= table.loc[first, "test_auc"] <= 1
    (column,) = apply(ds, first)
    catalog = ds.catalog()
    assert catalog[column].between(0, 1).all() and len(catalog) == 48
    queue.delete(ds, first)
    assert column not in ds.catalog()
    assert first not in set(queue.list_runs(ds)["run_id"])


@pytest.mark.slow
@pytest.mark.parametrize("layout", [colour_encoder, hub_folder])
def test_a_colour_dataset_trains_with_its_own_encoder_and_applies(
    prepared_env, tmp_path, layout
):
    """Ours (model.safetensors) and the hub's as Zoobot publishes
    (pytorch_model.bin) prepare, fine-tune and apply alike."""
    manifest = load_manifest()
    colour = resolve_encoder(str(layout(tmp_path / "colour")), manifest)
    ds = open_dataset("colour", prepared_env)
    prepare(manifest.dataset("synthetic"), ds, colour, num_workers=0)
    run_id = queue.submit(
        ds,
        SOURCE,
        FinetuneConfig(n_per_class=4, stages=1, stage_epochs=1, head_epochs=3),
    )
    request = RunFolder(ds.run_folder(run_id)).request()
    assert EncoderSpec.from_record(request["encoder"]) == ds.encoder_spec() == colour
    state = _wait(ds, run_id, {"finished", "failed"}, timeout=240)
    assert state["state"] == "finished", state.get("error")
    (column,) = apply(ds, run_id)
    values = ds.catalog()[column]
    assert values.notna().all() and np.isfinite(values).all()


@pytest.mark.slow
def test_a_killed_worker_is_failed_not_hung(ds):
    run_id = queue.submit(ds, SOURCE, ENDLESS)
    _wait_epochs(ds, run_id)
    pid = RunFolder(ds.run_folder(run_id)).status()["pid"]
    os.kill(pid, signal.SIGKILL)
    state = _wait(ds, run_id, {"failed"}, timeout=20)
    assert "died" in state["error"]


@pytest.mark.slow
def test_stop_and_a_folder_deleted_mid_run(ds):
    stopped = queue.submit(ds, SOURCE, ENDLESS)
    _wait_epochs(ds, stopped)
    queue.stop(ds, stopped)
    assert _wait(ds, stopped, {"stopped", "failed"})["state"] == "stopped"
    doomed = queue.submit(ds, SOURCE, ENDLESS)
    after = queue.submit(ds, SOURCE, QUICK)
    _wait_epochs(ds, doomed)
    queue.delete(ds, doomed)
    assert _wait(ds, after, {"finished", "failed"})["state"] == "finished"


def test_bad_requests_fail_before_anything_is_queued(ds):
    one_class = LabelSource(
        "column", column="smooth-or-featured_smooth_fraction", threshold=2.0
    )
    with pytest.raises(MorphCoreError, match="one class"):
        queue.submit(ds, one_class, QUICK)
    with pytest.raises(MorphCoreError, match="has .* labels"):
        queue.submit(ds, SOURCE, FinetuneConfig(n_per_class=500))
    with pytest.raises(MorphCoreError, match="are none of"):
        queue.submit(ds, SOURCE, QUICK, init="missing.safetensors")
    with pytest.raises(MorphCoreError, match="invalid run id"):
        queue.history(ds, "../../etc")
    assert queue.list_runs(ds).empty


def test_a_hub_folder_whose_pickle_is_no_state_dict_queues_nothing(ds, tmp_path):
    folder = hub_folder(tmp_path / "odd")
    torch.save({"state_dict": {}, "epoch": 3}, folder / "pytorch_model.bin")
    with pytest.raises(WeightsError, match="not a plain state dict"):
        queue.submit(ds, SOURCE, QUICK, init=str(folder))
    assert queue.list_runs(ds).empty


def test_a_sweep_queues_every_count_init_and_repeat(ds, monkeypatch):
    monkeypatch.setenv("MORPH_RUN_WORKERS", "0")  # queued, never trained
    sweep_id, run_ids, dropped = sweep(
        ds, SOURCE, [2, 4, 200], ["pretrained", "random"], 2, QUICK
    )
    assert dropped == [200] and len(run_ids) == 2 * 2 * 2
    runs = queue.list_runs(ds)
    assert set(runs["state"]) == {"queued"} and set(runs["sweep"]) == {sweep_id}
    planned = {
        (n, i, s) for n in (2, 4) for i in ("pretrained", "random") for s in (0, 1)
    }
    queued = set(zip(runs["n_per_class"], runs["init"], runs["seed"], strict=True))
    assert queued == planned
    with pytest.raises(MorphCoreError, match="no label count"):
        sweep(ds, SOURCE, [500], ["pretrained"], 1, QUICK)


def test_sweep_summary_is_mean_and_spread_per_count_and_init():
    runs = dict(
        init=["pretrained"] * 3 + ["random"],
        n_per_class=[10, 10, 20, 10],
        test_auc=[0.8, 0.9, 0.95, 0.5],
        test_accuracy=[0.7, 0.8, 0.9, 0.5],
        test_error=[np.nan] * 4,
    )
    table = summarise(pd.DataFrame(runs)).set_index(["init", "n_per_class"])
    assert table.loc[("pretrained", 10), "test_auc_mean"] == pytest.approx(0.85)
    assert table.loc[("pretrained", 10), "test_auc_std"] == pytest.approx(
        0.0707, abs=1e-4
    )
    assert table.loc[("pretrained", 20), "n_runs"] == 1
    assert table.loc[("random", 10), "test_accuracy_mean"] == 0.5


@pytest.mark.slow
def test_a_vote_count_run_trains_in_a_worker_and_applies_a_column_per_answer(ds):
    votes = LabelSource("votes", questions=("bar", "odd"))
    config = FinetuneConfig(
        n_per_class=20, strategy="head", head_epochs=10, task="votes"
    )
    run_id = queue.submit(ds, votes, config)
    state = _wait(ds, run_id, {"finished", "failed"})
    assert state["state"] == "finished", state.get("error")
    (row,) = queue.list_runs(ds).itertuples()
    assert row.task == "votes" and row.name.startswith("votes on bar, odd, 20 galaxies")
    assert 0 <= row.test_error < 1 and 0 <= row.best_val_error < 1
    assert np.isnan(row.test_auc)
    errors = queue.question_errors(ds, [run_id])
    assert errors.index.tolist() == ["bar", "odd"]
    assert errors[run_id].mean() == pytest.approx(row.test_error, abs=1e-3)
    columns = apply(ds, run_id)
    assert [c.split("_", 2)[2] for c in columns] == [
        "bar_strong_fraction",
        "bar_weak_fraction",
        "bar_no_fraction",
        "odd_yes_fraction",
        "odd_no_fraction",
    ]
    predicted = ds.catalog()[columns]
    assert np.allclose(predicted.iloc[:, :3].sum(axis=1), 1, atol=1e-5)


def test_a_source_gives_only_what_its_task_learns(ds):
    votes = LabelSource("votes")
    for source, config, why in [
        (votes, QUICK, "learnt by the task 'votes'"),
        (SOURCE, replace(QUICK, task="votes"), "vote counts from the catalogue"),
        (
            LabelSource("ratings", rater="ann"),
            replace(QUICK, task="fraction"),
            "a vote fraction is learnt from a catalogue column",
        ),
        (
            LabelSource("votes", questions=("ring",)),
            replace(QUICK, task="votes"),
            "no vote counts for",
        ),
        (
            LabelSource("column", column="radius_px"),
            replace(QUICK, task="fraction"),
            "outside 0..1",
        ),
    ]:
        with pytest.raises(MorphCoreError, match=why):
            queue.submit(ds, source, config)
    assert queue.list_runs(ds).empty


def test_a_regression_sweep_counts_galaxies_and_summarises_the_error(ds, monkeypatch):
    monkeypatch.setenv("MORPH_RUN_WORKERS", "0")  # queued, never trained
    fraction = LabelSource("column", column="has-spiral-arms_yes_fraction")
    config = replace(QUICK, task="fraction")
    _, run_ids, dropped = sweep(ds, fraction, [3, 10, 40], ["pretrained"], 1, config)
    assert dropped == [3, 40] and len(run_ids) == 1  # 4 at least; 48 - 12 held out
    (row,) = queue.list_runs(ds).itertuples()
    assert row.name == "has-spiral-arms_yes_fraction, 10 galaxies, pretrained, seed 0"
    table = summarise(
        pd.DataFrame(
            dict(
                init=["pretrained", "pretrained"],
                n_per_class=[10, 10],
                test_auc=[np.nan, np.nan],
                test_accuracy=[np.nan, np.nan],
                test_error=[0.1, 0.2],
            )
        )
    )
    assert table["test_error_mean"].tolist() == pytest.approx([0.15])
