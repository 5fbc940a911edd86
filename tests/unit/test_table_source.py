"""Representation-only datasets: a features table prepared without images."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from morph_core.cli import main as cli
from morph_core.data.sources.table import feature_columns
from morph_core.dataset import open_dataset, table_entry
from morph_core.errors import CatalogError, MorphCoreError
from morph_core.pipeline.anomaly import stored_features, stored_oddness
from morph_core.pipeline.prepare import prepare
from morph_core.pipeline.table import TableStage


def _table(n: int = 60, d: int = 12, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    table = pd.DataFrame(
        {
            "objid": [f"J{i:06d}" for i in range(n)],
            "ra": rng.uniform(0, 360, n),
            "dec": rng.uniform(-60, 60, n),
            "smooth_fraction": rng.uniform(0, 1, n),
        }
    )
    features = rng.normal(size=(n, d)).astype(np.float32)
    return pd.concat(
        [table, pd.DataFrame(features, columns=[f"feat_{i}" for i in range(d)])],
        axis=1,
    )


def test_feature_columns_are_found_by_name_in_numeric_order():
    columns = ["galaxy_id", "feat_10", "feat_2", "ra", "feat_0", "feat_1"]
    assert feature_columns(columns) == ["feat_0", "feat_1", "feat_2", "feat_10"]
    assert feature_columns(["id", "pca_1", "pca_0"]) == ["pca_0", "pca_1"]
    assert feature_columns(["id", "feat_pca_0", "feat_pca_1"]) == [
        "feat_pca_0",
        "feat_pca_1",
    ]
    assert feature_columns(["id", "z3", "z1", "feat_0"], prefix="z") == ["z1", "z3"]
    assert feature_columns(["id", "features"]) == ["features"]
    assert feature_columns(["id", "ra", "dec"]) == []


def test_a_table_is_prepared_without_images(env, tmp_path):
    table = _table()
    table.loc[3, "feat_2"] = np.nan  # a row with a hole
    table.loc[5, "objid"] = "J000004"  # a repeated id
    table.loc[7, "dec"] = 95.0  # off the sky
    path = tmp_path / "table.parquet"
    table.to_parquet(path)
    entry = table_entry(
        "mine",
        path,
        cutouts="https://cutouts.example/jpg?ra={ra:.5f}&dec={dec:.5f}&id={galaxy_id}",
        columns={"galaxy_id": "objid"},
    )
    ds = open_dataset("mine")
    summary = prepare(entry, ds, None)

    assert summary.n_galaxies == 57 and summary.n_embedded == 0
    reasons = dict(
        zip(summary.skipped["galaxy_id"], summary.skipped["reason"], strict=True)
    )
    assert reasons == {
        "J000003": "features not finite",
        "J000004": "duplicate galaxy_id (first kept)",
        "J000007": "dec outside [-90, 90] degrees",
    }
    catalog = ds.catalog()
    kept = table.drop(index=[3, 5, 7]).reset_index(drop=True)
    assert catalog["galaxy_id"].tolist() == kept["objid"].tolist()
    np.testing.assert_array_equal(
        ds.features(), kept[[f"feat_{i}" for i in range(12)]].to_numpy(np.float32)
    )
    first = kept.iloc[0]
    assert catalog["file"][0] == (
        f"https://cutouts.example/jpg?ra={first.ra:.5f}&dec={first.dec:.5f}"
        f"&id={first.objid}"
    )
    assert catalog["smooth_fraction"].tolist() == kept["smooth_fraction"].tolist()
    assert ds.representation_only
    assert ds.pca_features(10).shape == (57, 10)
    assert ds.umap(15, 0.1).shape == (57, 2)
    with pytest.raises(MorphCoreError, match="encoder this server does not have"):
        ds.encoder_spec()
    with pytest.raises(MorphCoreError, match="missing"):
        ds.ellipse()  # no images: no ellipse fits
    assert (
        stored_oddness(ds, "cnn").shape == (57,)
        and 0 <= stored_oddness(ds, "cnn").min()
    )
    assert stored_features(ds, "cnn").shape == ds.pca_features(40).shape
    with pytest.raises(MorphCoreError, match="no ellipse fits .it has no images"):
        stored_oddness(ds, "both")

    again = prepare(entry, ds, None)  # nothing changed: nothing redone
    assert again.seconds["pca"] < 0.5 and ds.version() == open_dataset("mine").version()


def test_features_may_be_a_list_column_or_a_npy_beside_a_csv(env, tmp_path):
    table = _table(n=30, d=5)
    values = table[[f"feat_{i}" for i in range(5)]].to_numpy(np.float32)
    listed = table.drop(columns=[f"feat_{i}" for i in range(5)])
    listed["features"] = list(values)
    listed.to_parquet(tmp_path / "listed.parquet")
    prepare(
        table_entry(
            "listed", tmp_path / "listed.parquet", columns={"galaxy_id": "objid"}
        ),
        open_dataset("listed"),
        None,
    )
    np.testing.assert_array_equal(open_dataset("listed").features(), values)

    table.drop(columns=[f"feat_{i}" for i in range(5)]).to_csv(
        tmp_path / "catalog.csv", index=False
    )
    np.save(tmp_path / "features.npy", values)
    entry = table_entry(
        "split", tmp_path / "catalog.csv", columns={"galaxy_id": "objid"}
    )
    entry = entry.model_copy(update={"features": str(tmp_path / "features.npy")})
    prepare(entry, open_dataset("split"), None)
    np.testing.assert_array_equal(open_dataset("split").features(), values)
    assert open_dataset("split").catalog()["galaxy_id"][0] == "J000000"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.drop(columns=["objid"]), "no column 'objid'"),
        (lambda t: t[["objid", "ra", "dec"]], "no feature columns"),
        (lambda t: t.assign(feat_3="x"), "must hold numbers"),
        (lambda t: t.iloc[:0], "no galaxy could be prepared"),
    ],
)
def test_a_bad_table_is_refused_with_a_reason_and_leaves_nothing(
    env, tmp_path, change, message
):
    path = tmp_path / "table.parquet"
    change(_table()).to_parquet(path)
    entry = table_entry("bad", path, columns={"galaxy_id": "objid"})
    with pytest.raises(CatalogError, match=message):
        prepare(entry, open_dataset("bad"), None)
    assert not open_dataset("bad").path.exists()


def test_a_features_npy_of_another_length_is_refused(env, tmp_path):
    _table(n=10).to_csv(tmp_path / "catalog.csv", index=False)
    np.save(tmp_path / "features.npy", np.zeros((9, 4), np.float32))
    entry = table_entry(
        "short", tmp_path / "catalog.csv", columns={"galaxy_id": "objid"}
    )
    entry = entry.model_copy(update={"features": str(tmp_path / "features.npy")})
    with pytest.raises(CatalogError, match="one row per galaxy"):
        prepare(entry, open_dataset("short"), None)


def test_cutout_paths_stay_inside_the_tables_folder(env, tmp_path):
    table = _table(n=12)
    table.loc[2, "objid"] = "../../etc/passwd"
    (tmp_path / "images").mkdir()
    table.to_parquet(tmp_path / "table.parquet")
    entry = table_entry(
        "local",
        tmp_path / "table.parquet",
        cutouts="images/{galaxy_id}.jpg",
        columns={"galaxy_id": "objid"},
    )
    summary = prepare(entry, open_dataset("local"), None)
    assert summary.skipped["reason"].tolist() == ["cutout path would leave the folder"]
    files = open_dataset("local").catalog()["file"]
    assert files[0] == str((tmp_path / "images" / "J000000.jpg").resolve())
    for template in ("/etc/{galaxy_id}", "../{galaxy_id}.jpg", "ftp://x/{ra}"):
        bad = entry.model_copy(update={"cutouts": template})
        with pytest.raises(CatalogError, match="cutout"):
            prepare(bad, open_dataset("local2"), None)
    unknown = entry.model_copy(update={"cutouts": "images/{objname}.jpg"})
    with pytest.raises(CatalogError, match="objname"):
        prepare(unknown, open_dataset("local3"), None)


def test_the_cli_prepares_a_table_with_a_cutout_template(env, tmp_path, capsys):
    _table(n=40).to_parquet(tmp_path / "survey.parquet")
    code = cli(
        [
            "prepare",
            "my_table",
            "--features",
            str(tmp_path / "survey.parquet"),
            "--column",
            "galaxy_id=objid",
            "--cutouts",
            "https://www.legacysurvey.org/viewer/cutout.jpg?ra={ra}&dec={dec}"
            "&layer=ls-dr10&pixscale=0.262&size=160",
        ]
    )
    assert code == 0
    assert "galaxies   40" in capsys.readouterr().out
    files = open_dataset("my_table").catalog()["file"]
    assert files.str.startswith(
        "https://www.legacysurvey.org/viewer/cutout.jpg?ra="
    ).all()
    code = cli(["prepare", "x", "--features", str(tmp_path / "nowhere.parquet")])
    assert code == 2 and "feature table not found" in capsys.readouterr().err


def test_a_million_row_table_is_read_in_blocks_within_seconds(env, tmp_path):
    n, d = 1_000_000, 40
    rng = np.random.default_rng(1)
    features = rng.normal(size=(n, d)).astype(np.float32)
    table = pd.DataFrame(
        {
            "galaxy_id": np.char.add("G", np.arange(n).astype(str)),
            "ra": rng.uniform(0, 360, n),
            "dec": rng.uniform(-90, 90, n),
        }
    )
    table = pd.concat(
        [table, pd.DataFrame(features, columns=[f"pca_{i}" for i in range(d)])], axis=1
    )
    path = tmp_path / "million.parquet"
    table.to_parquet(path, row_group_size=100_000)
    del table
    entry = table_entry("million", path, cutouts="https://c.example/{ra:.4f}/{dec:.4f}")
    stage = TableStage(open_dataset("million"), entry)
    start = time.perf_counter()
    value = stage.compute(None)
    seconds = time.perf_counter() - start
    assert value.features.shape == (n, d)
    np.testing.assert_array_equal(value.features[::99_999], features[::99_999])
    assert len(stage.checked) == n and stage.checked["file"].iloc[-1].startswith(
        "https://c.example/"
    )
    assert seconds < 60, seconds


def test_a_table_in_the_manifest_needs_a_known_encoder(tmp_path):
    from morph_core.data.manifest import load_manifest
    from morph_core.errors import ManifestError

    text = Path("data_manifest.yaml").read_text() + (
        "\n  - name: published\n    kind: dataset\n    source: features\n"
        "    path: /tmp/t.parquet\n    encoder: nowhere\n    licence: x\n"
        "    citation: y\n"
    )
    (tmp_path / "m.yaml").write_text(text)
    with pytest.raises(ManifestError, match="encoder 'nowhere' is no weights"):
        load_manifest(tmp_path / "m.yaml")
    (tmp_path / "m.yaml").write_text(text.replace("encoder: nowhere", "cutouts: x"))
    assert load_manifest(tmp_path / "m.yaml").dataset("published").cutouts == "x"
    image_folder = text.replace("source: features", "source: image_folder")
    (tmp_path / "m.yaml").write_text(
        image_folder.replace("encoder: nowhere", "cutouts: x")
    )
    with pytest.raises(ManifestError, match="only for 'source: features'"):
        load_manifest(tmp_path / "m.yaml")


def test_a_table_without_its_encoder_trains_heads_only_and_they_reload(
    published_env, tmp_path
):
    from morph_core.access import Refused
    from morph_core.runs import queue
    from morph_core.runs.sources import LabelSource
    from morph_core.training.config import FinetuneConfig
    from morph_core.training.finetune import FinetuneRun, train_run
    from morph_core.training.labels import balanced_split, labels_from_column

    ds = open_dataset("published")
    source = LabelSource(
        "column", column="smooth-or-featured_smooth_fraction", threshold=0.5
    )
    for init, strategy in (("random", "head"), ("pretrained", "staged")):
        config = FinetuneConfig(n_per_class=4, strategy=strategy)
        with pytest.raises(Refused, match="train a head on its features"):
            queue.submit(ds, source, config, init, launch=False)

    catalog = ds.catalog()
    labels = labels_from_column(catalog, "smooth-or-featured_smooth_fraction", 0.5)
    config = FinetuneConfig(n_per_class=4, strategy="head", head_epochs=3)
    split = balanced_split(labels, 4, 0)
    features = np.asarray(ds.features())
    run = train_run(
        catalog, labels, split, None, config, tmp_path / "run", features=features
    )
    again = FinetuneRun.load(tmp_path / "run")
    assert again.spec is None and again.classes == run.classes
    np.testing.assert_array_equal(
        again.predict_features(features), run.predict_features(features)
    )
    with pytest.raises(MorphCoreError, match="without their encoder"):
        again.predict(catalog)


def test_a_table_with_a_url_is_downloaded_on_first_prepare(env, tmp_path):
    from morph_core.data.manifest import DatasetEntry
    from tests.unit.cutout_server import CutoutServer, serve_cutouts

    _table(n=20).to_parquet(tmp_path / "served.parquet")
    with serve_cutouts(CutoutServer({"table": tmp_path / "served.parquet"})) as server:
        entry = DatasetEntry(
            name="remote",
            kind="dataset",
            source="features",
            path=str(tmp_path / "downloads" / "remote.parquet"),
            url=server.url + "/file?id=table",
            columns={"galaxy_id": "objid"},
            licence="x",
            citation="y",
        )
        assert prepare(entry, open_dataset("remote"), None).n_galaxies == 20
        assert server.hits["table"] == 1
        prepare(entry, open_dataset("remote"), None)  # there now: not fetched again
        assert server.hits["table"] == 1
    offline = entry.model_copy(
        update={"path": str(tmp_path / "other.parquet"), "name": "offline"}
    )
    with pytest.raises(MorphCoreError, match="download"):
        prepare(offline, open_dataset("offline"), None)
