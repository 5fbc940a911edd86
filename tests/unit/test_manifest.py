from pathlib import Path

import pytest
import yaml

from morph_core import settings
from morph_core.data.manifest import load_manifest, resolve_path
from morph_core.errors import ManifestError


def test_project_manifest_is_valid():
    manifest = load_manifest()
    assert manifest.default_dataset in manifest.datasets
    assert manifest.default_weights in manifest.weights
    assert {"synthetic", "gz1_sdss", "decals_rings"} <= set(manifest.datasets)
    for entry in manifest.entries:
        assert entry.licence and entry.citation


def _write(tmp_path: Path, raw) -> Path:
    path = tmp_path / "m.yaml"
    path.write_text(raw if isinstance(raw, str) else yaml.safe_dump(raw))
    return path


def _raw() -> dict:
    return yaml.safe_load(settings.manifest_path().read_text())


def test_entry_missing_field_names_entry_and_field(tmp_path):
    raw = _raw()
    names = [e["name"] for e in raw["entries"]]
    del raw["entries"][names.index("gz1_sdss")]["licence"]
    with pytest.raises(ManifestError, match=r"entry 'gz1_sdss'.*licence"):
        load_manifest(_write(tmp_path, raw))


def test_unknown_key_is_an_error(tmp_path):
    raw = _raw()
    raw["entries"][0]["colour"] = "blue"
    with pytest.raises(ManifestError, match="colour"):
        load_manifest(_write(tmp_path, raw))


def test_duplicate_names_and_bad_defaults(tmp_path):
    raw = _raw()
    raw["entries"].append(dict(raw["entries"][0]))
    with pytest.raises(ManifestError, match="duplicate entry names: synthetic"):
        load_manifest(_write(tmp_path, raw))
    raw = _raw()
    raw["default_weights"] = "synthetic"
    with pytest.raises(ManifestError, match="is no weights"):
        load_manifest(_write(tmp_path, raw))
    raw = _raw()
    raw["first_look_dataset"] = "efficientnet_b0-synthetic"
    with pytest.raises(ManifestError, match="first_look_dataset .* is no dataset"):
        load_manifest(_write(tmp_path, raw))


def test_weights_need_file_or_generator(tmp_path):
    raw = _raw()
    weights = next(e for e in raw["entries"] if e["kind"] == "weights")
    weights["file"] = "w.safetensors"
    with pytest.raises(
        ManifestError,
        match="exactly one of 'file', 'package_file', 'generator', 'folder'",
    ):
        load_manifest(_write(tmp_path, raw))


def test_not_yaml_and_missing_file(tmp_path):
    with pytest.raises(ManifestError, match="not valid YAML"):
        load_manifest(_write(tmp_path, "entries: [unclosed"))
    with pytest.raises(ManifestError, match="manifest not found"):
        load_manifest(tmp_path / "absent.yaml")


def test_unknown_dataset_lists_known_ones():
    with pytest.raises(
        ManifestError, match=r"'nope' is not in the manifest.*synthetic"
    ):
        load_manifest().dataset("nope")


def test_shared_data_path_comes_from_the_setting(monkeypatch, tmp_path):
    monkeypatch.setenv("MORPH_SHARED_DATA", str(tmp_path))
    assert resolve_path("${MORPH_SHARED_DATA}/gz1_sdss") == tmp_path / "gz1_sdss"
    assert resolve_path("rel/x") == settings.PROJECT_ROOT / "rel/x"
