"""A public server in the library: every refusal of the policy, tested without a
browser, and local mode keeping every feature."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from morph_core import access
from morph_core.access import Refused, Visitor
from morph_core.data.manifest import load_manifest
from morph_core.dataset import folder_entry, open_dataset
from morph_core.errors import MorphCoreError
from morph_core.model.weights import resolve_encoder
from morph_core.pipeline.prepare import prepare
from morph_core.pipeline.umap import recompute_umap
from morph_core.runs import queue
from morph_core.runs.apply import apply
from morph_core.runs.folder import RunFolder, now
from morph_core.runs.sources import LabelSource
from morph_core.runs.sweep import sweep
from morph_core.training.config import FinetuneConfig

SOURCE = LabelSource(
    "column", column="smooth-or-featured_smooth_fraction", threshold=0.5
)
QUICK = FinetuneConfig(n_per_class=4, strategy="head", head_epochs=15)
ANN = Visitor(access.new_key(), "ann")
BOB = Visitor(access.new_key(), "bob")
ADMIN = Visitor(access.new_key(), "host", "admin")


@pytest.fixture
def public(prepared_env, monkeypatch):
    monkeypatch.setenv("MORPH_MODE", "public")
    monkeypatch.setenv("MORPH_RUN_WORKERS", "0")  # queued, never trained
    return open_dataset("synthetic", prepared_env)


def test_visitors_cannot_prepare_recompute_or_name_server_paths(public, tmp_path):
    spec = resolve_encoder(None, load_manifest())
    entry = public.source_entry()
    with pytest.raises(Refused, match="admins only"):
        prepare(entry, public, spec, visitor=ANN)
    with pytest.raises(Refused, match="admins only"):
        folder_entry("mine", tmp_path, visitor=ANN)
    with pytest.raises(Refused, match="admins only"):
        recompute_umap(public, 5, 0.5, visitor=ANN)
    assert not public.has_umap(5, 0.5)
    with pytest.raises(Refused, match="admins only"):
        queue.submit(
            public, SOURCE, QUICK, init="/root/weights.safetensors", visitor=ANN
        )
    assert queue.list_runs(public).empty


def test_runs_belong_to_their_visitor(public):
    run_id = queue.submit(public, SOURCE, QUICK, visitor=ANN)
    assert queue.list_runs(public, ANN)["run_id"].tolist() == [run_id]
    assert queue.list_runs(public, BOB).empty
    assert queue.list_runs(public, ADMIN)["run_id"].tolist() == [run_id]
    for act in (queue.history, queue.stop, queue.delete):
        with pytest.raises(MorphCoreError, match="no run"):
            act(public, run_id, BOB)
    with pytest.raises(MorphCoreError, match="no run"):
        apply(public, run_id, visitor=BOB)
    assert RunFolder(public.run_folder(run_id)).status()["state"] == "queued"
    queue.stop(public, run_id, ANN)
    assert queue.list_runs(public, ANN)["state"].tolist() == ["stopped"]


def test_quotas_hold_and_say_why(public, monkeypatch):
    with pytest.raises(Refused, match="At most 200 labels per class"):
        queue.submit(public, SOURCE, FinetuneConfig(n_per_class=201), visitor=ANN)
    limit = access.PUBLIC_LIMITS.runs_per_visitor
    for _ in range(limit):
        queue.submit(public, SOURCE, QUICK, visitor=ANN)
    with pytest.raises(Refused, match=f"at most {limit} at once"):
        queue.submit(public, SOURCE, QUICK, visitor=ANN)
    queue.submit(public, SOURCE, QUICK, visitor=ADMIN)  # admins have no quota
    monkeypatch.setattr(
        access, "PUBLIC_LIMITS", replace(access.PUBLIC_LIMITS, queue_total=limit + 1)
    )
    with pytest.raises(Refused, match="The queue is full"):
        queue.submit(public, SOURCE, QUICK, visitor=BOB)
    assert len(queue.list_runs(public, ADMIN)) == limit + 1


def test_sweeps_are_capped(public):
    with pytest.raises(Refused, match="at most 12 runs"):
        sweep(public, SOURCE, [2, 4, 6, 8, 10], ["pretrained", "random"], 2, QUICK, BOB)
    with pytest.raises(Refused, match="at most 3 at once"):
        sweep(public, SOURCE, [2, 4], ["pretrained", "random"], 1, QUICK, BOB)
    assert queue.list_runs(public, ADMIN).empty
    sweep_id, run_ids, _ = sweep(public, SOURCE, [2, 4], ["pretrained"], 1, QUICK, BOB)
    assert len(run_ids) == 2


def test_a_run_learns_only_from_its_visitors_own_ratings(public):
    store = public.rating_store()
    for i, galaxy in enumerate(public.catalog()["galaxy_id"][:12]):
        store.rate(ANN.key, galaxy, i % 2 * 5)
    theirs = LabelSource("ratings", rater=ANN.key, positive_from=3)
    with pytest.raises(Refused, match="only from your own ratings"):
        queue.submit(public, theirs, FinetuneConfig(n_per_class=2), visitor=BOB)
    queue.submit(public, theirs, FinetuneConfig(n_per_class=2), visitor=ANN)


def test_the_queue_takes_turns_between_visitors(public, monkeypatch):
    monkeypatch.setenv("MORPH_RUN_WORKERS", "1")
    started = []

    def launch(folder):  # no worker: mark it running, as _launch does
        started.append(folder.request()["owner"])
        folder.write_status({"state": "running", "pid": 1, "started_at": now()})

    monkeypatch.setattr(queue, "_launch", launch)
    monkeypatch.setattr(RunFolder, "_alive", lambda self, pid: True)
    monkeypatch.setenv("MORPH_RUN_WORKERS", "0")
    for _ in range(3):
        queue.submit(public, SOURCE, QUICK, visitor=ANN)
    queue.submit(public, SOURCE, QUICK, visitor=BOB)
    monkeypatch.setenv("MORPH_RUN_WORKERS", "1")
    for _ in range(4):
        queue.start_queued(public)
        for run_id in queue.list_runs(public)["run_id"]:
            folder = RunFolder(public.run_folder(run_id))
            if folder.status()["state"] == "running":
                folder.write_status(folder.status() | {"state": "finished"})
    assert started == [ANN.key, BOB.key, ANN.key, ANN.key]


def test_applied_columns_are_the_visitors_own(public):
    catalog = public.catalog()
    column = pd.DataFrame({"galaxy_id": catalog["galaxy_id"], "pred_x": 0.5})
    public.write_predictions("run1", column, owner=ANN.key)
    assert "pred_x" not in public.catalog()
    assert "pred_x" in public.own_columns(ANN.key, catalog)
    assert "pred_x" not in public.own_columns(BOB.key, catalog)
    public.delete_run("run1")
    assert "pred_x" not in public.own_columns(ANN.key, catalog)


def test_local_mode_keeps_every_feature(prepared_env, monkeypatch):
    monkeypatch.delenv("MORPH_MODE", raising=False)
    monkeypatch.setenv("MORPH_RUN_WORKERS", "0")
    ds = open_dataset("synthetic", prepared_env)
    run_ids = [queue.submit(ds, SOURCE, QUICK, visitor=ANN) for _ in range(5)]
    assert set(queue.list_runs(ds, BOB)["run_id"]) == set(run_ids)  # one user
    queue.stop(ds, run_ids[0], BOB)
    embedding = recompute_umap(ds, 5, 0.5, visitor=BOB)
    assert np.isfinite(embedding).all()
    queue.submit(ds, SOURCE, FinetuneConfig(n_per_class=4, seed=1), visitor=BOB)
