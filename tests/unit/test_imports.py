"""Module boundaries: each room imports only rooms below it; only app/ imports
streamlit; only model/ and training/ import torch; pages load no model."""

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import morph_core
from morph_core.settings import PROJECT_ROOT

LAYERS = [  # bottom first: a module may import its own layer and those before it
    {"errors", "settings", "progress", "access"},
    {"data"},
    {"store"},
    {"model"},
    {"dataset"},
    {"tools"},
    {"pipeline"},
    {"training"},
    {"runs"},
    {"workshop"},
    {"app"},
    {"cli", "__main__", "__init__"},
]
PACKAGE = Path(morph_core.__file__).parent
MODEL_LIBRARIES = ("torch", "timm", "galsim", "cv2", "h5py", "umap")


def _layer(room: str) -> int:
    return next(i for i, rooms in enumerate(LAYERS) if room in rooms)


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> set[str]:
    """Every module an import statement in the file names (any depth)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _modules() -> dict[str, Path]:
    out = {"morph_core": PACKAGE / "__init__.py"}
    for info in pkgutil.walk_packages(morph_core.__path__, "morph_core."):
        spec = info.module_finder.find_spec(info.name)
        out[info.name] = Path(spec.origin)
    return out


def _loaded(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print(' '.join(sys.modules))"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {name.split(".")[0] for name in out.split()}


def test_each_room_imports_only_rooms_below_it():
    upward = []
    for module, path in _modules().items():
        own = _layer(_room(module))
        for name in _imports(path):
            if name.startswith("morph_core.") and _layer(_room(name)) > own:
                upward.append(f"{module} -> {name}")
    assert not upward


def test_only_app_imports_streamlit_and_only_model_and_training_torch():
    streamlit, torch = [], []
    for module, path in _modules().items():
        roots = {name.split(".")[0] for name in _imports(path)}
        if "streamlit" in roots and _room(module) != "app":
            streamlit.append(module)
        if {"torch", "timm"} & roots and _room(module) not in ("model", "training"):
            torch.append(module)
    assert not streamlit and not torch


@pytest.mark.slow
def test_the_library_imports_without_streamlit():
    names = [m for m in _modules() if _room(m) != "app" and m != "morph_core.__main__"]
    assert "streamlit" not in _loaded("\n".join(f"import {n}" for n in names))


@pytest.mark.slow
def test_what_pages_import_loads_no_model_library():
    pages = [PROJECT_ROOT / "Home.py", *sorted((PROJECT_ROOT / "pages").glob("*.py"))]
    imported = sorted(
        {n for page in pages for n in _imports(page) if n.startswith("morph_core")}
    )
    loaded = _loaded("\n".join(f"import {n}" for n in imported))
    assert not loaded & set(MODEL_LIBRARIES)


@pytest.mark.slow
def test_what_the_server_imports_before_serving_loads_no_model_library():
    from morph_core.app.server import PRELOADED

    loaded = _loaded("\n".join(f"import {name}" for name in PRELOADED))
    assert not loaded & set(MODEL_LIBRARIES)
    assert {"sklearn", "plotly", "faiss"} <= loaded  # what first visits waited for
