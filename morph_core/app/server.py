"""The dashboard's server process: ``streamlit run`` with the pages' heavy
modules imported before it serves anyone.

Pages import scikit-learn, SciPy and Plotly on their first run. On a started
server that was the first visitors' wait: with 20 visitors at once, 1.9 s of
imports held the interpreter lock while the first raters clicked (py-spy).
Imported here, it costs the start about 2 s instead. Only Streamlit-free
modules are imported: the pages' own caches are made in the running server.

Usage: ``python -m morph_core.app.server run Home.py [streamlit options]``
(what :func:`morph_core.cli.serve_command` builds).
"""

from __future__ import annotations

import importlib
import sys

PRELOADED = (
    "morph_core.tools.anomaly.session",
    "morph_core.tools.anomaly.features",
    "morph_core.tools.anomaly.baseline",
    "morph_core.tools.similarity",
    "morph_core.tools.explorer",
    "morph_core.runs.sweep",
    "faiss",  # the similarity index (imported when a search first builds it)
    "plotly.graph_objects",
    "plotly.subplots",
)


def main() -> None:
    for name in PRELOADED:
        importlib.import_module(name)
    from streamlit.web import cli

    sys.exit(cli.main(prog_name="streamlit"))


if __name__ == "__main__":
    main()
