"""Embedding on a Ray cluster (a local one, 2 CPUs): the same features as one
machine, written as shards that prepare reads like any table of features."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from morph_core.cli import main as cli
from morph_core.data.manifest import load_manifest
from morph_core.dataset import open_dataset
from morph_core.model.encoder import build_encoder, embed_files
from morph_core.model.weights import resolve_encoder


@pytest.fixture
def survey(prepared_env: Path, tmp_path: Path) -> Path:
    """20 of the tiny sky's images in a folder with a catalogue, one unreadable."""
    catalog = open_dataset("synthetic", prepared_env).catalog().head(20)
    folder = tmp_path / "survey"
    (folder / "images").mkdir(parents=True)
    rows = []
    for galaxy, file in zip(catalog["galaxy_id"], catalog["file"], strict=True):
        name = f"images/{galaxy}.png"
        shutil.copy(file, folder / name)
        rows.append((galaxy, name))
    (folder / "images" / "broken.png").write_bytes(b"not an image")
    rows.append(("broken", "images/broken.png"))
    table = pd.DataFrame(rows, columns=["galaxy_id", "file"])
    table["ra"], table["dec"] = np.linspace(10, 20, len(table)), 1.0
    table.to_csv(folder / "catalog.csv", index=False)
    return folder


@pytest.mark.slow
def test_a_ray_cluster_embeds_what_one_machine_does(survey, tmp_path, capsys):
    out = tmp_path / "shards"
    code = cli(
        ["embed-distributed", str(survey), "--out", str(out), "--batch-size", "8"]
    )
    assert code == 0, capsys.readouterr().err
    assert "Embedded 21 galaxies" in capsys.readouterr().out
    assert len(list(out.glob("*.parquet"))) >= 2  # several workers' shards

    code = cli(["prepare", "clustered", "--features", str(out)])
    assert code == 0, capsys.readouterr().err
    ds = open_dataset("clustered")
    skipped = ds.skipped()
    assert skipped["galaxy_id"].tolist() == ["broken"]
    assert (
        "unreadable" in skipped["reason"][0] or "not an image" in skipped["reason"][0]
    )

    spec = resolve_encoder(None, load_manifest())
    catalog = ds.catalog()
    assert sorted(catalog["galaxy_id"]) == sorted(
        pd.read_csv(survey / "catalog.csv")["galaxy_id"][:20]
    )
    files = [str(survey / "images" / f"{g}.png") for g in catalog["galaxy_id"]]
    single, errors = embed_files(files, build_encoder(spec), spec)
    assert not errors
    np.testing.assert_allclose(ds.features(), single, rtol=1e-4, atol=1e-5)
    assert catalog["file"].tolist() == files  # the explorer shows the images
    assert catalog["ra"].between(10, 20).all()  # the catalogue's columns kept


def test_a_bad_source_or_a_used_folder_is_refused(survey, tmp_path, capsys):
    code = cli(["embed-distributed", str(tmp_path / "nothing.txt"), "--out", "x"])
    assert code == 2 and "a folder of images or a CSV" in capsys.readouterr().err
    used = tmp_path / "used"
    used.mkdir()
    (used / "part.parquet").write_bytes(b"")
    code = cli(["embed-distributed", str(survey), "--out", str(used)])
    assert code == 2 and "already holds parquet shards" in capsys.readouterr().err
