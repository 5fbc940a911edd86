"""Shared fixtures: a tiny manifest and sky, isolated workspaces, a bad-input folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from morph_core import settings

TINY_IMAGE_SIZE = 32  # encoder input in tests: fast, same code path


def write_tiny_manifest(path: Path) -> Path:
    """The project's manifest with a 48-galaxy sky (its first look: 24) and a
    32-px encoder."""
    raw = yaml.safe_load(settings.manifest_path().read_text())
    for entry in raw["entries"]:
        if entry["name"] == "synthetic":
            entry["params"] = {"n_galaxies": 48, "image_size": 64, "seed": 0}
        if entry["name"] == raw["first_look_dataset"]:
            entry["params"] = {"n_galaxies": 24, "image_size": 64, "seed": 0}
        if entry["kind"] == "weights":
            entry["image_size"] = TINY_IMAGE_SIZE
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture
def tiny_manifest(tmp_path: Path) -> Path:
    return write_tiny_manifest(tmp_path / "manifest.yaml")


@pytest.fixture
def env(tmp_path: Path, tiny_manifest: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point MORPH_WORKSPACE and MORPH_MANIFEST at this test's own folders."""
    root = tmp_path / "workspace"
    monkeypatch.setenv("MORPH_WORKSPACE", str(root))
    monkeypatch.setenv("MORPH_MANIFEST", str(tiny_manifest))
    return root


@pytest.fixture(scope="session")
def prepared_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace root holding the tiny synthetic sky, prepared once per session."""
    from morph_core.data.manifest import load_manifest
    from morph_core.dataset import open_dataset
    from morph_core.model.weights import resolve_encoder
    from morph_core.pipeline.prepare import prepare

    base = tmp_path_factory.mktemp("prepared")
    manifest = load_manifest(write_tiny_manifest(base / "manifest.yaml"))
    root = base / "workspace"
    prepare(
        manifest.dataset("synthetic"),
        open_dataset("synthetic", root),
        resolve_encoder(None, manifest),
        num_workers=0,
    )
    return root


@pytest.fixture
def prepared_env(
    prepared_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A private copy of the prepared workspace, with the tiny manifest in force."""
    root = tmp_path / "workspace"
    shutil.copytree(prepared_root, root)
    monkeypatch.setenv("MORPH_WORKSPACE", str(root))
    monkeypatch.setenv("MORPH_MANIFEST", str(prepared_root.parent / "manifest.yaml"))
    return root


@pytest.fixture
def ringed_env(prepared_env: Path) -> Path:
    """The tiny sky with 20 rings (it has 1): enough for a workshop's ring run."""
    import pandas as pd

    path = prepared_env / "synthetic" / "catalog.parquet"
    catalog = pd.read_parquet(path)
    catalog["ring"] = np.arange(len(catalog)) < 20
    catalog.to_parquet(path)
    return prepared_env


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    """A user's folder: 8 good cutouts and every kind of bad input, with a CSV."""
    folder = tmp_path / "cutouts"
    folder.mkdir()
    rng = np.random.default_rng(0)
    rows = []
    for i in range(8):
        pixels = rng.integers(0, 255, (48, 48, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"g{i}.jpg")
        rows.append((f"g{i}", f"g{i}.jpg", 150 + i, 2.0))
    good = (folder / "g0.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(good[: len(good) // 3])
    (folder / "notes.png").write_text("not an image")
    Image.fromarray(rng.integers(0, 65535, (40, 40), dtype=np.uint16)).save(
        folder / "deep.png"
    )
    Image.new("CMYK", (40, 40), (10, 200, 30, 0)).save(folder / "cmyk.jpg")
    Image.new("RGBA", (40, 40), (200, 10, 30, 128)).save(folder / "alpha.png")
    rows += [
        ("bad_truncated", "truncated.jpg", 151, 2.0),
        ("bad_text", "notes.png", 152, 2.0),
        ("deep16", "deep.png", 153, 2.0),
        ("cmyk", "cmyk.jpg", 154, 2.0),
        ("rgba", "alpha.png", 155, 2.0),
        ("bad_missing", "nowhere.jpg", 156, 2.0),
        ("g1", "g1.jpg", 157, 2.0),  # duplicate id
        ("bad_dec", "g2.jpg", 158, 95.0),
    ]
    lines = ["galaxy_id,file,ra,dec"] + [f"{a},{b},{c},{d}" for a, b, c, d in rows]
    (folder / "catalog.csv").write_text("\n".join(lines) + "\n")
    return folder


FAILING_CUTOUTS = 2  # galaxies of the published table whose cutouts fail (500)


@pytest.fixture(scope="session")
def cutout_server(prepared_root: Path):
    """A cutout service on 127.0.0.1 serving the tiny sky's images by id; the
    first :data:`FAILING_CUTOUTS` galaxies answer 500."""
    import pandas as pd

    from tests.unit.cutout_server import CutoutServer, serve_cutouts

    catalog = pd.read_parquet(prepared_root / "synthetic" / "catalog.parquet")
    images = dict(zip(catalog["galaxy_id"], map(Path, catalog["file"]), strict=True))
    failing = set(catalog["galaxy_id"][:FAILING_CUTOUTS])
    with serve_cutouts(CutoutServer(images, failing=failing)) as server:
        yield server


def published_table(root: Path, folder: Path) -> Path:
    """The prepared tiny sky as a published representation would come: one
    parquet of galaxy_id, ra, dec, labels and feat_0 ... feat_1279, no images."""
    import pandas as pd

    dataset = root / "synthetic"
    catalog = pd.read_parquet(dataset / "catalog.parquet").drop(columns=["file"])
    record = (dataset / "prepare.json").read_text()
    encoder = __import__("json").loads(record)["encoder"]["fingerprint"]
    features = np.load(dataset / "features" / encoder / "features.npy")
    columns = pd.DataFrame(
        features, columns=[f"feat_{i}" for i in range(features.shape[1])]
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "table.parquet"
    pd.concat([catalog, columns], axis=1).to_parquet(path)
    return path


@pytest.fixture(scope="session")
def published_root(prepared_root: Path, cutout_server, tmp_path_factory) -> Path:
    """A workspace root with the tiny sky and ``published``: the same galaxies
    as a representation-only dataset (its features table, cutouts from the
    local cutout server, the encoder unknown), prepared once per session."""
    from morph_core.dataset import open_dataset, table_entry
    from morph_core.pipeline.prepare import prepare

    base = tmp_path_factory.mktemp("published")
    root = base / "workspace"
    shutil.copytree(prepared_root, root)
    table = published_table(prepared_root, base / "table")
    entry = table_entry("published", table, cutouts=cutout_server.template)
    prepare(entry, open_dataset("published", root), None)
    return root


@pytest.fixture
def published_env(
    published_root: Path, prepared_root: Path, tmp_path: Path, monkeypatch
) -> Path:
    """A private copy of :func:`published_root`, the tiny manifest in force."""
    root = tmp_path / "workspace"
    shutil.copytree(published_root, root)
    monkeypatch.setenv("MORPH_WORKSPACE", str(root))
    monkeypatch.setenv("MORPH_MANIFEST", str(prepared_root.parent / "manifest.yaml"))
    monkeypatch.setenv("MORPH_CUTOUT_CACHE", str(tmp_path / "cutouts"))
    return root
