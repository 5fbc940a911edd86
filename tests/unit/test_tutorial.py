"""The notebook companion (docs/tutorial.py) runs as a notebook on the tiny sky."""

import jupytext
import pytest
from nbclient import NotebookClient

from morph_core.dataset import open_dataset
from morph_core.settings import PROJECT_ROOT
from morph_core.tools.similarity import tags_in

pytestmark = pytest.mark.slow


def test_the_four_lessons_run_as_a_notebook(ringed_env):
    notebook = jupytext.read(PROJECT_ROOT / "docs" / "tutorial.py")
    tag = tags_in(open_dataset("synthetic", ringed_env).catalog())[0]
    parameters = next(
        c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])
    )
    parameters.source = f'DATASET = "synthetic"\nLABEL_COUNTS = (3, 5)\nTAG = "{tag}"'
    NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(PROJECT_ROOT)}},
    ).execute()
    outputs = {
        i: "".join(o.get("text", "") for o in cell.get("outputs", []))
        for i, cell in enumerate(notebook.cells)
        if cell.cell_type == "code"
    }
    printed = "\n".join(outputs.values())
    assert "48 galaxies" in printed
    assert "'purity'" in printed and "n_rings" in str(notebook.cells)
    assert "'found'" in printed
    assert "3 labels per class: test ROC AUC" in printed
    assert "5 labels per class: test ROC AUC" in printed
    errors = [
        o
        for c in notebook.cells
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert not errors
