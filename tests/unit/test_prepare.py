import time

import numpy as np
import pytest
from PIL import Image

from morph_core.access import OPERATOR
from morph_core.data.manifest import load_manifest
from morph_core.dataset import folder_entry, open_dataset, own_datasets
from morph_core.errors import CatalogError, MorphCoreError
from morph_core.model import encoder
from morph_core.model.encoder import embed_files
from morph_core.model.weights import resolve_encoder
from morph_core.pipeline import embed
from morph_core.pipeline.anomaly import stored_features, stored_oddness
from morph_core.pipeline.prepare import STAGES, prepare
from morph_core.runs.background import prepare_in_background, preparing
from morph_core.tools.anomaly.baseline import isolation_scores
from morph_core.tools.anomaly.features import FEATURE_SETS, anomaly_features


@pytest.fixture
def setup(env):
    manifest = load_manifest()
    return manifest, resolve_encoder(None, manifest), env


def test_synthetic_end_to_end_then_cached(setup):
    manifest, spec, root = setup
    ws = open_dataset("synthetic", root)
    stages = []
    first = prepare(
        manifest.dataset("synthetic"),
        ws,
        spec,
        num_workers=0,
        progress=lambda s, d, n: stages.append(s),
    )
    assert first.n_galaxies == 48 and first.n_embedded == 48 and len(first.skipped) == 0
    assert list(dict.fromkeys(stages)) == list(STAGES)
    features = np.array(ws.features())
    assert features.shape == (48, 1280) and np.isfinite(features).all()
    assert ws.pca_features(10).shape == (48, 10)
    assert ws.umap(15, 0.1).shape == (48, 2)
    assert (
        ws.catalog()["galaxy_id"].tolist()
        == ws.workspace.read_table(ws.embedded_file())["galaxy_id"].tolist()
    )
    v = first.variance_explained
    assert 0 < v["10"] < v["15"] < v["40"] <= 1
    for feature_set in FEATURE_SETS:  # the rater's features and cold start
        pca_40 = np.array(ws.pca_features(40))
        scored = anomaly_features(feature_set, pca_40, ws.ellipse())
        np.testing.assert_array_equal(stored_features(ws, feature_set), scored)
        expected = isolation_scores(scored)
        np.testing.assert_allclose(stored_oddness(ws, feature_set), expected, rtol=1e-6)
    with pytest.raises(MorphCoreError, match="unknown feature set 'pixels'"):
        stored_features(ws, "pixels")

    def artefacts():
        return {
            p: p.stat().st_mtime_ns
            for p in ws.path.rglob("*")
            if p.is_file() and p.name not in ("prepare.json", ".lock")
        }

    before, version = artefacts(), ws.version()
    second = prepare(manifest.dataset("synthetic"), ws, spec, num_workers=0)
    assert second.n_embedded == 0 and second.n_galaxies == 48
    assert artefacts() == before  # nothing computed or written again
    assert ws.version() == version
    np.testing.assert_array_equal(np.array(ws.features()), features)


def test_only_changed_images_are_embedded_again(setup, image_folder):
    manifest, spec, root = setup
    entry = folder_entry("mine", image_folder)
    ws = open_dataset("mine", root)
    prepare(entry, ws, spec, num_workers=0)
    before = np.array(ws.features())
    Image.new("RGB", (48, 48), (250, 250, 250)).save(image_folder / "g3.jpg")
    summary = prepare(entry, ws, spec, num_workers=0)
    assert summary.n_embedded == 1
    after = np.array(ws.features())
    changed = np.flatnonzero(np.abs(after - before).sum(1) > 0)
    assert ws.catalog()["galaxy_id"][changed].tolist() == ["g3"]


def test_bad_inputs_are_skipped_with_reasons_and_the_rest_prepares(setup, image_folder):
    manifest, spec, root = setup
    summary = prepare(
        folder_entry("mine", image_folder),
        open_dataset("mine", root),
        spec,
        num_workers=0,
    )
    ids = set(open_dataset("mine", root).catalog()["galaxy_id"])
    assert ids == {f"g{i}" for i in range(8)} | {"deep16", "cmyk", "rgba"}
    reasons = dict(
        zip(summary.skipped["galaxy_id"], summary.skipped["reason"], strict=True)
    )
    assert reasons["bad_missing"] == "image file not found"
    assert reasons["g1"].startswith("duplicate galaxy_id")
    assert reasons["bad_dec"].startswith("dec outside")
    assert "unreadable image" in reasons["bad_truncated"]
    assert "not an image" in reasons["bad_text"]
    assert len(summary.skipped) == 5


