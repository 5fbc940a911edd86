"""Module boundaries: only app.py imports streamlit; feature readers skip torch."""

import pkgutil
import subprocess
import sys

import morph_core
from morph_core.settings import PROJECT_ROOT


def _modules_loaded(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print(' '.join(sys.modules))"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(out.split())


def test_library_without_streamlit():
    names = [
        m.name
        for m in pkgutil.walk_packages(morph_core.__path__, "morph_core.")
        if m.name not in ("morph_core.app", "morph_core.__main__")
    ]
    loaded = _modules_loaded("\n".join(f"import {n}" for n in names))
    assert "streamlit" not in loaded


def test_reading_prepared_features_does_not_import_torch():
    loaded = _modules_loaded(
        "import morph_core, morph_core.workspace, morph_core.features, "
        "morph_core.catalog, morph_core.manifest, morph_core.sky, morph_core.images, "
        "morph_core.app"
    )
    assert "torch" not in loaded and "umap" not in loaded
