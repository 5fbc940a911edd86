"""Where things live: project root, workspaces, the manifest and the real test data.

Each location can be moved with an environment variable, so tests, CI and a
deployment can point the same code elsewhere without copying data.
"""

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def workspace_root() -> Path:
    """Folder holding one sub-folder per prepared dataset (``MORPH_WORKSPACE``)."""
    return Path(os.environ.get("MORPH_WORKSPACE", PROJECT_ROOT / "workspace"))


def cutout_cache_dir() -> Path:
    """Cutouts fetched from survey servers (``MORPH_CUTOUT_CACHE``, default
    ``<workspace>/.cutouts``)."""
    default = workspace_root() / ".cutouts"
    return Path(os.environ.get("MORPH_CUTOUT_CACHE", default))


def cutout_cache_bytes() -> int:
    """At most this many bytes of fetched cutouts are kept
    (``MORPH_CUTOUT_CACHE_MB``, default 1024)."""
    value = os.environ.get("MORPH_CUTOUT_CACHE_MB", "1024")
    if not value.isdigit():
        raise ValueError(f"MORPH_CUTOUT_CACHE_MB must be a whole number, not {value!r}")
    return int(value) * 2**20


def manifest_path() -> Path:
    """The dataset and weights manifest (``MORPH_MANIFEST``)."""
    return Path(os.environ.get("MORPH_MANIFEST", PROJECT_ROOT / "data_manifest.yaml"))


def shared_data_dir() -> Path:
    """Real labelled image sets beside the project (``MORPH_SHARED_DATA``)."""
    default = PROJECT_ROOT.parent / "shared" / "data"
    return Path(os.environ.get("MORPH_SHARED_DATA", default))


def run_workers() -> int:
    """How many fine-tuning workers may train at once (``MORPH_RUN_WORKERS``,
    default 1: one uses both cores of a small server; 0 queues runs without
    starting any, e.g. while the server is busy or in tests of the queue)."""
    value = os.environ.get("MORPH_RUN_WORKERS", "1")
    if not value.isdigit():
        raise ValueError(f"MORPH_RUN_WORKERS must be a whole number, not {value!r}")
    return int(value)


def mode() -> str:
    """How the server is hosted (``MORPH_MODE``): ``local`` (default: one user,
    every feature) or ``public`` (a demo for strangers: see morph_core.access)."""
    value = os.environ.get("MORPH_MODE", "local").strip().lower()
    if value not in ("local", "public"):
        raise ValueError(f"MORPH_MODE must be 'local' or 'public', not {value!r}")
    return value