def test_a_failed_prepare_leaves_the_previous_one_intact(setup, image_folder):
    manifest, spec, root = setup
    entry = folder_entry("mine", image_folder)
    ws = open_dataset("mine", root)
    prepare(entry, ws, spec, num_workers=0)
    record, features = ws.summary(), np.array(ws.features())
    (image_folder / "catalog.csv").write_text("galaxy_id,file\nx,absent.jpg\n")
    with pytest.raises(CatalogError, match="no galaxy could be prepared .*not found"):
        prepare(entry, ws, spec, num_workers=0)
    assert ws.summary() == record
    np.testing.assert_array_equal(np.array(ws.features()), features)
    assert len(ws.catalog()) == 11


def test_folder_without_csv_lists_images(setup, tmp_path):
    manifest, spec, root = setup
    folder = tmp_path / "plain"
    folder.mkdir()
    for i in range(3):
        Image.new("L", (40, 40), 40 * i).save(folder / f"gal_{i}.png")
    summary = prepare(
        folder_entry("plain", folder),
        open_dataset("plain", root),
        spec,
        num_workers=0,
    )
    assert summary.n_galaxies == 3
    assert open_dataset("plain", root).catalog()["galaxy_id"].tolist() == [
        "gal_0",
        "gal_1",
        "gal_2",
    ]


def test_missing_dataset_folder_says_how_to_fix(setup, tmp_path):
    manifest, spec, root = setup
    entry = manifest.dataset("gz1_sdss").model_copy(
        update={"path": str(tmp_path / "no")}
    )
    with pytest.raises(CatalogError, match="MORPH_SHARED_DATA"):
        prepare(entry, open_dataset("gz1_sdss", root), spec)


def test_umap_with_other_settings_is_stored_beside_the_default(prepared_env):
    from morph_core.pipeline.umap import UmapStage

    ws = open_dataset("synthetic", prepared_env)
    default = np.array(ws.umap(15, 0.1))
    progress = []
    stage = UmapStage(ws, 5, 0.5)
    other = stage.run(progress=lambda d, n: progress.append((d, n)))
    assert stage.computed and other.shape == default.shape and progress[-1] == (1, 1)
    assert not np.allclose(other, default)
    np.testing.assert_array_equal(np.array(ws.umap(5, 0.5)), other)
    np.testing.assert_array_equal(np.array(ws.umap(15, 0.1)), default)
    again = UmapStage(ws, 5, 0.5)
    np.testing.assert_array_equal(again.run(), other)
    assert not again.computed  # cached: no refit


def test_paths_in_a_catalogue_stay_inside_its_folder(setup, image_folder, tmp_path):
    manifest, spec, root = setup
    secret = tmp_path / "secret.txt"
    secret.write_text("galaxy_id,file\nTOP SECRET LINE,x\n")
    for catalog in (str(secret), "../secret.txt", "/etc/os-release"):
        with pytest.raises(CatalogError, match="must stay inside its folder"):
            folder_entry("mine", image_folder, catalog)
    outside = tmp_path / "outside.jpg"
    Image.new("RGB", (48, 48)).save(outside)
    (image_folder / "link.jpg").symlink_to(outside)
    (image_folder / "catalog.csv").write_text(
        f"galaxy_id,file\ng0,g0.jpg\ng1,g1.jpg\nabs,{outside}\nup,../outside.jpg\n"
        "link,link.jpg\n"
    )
    summary = prepare(
        folder_entry("mine", image_folder), open_dataset("mine", root), spec
    )
    assert summary.n_galaxies == 2
    skipped = summary.skipped
    reasons = dict(zip(skipped["galaxy_id"], skipped["reason"], strict=True))
    assert {reasons[g] for g in ("abs", "up", "link")} == {
        "image path outside the dataset folder"
    }


