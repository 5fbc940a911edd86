"""Runs trained by real worker processes, as the monitor page starts them."""

import os
import signal
import time

import pytest

from morph_core.errors import MorphCoreError
from morph_core.finetune import runs
from morph_core.finetune.train import FineTuneConfig
from morph_core.workspace import open_workspace

SOURCE = runs.LabelSource(
    "column", column="smooth-or-featured_smooth_fraction", threshold=0.5
)
QUICK = FineTuneConfig(n_per_class=4, strategy="head", head_epochs=15)
ENDLESS = FineTuneConfig(
    n_per_class=4, strategy="head", head_epochs=100_000, head_patience=100_000
)


@pytest.fixture
def ws(prepared_env):
    return open_workspace("synthetic", prepared_env)


def _wait(ws, run_id, states, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        state = runs.status(ws.file(f"runs/{run_id}"))
        if state["state"] in states:
            return state
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} still {state} after {timeout}s")


def _wait_epochs(ws, run_id, n=1, timeout=120):
    deadline = time.time() + timeout
    while len(runs.metrics(ws.file(f"runs/{run_id}"))) < n:
        assert time.time() < deadline, "no epoch recorded"
        time.sleep(0.5)


def test_queue_run_finish_apply_and_delete(ws):
    first = runs.submit(ws, SOURCE, QUICK)
    second = runs.submit(ws, SOURCE, QUICK, init="random")
    listed = runs.list_runs(ws).set_index("run_id")
    assert listed.loc[second, "state"] == "queued"  # one at a time on 2 cores
    assert _wait(ws, first, {"finished", "failed"})["state"] == "finished"
    assert _wait(ws, second, {"finished", "failed"})["state"] == "finished"
    table = runs.list_runs(ws).set_index("run_id")
    assert table.loc[first, "epochs"] == len(runs.metrics(ws.file(f"runs/{first}")))
    assert 0 <= table.loc[first, "test_auc"] <= 1
    column = runs.apply(ws, first)
    catalog = ws.catalog()
    assert catalog[column].between(0, 1).all() and len(catalog) == 48
    runs.delete(ws, first)
    assert column not in ws.catalog()
    assert first not in set(runs.list_runs(ws)["run_id"])


def test_a_killed_worker_is_failed_not_hung(ws):
    run_id = runs.submit(ws, SOURCE, ENDLESS)
    _wait_epochs(ws, run_id)
    pid = runs.status(ws.file(f"runs/{run_id}"))["pid"]
    os.kill(pid, signal.SIGKILL)
    state = _wait(ws, run_id, {"failed"}, timeout=20)
    assert "died" in state["error"]


def test_stop_and_a_folder_deleted_mid_run(ws):
    stopped = runs.submit(ws, SOURCE, ENDLESS)
    _wait_epochs(ws, stopped)
    runs.stop(ws, stopped)
    assert _wait(ws, stopped, {"stopped", "failed"})["state"] == "stopped"
    doomed = runs.submit(ws, SOURCE, ENDLESS)
    after = runs.submit(ws, SOURCE, QUICK)
    _wait_epochs(ws, doomed)
    runs.delete(ws, doomed)
    assert _wait(ws, after, {"finished", "failed"})["state"] == "finished"


def test_bad_requests_fail_before_anything_is_queued(ws):
    one_class = runs.LabelSource(
        "column", column="smooth-or-featured_smooth_fraction", threshold=2.0
    )
    with pytest.raises(MorphCoreError, match="one class"):
        runs.submit(ws, one_class, QUICK)
    with pytest.raises(MorphCoreError, match="has .* labels"):
        runs.submit(ws, SOURCE, FineTuneConfig(n_per_class=500))
    with pytest.raises(MorphCoreError, match="init must be"):
        runs.submit(ws, SOURCE, QUICK, init="missing.safetensors")
    assert runs.list_runs(ws).empty
