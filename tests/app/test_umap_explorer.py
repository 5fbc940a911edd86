import io

import pandas as pd

from morph_core.dataset import open_dataset
from tests.app.pages import open_page, text

SORT = "smooth-or-featured_smooth_fraction"


def test_map_draws_and_asks_for_a_selection(prepared_env):
    at = open_page("umap_explorer")
    assert len(at.get("plotly_chart")) == 1
    assert any("Select galaxies on the map" in i.value for i in at.info)
    assert "morphology" in at.selectbox(key="umap.colour").options
    at.selectbox(key="umap.colour").select("morphology").run()
    assert not at.exception


def test_selection_shows_a_sorted_paged_grid_and_csv(prepared_env, downloads):
    catalog = open_dataset("synthetic", prepared_env).catalog()
    chosen = catalog["galaxy_id"][:30].tolist()
    at = open_page("umap_explorer")
    at.session_state["umap.selection"] = chosen
    at.run()
    assert any("30 galaxies selected" in s.value for s in at.subheader)
    assert len(at.get("image")) == 24  # first page
    at.selectbox(key="umap.sort").select(SORT).run()
    at.toggle(key="umap.descending").set_value(True).run()
    at.number_input(key="umap.page").set_value(2).run()
    assert len(at.get("image")) == 6
    captions = [text(i.captions[0]) for i in at.get("image")]
    fractions = [float(c.split(f"{SORT} ")[1]) for c in captions]
    assert fractions == sorted(fractions, reverse=True)
    table = pd.read_csv(io.BytesIO(downloads["synthetic_selection.csv"]))
    assert sorted(table["galaxy_id"]) == sorted(chosen)
    assert table[SORT].is_monotonic_decreasing
    assert list(table.columns) == list(catalog.columns)


def test_empty_selection_is_a_clear_message(prepared_env):
    at = open_page("umap_explorer")
    at.session_state["umap.selection"] = []
    at.run()
    assert any("holds no galaxies" in w.value for w in at.warning)


def test_recompute_with_other_settings(prepared_env):
    at = open_page("umap_explorer")
    at.slider(key="umap.n_neighbors").set_value(6).run()
    assert any("No map for these settings" in i.value for i in at.info)
    at.button(key="umap.recompute").click().run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 1
    ds = open_dataset("synthetic", prepared_env)
    assert ds.umap(6, 0.1).shape == (48, 2)


def test_selected_galaxy_is_handed_to_similarity(prepared_env):
    catalog = open_dataset("synthetic", prepared_env).catalog()
    at = open_page("umap_explorer")
    at.session_state["umap.selection"] = catalog["galaxy_id"][:3].tolist()
    at.run()
    at.selectbox(key="umap.similar").select(catalog["galaxy_id"][2]).run()
    at.button(key="umap.to_similarity").click().run()
    # the page switch itself is followed in the browser test
    assert at.session_state["similarity.from_explorer"] == catalog["galaxy_id"][2]
