"""UMAP explorer: the whole survey as a map; select a region and browse it."""

from functools import partial

import streamlit as st

from morph_core import access
from morph_core.app import actions, cache, classwork, identity, routing, widgets
from morph_core.data.export import rows_to_csv
from morph_core.dataset import UMAP_DEFAULT
from morph_core.tools import explorer

PER_PAGE = 24

st.title("UMAP explorer")
st.caption(
    "Each point is a galaxy, placed by UMAP of the first 15 principal components of "
    "its CNN representation, so similar-looking galaxies sit together (paper §2.3). "
    "Lasso or box-select a region, or click a galaxy, to browse it below."
)
dataset = routing.require_dataset(routing.EXPLORER)
catalog = cache.catalog(dataset)
workshop = classwork.lesson_task("explorer", dataset)
columns = explorer.colour_columns(catalog)

with st.expander("Map settings"):
    cols = st.columns(3)
    n_neighbors = cols[0].slider(
        "UMAP neighbours", 5, 100, UMAP_DEFAULT[0], key="umap.n_neighbors"
    )
    min_dist = cols[1].select_slider(
        "UMAP min_dist",
        [0.0, 0.05, 0.1, 0.25, 0.5, 0.8],
        UMAP_DEFAULT[1],
        key="umap.min_dist",
    )
    hover = cols[2].multiselect("Hover columns", columns[1:], key="umap.hover")
    embedding = cache.umap(dataset, n_neighbors, min_dist)
    visitor = identity.visitor()
    may_compute = access.policy().allows(visitor, "recompute_umap")
    if (
        embedding is None
        and may_compute
        and st.button("Recompute the map", key="umap.recompute")
    ):
        actions.run_umap(dataset, n_neighbors, min_dist, visitor)
        st.rerun()

if embedding is None:
    st.info(
        "No map for these settings yet: press **Recompute the map** above."
        if may_compute
        else "No map for these settings on this demo: the default settings "
        f"({UMAP_DEFAULT[0]} neighbours, min_dist {UMAP_DEFAULT[1]}) have one."
    )
    st.stop()

colour = st.selectbox("Colour by", columns, key="umap.colour")


def _store_selection() -> None:
    rows = explorer.selected_rows(st.session_state["umap.chart"].selection, embedding)
    ids = catalog["galaxy_id"].iloc[rows]  # Arrow strings: 6 MB for 1M, not 60
    st.session_state["umap.selection"] = ids
    cache.keep("umap.rows", ids, (), rows)  # found once, not at every run
    st.session_state["umap.page"] = 1


st.plotly_chart(
    cache.map_figure(dataset, n_neighbors, min_dist, colour, hover),
    key="umap.chart",
    on_select=_store_selection,
    selection_mode=("points", "box", "lasso"),
)

ids = st.session_state.get("umap.selection")
if ids is None:
    st.info("Select galaxies on the map to see them here.")
    st.stop()
rows = cache.kept(  # a selection drawn here, or given by a lesson or another page
    "umap.rows", ids, (), lambda: explorer.rows_of(cache.galaxy_index(dataset), ids)
)
if not len(rows):
    st.warning("The selection holds no galaxies: draw around some points.")
    st.stop()

st.subheader(f"{len(rows)} galaxies selected")
classwork.send_selection(workshop, catalog, rows)
cols = st.columns([2, 1, 1])
sort_by = cols[0].selectbox("Sort by", columns[1:] or ["galaxy_id"], key="umap.sort")
descending = cols[1].toggle("Descending", key="umap.descending")
pages = explorer.n_pages(len(rows), PER_PAGE)
page = cols[2].number_input("Page", 1, pages, key="umap.page")
order = cache.kept(  # sorted once, not at every page
    "umap.order",
    rows,
    (sort_by, descending),
    lambda: explorer.sorted_rows(catalog, rows, sort_by, ascending=not descending),
)
shown = explorer.selection_table(catalog, explorer.page_of(order, page, PER_PAGE))
widgets.gallery(shown, dataset, details=[sort_by])
st.caption(f"Page {page} of {pages}")

cols = st.columns(2)
cols[0].download_button(
    "Download the selection (CSV)",
    partial(rows_to_csv, catalog, order),  # written when clicked: at every run
    file_name=f"{dataset}_selection.csv",  # it cost more than the page itself
    mime="text/csv",
    key="umap.download",
    on_click="ignore",
)
chosen = cols[1].selectbox(
    "Find galaxies similar to", shown["galaxy_id"], key="umap.similar"
)
if cols[1].button("Open in tag similarity", key="umap.to_similarity"):
    st.session_state["similarity.from_explorer"] = chosen
    st.switch_page(routing.SIMILARITY)