def test_a_catalogue_error_never_echoes_the_file_in_public_mode(
    setup, tmp_path, monkeypatch
):
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "catalog.csv").write_text("PRIVATE_KEY=abc123,HOME=/root\n1,2\n")
    entry = folder_entry("mine", folder)
    manifest, spec, root = setup
    with pytest.raises(CatalogError, match="found: PRIVATE_KEY"):  # locally: helps
        prepare(entry, open_dataset("mine", root), spec)
    monkeypatch.setenv("MORPH_MODE", "public")
    with pytest.raises(CatalogError) as refused:
        prepare(entry, open_dataset("mine", root), spec, visitor=OPERATOR)
    assert "PRIVATE_KEY" not in str(refused.value) and "abc123" not in str(
        refused.value
    )


def test_a_taken_name_is_never_overwritten(setup, image_folder, tmp_path):
    manifest, spec, root = setup
    with pytest.raises(MorphCoreError, match="is a dataset of this server"):
        folder_entry("synthetic", image_folder)  # the demo sky's name
    prepare(folder_entry("mine", image_folder), open_dataset("mine", root), spec)
    record = open_dataset("mine", root).summary()
    other = tmp_path / "other"
    other.mkdir()
    Image.new("L", (40, 40)).save(other / "a.png")
    with pytest.raises(MorphCoreError, match="already exists"):
        prepare(folder_entry("mine", other), open_dataset("mine", root), spec)
    assert open_dataset("mine", root).summary() == record


def test_a_failed_first_prepare_leaves_nothing_behind(setup, tmp_path):
    manifest, spec, root = setup
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "catalog.csv").write_text("galaxy_id,file\nx,absent.jpg\n")
    with pytest.raises(CatalogError):
        prepare(folder_entry("attempt", folder), open_dataset("attempt", root), spec)
    assert not (root / "attempt").exists()
    assert "attempt" not in own_datasets(root)


@pytest.mark.slow
def test_a_background_prepare_does_the_first_look_then_the_sky(env):
    first, ds = (
        open_dataset("synthetic_first_look", env),
        open_dataset("synthetic", env),
    )
    assert prepare_in_background([first, ds]) == ["synthetic_first_look", "synthetic"]
    assert prepare_in_background([first, ds]) == []  # one chain at a time
    assert preparing(ds)["waiting_for"] == "synthetic_first_look"
    seen, order = set(), []
    deadline = time.monotonic() + 300
    # until its record says finished too: it is written after prepare.json
    while time.monotonic() < deadline and not (ds.is_prepared and not preparing(ds)):
        record = preparing(ds)
        if record:
            seen.add(record["stage"])
        for d in (first, ds):
            if d.is_prepared and d.name not in order:
                order.append(d.name)
        time.sleep(0.2)
    assert ds.is_prepared and ds.progress()["state"] == "finished"
    assert order[0] == "synthetic_first_look"  # ready first, the sky after it
    assert first.summary()["n_galaxies"] == 24 and ds.summary()["n_galaxies"] == 48
    assert seen & set(STAGES)  # stages seen as it went (the tiny sky is quick)
    assert preparing(ds) is None and prepare_in_background([first, ds]) == []


def test_a_prepare_stopped_half_way_resumes_without_embedding_again(setup, monkeypatch):
    manifest, spec, root = setup
    monkeypatch.setattr(embed, "SHARD", 10)
    calls = []

    def crash_on_the_third_shard(*args, **kwargs):
        calls.append(len(args[0]))
        if len(calls) == 3:
            raise KeyboardInterrupt  # as a kill, mid-run
        return embed_files(*args, **kwargs)

    monkeypatch.setattr(encoder, "embed_files", crash_on_the_third_shard)
    ws = open_dataset("synthetic", root)
    with pytest.raises(KeyboardInterrupt):
        prepare(manifest.dataset("synthetic"), ws, spec, num_workers=0)
    shards = list(ws.path.rglob("partial/*.parquet"))
    assert len(shards) == 2  # 20 galaxies saved before the stop
    monkeypatch.setattr(encoder, "embed_files", embed_files)
    again = prepare(manifest.dataset("synthetic"), ws, spec, num_workers=0)
    assert again.n_galaxies == 48 and again.n_embedded == 48 - 20
    assert not list(ws.path.rglob("partial"))  # gone once the features are whole

    whole = open_dataset("synthetic", root / "whole")  # one run, never stopped
    prepare(manifest.dataset("synthetic"), whole, spec, num_workers=0)
    np.testing.assert_allclose(np.array(ws.features()), np.array(whole.features()))
