import numpy as np
import pandas as pd

from morph_core.tools.explorer import (
    NO_COLOUR,
    colour_columns,
    n_pages,
    page_of,
    rows_of,
    selected_rows,
    selection_table,
    sorted_rows,
)


def _catalog(n=50):
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "galaxy_id": [f"G{i}" for i in range(n)],
            "file": ["x"] * n,
            "smooth_fraction": rng.uniform(size=n),
            "morphology": rng.choice(["spiral", "ring"], n),
            "notes": [f"free text {i}" for i in range(n)],
        }
    )


def test_colour_columns_are_numbers_and_few_categories():
    assert colour_columns(_catalog()) == [NO_COLOUR, "smooth_fraction", "morphology"]


def test_selection_pagination():
    points = [{"customdata": [3, "G3"]}, {"customdata": [1, "G1"]}, {"x": 0}]
    assert selected_rows({"points": points}) == [1, 3]
    catalog = _catalog()
    order = sorted_rows(catalog, [1, 3, 5, 7], "smooth_fraction", ascending=False)
    assert sorted(order) == [1, 3, 5, 7]
    table = selection_table(catalog, order)
    assert table["smooth_fraction"].is_monotonic_decreasing
    assert table["galaxy_id"].tolist() == catalog["galaxy_id"][order].tolist()
    assert n_pages(50, 24) == 3 and n_pages(0, 24) == 1
    assert page_of(order, 2, 3).tolist() == order[3:].tolist()
    assert sorted_rows(catalog, [5, 1], "nowhere").tolist() == [5, 1]


def test_a_stored_selection_finds_its_rows_and_ignores_galaxies_gone():
    catalog = _catalog(10).astype({"galaxy_id": "string"})
    index = pd.Index(catalog["galaxy_id"])
    assert rows_of(index, ["G7", "G2", "gone", "G7"]) == [2, 7]
    assert rows_of(index, []) == []


def test_regions_select_every_galaxy_inside_even_when_not_drawn():
    xy = np.array([[0.4, 0.4], [2.0, 2.0], [0.6, 0.1], [0.3, 0.9], [5.0, 5.0]])
    box = {"points": [], "box": [{"x": [1.0, 0.0], "y": [0.0, 1.0]}]}
    assert selected_rows(box, xy) == [0, 2, 3]
    triangle = {"lasso": [{"x": [0, 1, 0], "y": [0, 0, 1]}]}  # below x + y = 1
    assert selected_rows(triangle, xy) == [0, 2]
    clicked = {"points": [{"customdata": [4, "G4"]}], "lasso": triangle["lasso"]}
    assert selected_rows(clicked, xy) == [0, 2, 4]
