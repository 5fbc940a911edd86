import numpy as np
import pytest

from morph_core.data.manifest import load_manifest
from morph_core.dataset import dataset_names, open_dataset, own_datasets
from morph_core.errors import MorphCoreError
from morph_core.model.weights import resolve_encoder
from morph_core.pipeline.prepare import prepare


def test_names_and_listing(tmp_path):
    for bad in ("../etc", "/etc", ".hidden", "", "a b"):
        with pytest.raises(MorphCoreError, match="invalid dataset name"):
            open_dataset(bad, tmp_path)
    open_dataset("b", tmp_path).workspace.write_json("source.json", {})
    open_dataset("a", tmp_path).workspace.write_json("source.json", {})
    (tmp_path / "stray").mkdir()
    assert own_datasets(tmp_path) == ["a", "b"]
    assert own_datasets(tmp_path / "absent") == []
    manifest = load_manifest()
    assert dataset_names(manifest, tmp_path) == [*manifest.datasets, "a", "b"]


def test_run_ids_never_leave_the_runs_folder(tmp_path):
    ds = open_dataset("d", tmp_path)
    assert ds.run_folder("20260101-000000-abc123").parent == ds.runs_folder()
    for bad in ("../x", "a/b", "", ".."):
        with pytest.raises(MorphCoreError, match="invalid run id"):
            ds.run_folder(bad)
        with pytest.raises(MorphCoreError, match="invalid run id"):
            ds.predictions_file(bad)


def test_unprepared_dataset_says_so(tmp_path):
    ds = open_dataset("d", tmp_path)
    assert ds.summary() is None and not ds.is_prepared
    with pytest.raises(MorphCoreError, match="not prepared yet"):
        ds.features()
    assert ds.skipped().empty and list(ds.skipped()) == ["galaxy_id", "file", "reason"]


def test_version_changes_with_artefacts_not_with_a_no_op_prepare(prepared_env):
    manifest = load_manifest()
    ds = open_dataset("synthetic", prepared_env)
    before = ds.version()
    prepare(manifest.dataset("synthetic"), ds, resolve_encoder(None, manifest))
    assert ds.version() == before
    ids = ds.catalog()["galaxy_id"]
    table = ids.to_frame().assign(pred_x=np.linspace(0, 1, len(ids)))
    ds.write_predictions("run1", table)
    assert ds.version() != before and "pred_x" in ds.catalog()
    ds.delete_run("run1")
    assert ds.version() == before and "pred_x" not in ds.catalog()
