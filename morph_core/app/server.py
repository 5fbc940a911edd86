"""The dashboard's server process: ``streamlit run`` with the pages' heavy
modules imported before it serves anyone.

Pages import scikit-learn, SciPy and Plotly on their first run. On a started
server that was the first visitors' wait: with 20 visitors at once, 1.9 s of
imports held the interpreter lock while the first raters clicked (py-spy).
Imported here, it costs the start about 2 s instead. Only Streamlit-free
modules are imported: the pages' own caches are made in the running server.

In public mode the demo sky's CNN is also loaded in the embedding worker at
start (in the background, at lower priority), so that the first visitors'
uploads do not wait for torch to load: with 20 visitors uploading at once after
a start, the median upload took 3-5 s.

Usage: ``python -m morph_core.app.server run Home.py [streamlit options]``
(what :func:`morph_core.cli.serve_command` builds).
"""

from __future__ import annotations

import importlib
import sys
import threading

from morph_core import access
from morph_core.data.manifest import load_manifest
from morph_core.dataset import open_dataset
from morph_core.errors import MorphCoreError
from morph_core.runs import embedder

PRELOADED = (
    "morph_core.tools.anomaly.session",
    "morph_core.tools.anomaly.features",
    "morph_core.tools.anomaly.baseline",
    "morph_core.tools.similarity",
    "morph_core.tools.explorer",
    "morph_core.runs.sweep",
    "faiss",  # the similarity index (imported when a search first builds it)
    "astropy.coordinates",  # positions: the first searches waited on its import
    "plotly.graph_objects",
    "plotly.subplots",
)


def warm_uploads() -> threading.Thread | None:
    """In public mode, load the default dataset's CNN in the embedding worker
    now (returns the loading thread); ``None`` locally or when the dataset is not
    prepared (then the page warms it when a visitor picks the upload route)."""
    if not access.policy().public:
        return None
    try:
        name = load_manifest().default_dataset
        spec = open_dataset(name).encoder_spec()
    except MorphCoreError:
        return None
    return embedder.shared().warm(spec)


def main() -> None:
    for name in PRELOADED:
        importlib.import_module(name)
    warm_uploads()
    from streamlit.web import cli

    sys.exit(cli.main(prog_name="streamlit"))


if __name__ == "__main__":
    main()
