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
    assert selected_rows({"points": points}, np.zeros((5, 2))).tolist() == [1, 3]
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
    assert rows_of(index, ["G7", "G2", "gone", "G7"]).tolist() == [2, 7]
    assert rows_of(index, []).tolist() == []


def test_regions_select_every_galaxy_inside_even_when_not_drawn():
    xy = np.array([[0.4, 0.4], [2.0, 2.0], [0.6, 0.1], [0.3, 0.9], [5.0, 5.0]])
    box = {"points": [], "box": [{"x": [1.0, 0.0], "y": [0.0, 1.0]}]}
    assert selected_rows(box, xy).tolist() == [0, 2, 3]
    triangle = {"lasso": [{"x": [0, 1, 0], "y": [0, 0, 1]}]}  # below x + y = 1
    assert selected_rows(triangle, xy).tolist() == [0, 2]
    clicked = {"points": [{"customdata": ["4", "G4"]}], "lasso": triangle["lasso"]}
    assert selected_rows(clicked, xy).tolist() == [0, 2, 4]


def test_a_lasso_selects_what_the_even_odd_rule_says_edge_by_edge():
    rng = np.random.default_rng(3)
    xy = rng.uniform(-1, 1, (20_000, 2)).astype(np.float32)
    angle = np.linspace(0, 2 * np.pi, 120)[:-1]
    radius = 0.6 + 0.3 * np.sin(5 * angle) * rng.uniform(0.5, 1, len(angle))
    px, py = list(radius * np.cos(angle)), list(radius * np.sin(angle))
    px[10:13], py[10:13] = [0.1, 0.1, 0.3], [0.2, 0.2, 0.2]  # repeated, level
    x, y = xy[:, 0].astype(float), xy[:, 1].astype(float)
    expected = np.zeros(len(xy), dtype=bool)  # the rule, edge by edge, everywhere
    for (xa, ya), (xb, yb) in zip(
        zip(px, py, strict=True),
        zip(np.roll(px, 1), np.roll(py, 1), strict=True),
        strict=True,
    ):
        crosses = (ya > y) != (yb > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            expected ^= crosses & (x < xa + (y - ya) * (xb - xa) / (yb - ya))
    lasso = {"lasso": [{"x": px, "y": py}]}
    assert selected_rows(lasso, xy).tolist() == np.flatnonzero(expected).tolist()
    assert 5_000 < expected.sum() < 15_000


def test_clicked_rows_and_shapes_the_browser_could_forge_are_ignored():
    xy = np.zeros((5, 2))
    points = [
        {"customdata": ["2", "G2"]},
        {"customdata": ["99", "G99"]},  # no such row
        {"customdata": ["-1"]},
        {"customdata": [True]},
        {"customdata": "x"},
        "not a point",
    ]
    assert selected_rows({"points": points}, xy + 9).tolist() == [2]
    forged = {
        "box": [{"x": ["a", 1]}, {"x": [0, 1], "y": [0]}, "box", {"x": [0, 1]}],
        "lasso": [{"x": [0, 1, 0], "y": [0, 0, None]}, {"x": [[0]], "y": [[0]]}],
    }
    assert selected_rows(forged, xy).tolist() == []
    assert selected_rows({"box": "all", "lasso": None}, xy).tolist() == []
