import base64
import io
import itertools

import numpy as np
import pandas as pd
from PIL import Image

from morph_core.app.figures import curves_figure, interest_map, map_figure, sweep_figure
from morph_core.tools.explorer import colour_columns
from tests.unit.test_explorer import _catalog


def test_points_carry_their_row_whatever_the_colouring():
    catalog = _catalog()
    xy = np.random.default_rng(1).normal(size=(50, 2))
    hovers = ([], ["smooth_fraction"])
    for colour, hover in itertools.product(colour_columns(catalog), hovers):
        fig = map_figure(catalog, xy, colour, hover=hover)
        rows = []
        for trace in fig.data:
            custom = np.asarray(trace.customdata)
            r = (custom[:, 0] if hover else custom).astype(int)
            np.testing.assert_array_equal(trace.x, xy[r, 0])
            assert (trace.text == catalog["galaxy_id"].to_numpy()[r]).all()
            if hover:  # the hover column's value beside the row, as text
                values = catalog["smooth_fraction"].astype(str).to_numpy()[r]
                assert (custom[:, 1] == values).all()
            else:  # the row alone, sent as a typed array
                assert custom.dtype == np.int32
            rows += r.tolist()
        assert sorted(rows) == list(range(50))
    assert len(map_figure(catalog, xy, "morphology").data) == 2


def test_large_maps_are_sampled_over_a_density_image_of_every_galaxy():
    catalog = _catalog(500)
    xy = np.random.default_rng(2).normal(size=(500, 2))
    fig = map_figure(catalog, xy, max_points=100)
    assert len(fig.data[0].x) == 100
    (image,) = fig.layout.images
    assert image.source.startswith("data:image/png;base64,")
    assert (image.x, image.y) == (xy[:, 0].min(), xy[:, 1].max())
    assert image.sizex == xy[:, 0].max() - xy[:, 0].min()
    density = np.asarray(
        Image.open(io.BytesIO(base64.b64decode(image.source.split(",")[1])))
    )
    assert density.shape == (400, 400) and (density < 255).sum() > 100
    assert not map_figure(catalog, xy, max_points=500).layout.images
    again = map_figure(catalog, xy, "smooth_fraction", max_points=100, density=image)
    assert again.layout.images[0].source == image.source  # made once, shared
    assert again.layout.xaxis.range == fig.layout.xaxis.range


def test_interest_map_colours_each_galaxy_by_its_own_interest():
    fig = interest_map(_catalog(5), np.array([4, 3, 2, 1, 500.0]), np.zeros((5, 2)))
    assert fig.data[0].marker.color.tolist() == [4, 3, 2, 1, 500]
    assert fig.layout.height == 300


def test_curves_mark_where_each_stage_starts():
    history = pd.DataFrame(
        {
            "epoch": [1, 2, 3, 4],
            "stage": ["head", "head", "top", "top"],
            "train_loss": [0.9, 0.7, 0.6, 0.5],
            "val_loss": [0.8, 0.6, 0.55, 0.5],
            "val_auc": [0.6, 0.7, 0.75, 0.8],
        }
    )
    fig = curves_figure({"run a": history, "run b": history.iloc[:0]})
    markers = [t for t in fig.data if t.mode == "markers+text"]
    assert len(markers) == 1 and list(markers[0].text) == ["head", "top"]
    assert list(markers[0].x) == [1, 3]


def test_sweep_figure_has_a_line_per_init_with_the_spread():
    summary = pd.DataFrame(
        {
            "init": ["pretrained", "pretrained", "random"],
            "n_per_class": [20, 10, 10],
            "test_auc_mean": [0.9, 0.8, 0.6],
            "test_auc_std": [0.01, 0.02, None],
            "test_accuracy_mean": [0.85, 0.75, 0.55],
            "test_accuracy_std": [0.01, 0.03, 0.05],
        }
    )
    fig = sweep_figure(summary)
    auc = [t for t in fig.data if t.xaxis == "x"]
    assert [t.name for t in auc] == ["pretrained", "random"]
    assert list(auc[0].x) == [10, 20] and list(auc[0].y) == [0.8, 0.9]
    assert list(auc[1].error_y.array) == [0]  # a single run has no spread


def test_a_regressions_curves_and_sweep_show_the_vote_fraction_error():
    history = pd.DataFrame(
        {
            "epoch": [1, 2],
            "stage": ["head", "head"],
            "train_loss": [40.0, 30.0],
            "val_loss": [42.0, 33.0],
            "val_error": [0.3, 0.2],
        }
    )
    fig = curves_figure({"votes": history})
    (score,) = [t for t in fig.data if t.xaxis == "x2"]
    assert score.name == "votes: validation vote-fraction error"
    assert list(score.y) == [0.3, 0.2]
    summary = pd.DataFrame(
        {
            "init": ["pretrained", "random"],
            "n_per_class": [100, 100],
            "test_auc_mean": [np.nan, np.nan],
            "test_error_mean": [0.1, 0.2],
            "test_error_std": [0.01, np.nan],
        }
    )
    fig = sweep_figure(summary)
    assert [t.y[0] for t in fig.data] == [0.1, 0.2]
    assert fig.layout.annotations[0].text == "test vote-fraction error"
    assert fig.layout.xaxis.title.text == "labelled galaxies"
