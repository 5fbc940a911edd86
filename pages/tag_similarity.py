"""Tag similarity: the galaxies most like a query, by tag, id, position or image."""

from functools import partial

import streamlit as st

from morph_core.app import cache, classwork, identity, routing, widgets
from morph_core.data.export import to_csv
from morph_core.errors import MorphCoreError
from morph_core.tools import similarity

st.title("Tag similarity")
st.caption(
    "The galaxies nearest to a query in the first 10 principal components of the CNN "
    "representation, by Manhattan distance (paper §2.4). A tag query starts from the "
    "galaxy volunteers gave that tag most often."
)
dataset = routing.require_dataset(routing.SIMILARITY)
catalog = cache.catalog(dataset)
workshop = classwork.lesson_task("similarity", dataset)
has_sky = {"ra", "dec"} <= set(catalog.columns) and catalog["ra"].notna().any()


def _search_upload() -> None:
    """An uploaded image is a query: searched at once, without a second click
    (under load a click on Search right after an upload was sometimes lost)."""
    if st.session_state.get("similarity.upload") is not None:
        st.session_state["similarity.searching"] = True


route, value, upload = widgets.similarity_query(
    cache.tags(dataset), on_upload=_search_upload
)
if route == "image":
    try:
        cache.warm_embedder(dataset)  # the CNN loads while the visitor picks a file
    except MorphCoreError as e:  # a published table made by an encoder not here
        st.warning(widgets.plain(e))

cols = st.columns(3)
k = cols[0].number_input("Neighbours", 1, 100, 7, key="similarity.k")
radius = cols[1].number_input(
    "Drop neighbours within (arcsec)",
    0.0,
    3600.0,
    similarity.DUPLICATE_RADIUS_ARCSEC,
    key="similarity.radius",
    disabled=not has_sky,
    help="Duplicate detections of the query itself",
)
exclude_tagged = cols[2].checkbox(
    "Only untagged galaxies",
    key="similarity.untagged",
    disabled=route != "tag",
    help="Leave out galaxies that already carry the tag, to find new ones",
)
cols = st.columns([2, 1])
only_column = cols[0].selectbox(
    "Only neighbours where",
    [None, *similarity.filter_columns(catalog)],
    format_func=lambda c: "(no filter)" if c is None else c,
    key="similarity.only_column",
    help="E.g. a classifier you fine-tuned and applied on the fine-tune monitor",
)
only_minimum = cols[1].number_input(
    "is at least", value=0.5, key="similarity.only_minimum", disabled=not only_column
)
details = st.multiselect(
    "Columns to show",
    [c for c in catalog.columns if c not in ("file", "galaxy_id")],
    key="similarity.details",
)

if st.button("Search", type="primary", key="similarity.search"):
    # kept until the search is done: a run stopped by another rerun (a slow
    # upload embedding outlived one) searches again in the next, the click kept
    st.session_state["similarity.searching"] = True
if st.session_state.get("similarity.searching"):
    try:
        cache.limiter().check(identity.visitor(), "search")
        if route == "image":
            if upload is None:
                raise MorphCoreError("upload an image first")
            with st.spinner("Embedding your image with the CNN…"):
                value = cache.embed_upload(dataset, upload.getvalue(), upload.name)
        st.session_state["similarity.result"] = similarity.search(
            cache.neighbour_index(dataset),
            catalog,
            cache.pca_features(dataset),
            route,
            value,
            int(k),
            radius if has_sky else None,
            exclude_tagged,
            only=(only_column, only_minimum) if only_column else None,
        )
    except MorphCoreError as e:
        st.session_state.pop("similarity.result", None)
        st.error(widgets.plain(e))
    except Exception:
        st.session_state.pop("similarity.searching", None)  # not again and again
        raise
    st.session_state.pop("similarity.searching", None)  # (a stopped run keeps it)

result = st.session_state.get("similarity.result")
if result is not None:
    st.subheader("Query")
    st.write(widgets.plain(f"Query: {result.note}."))
    if len(result.query):
        widgets.gallery(result.query, dataset, details=details)
    if result.n_tagged is not None:
        st.metric(
            "Neighbours carrying the tag",
            f"{result.n_tagged} of {len(result.neighbours)}",
        )
    st.subheader(f"{len(result.neighbours)} most similar galaxies")
    widgets.gallery(result.neighbours, dataset, details=["distance", *details])
    classwork.send_picks(workshop, catalog, result.neighbours)
    st.download_button(
        "Download (CSV)",
        partial(to_csv, result.neighbours),  # written when clicked
        file_name=f"{dataset}_similar.csv",
        mime="text/csv",
        key="similarity.download",
        on_click="ignore",
    )
