"""Tag similarity: the galaxies most like a query, by tag, id, position or image."""

import pandas as pd
import streamlit as st

from morph_core import app, similarity
from morph_core.errors import MorphCoreError

st.title("Tag similarity")
st.caption(
    "The galaxies nearest to a query in the first 10 principal components of the CNN "
    "representation, by Manhattan distance (paper §2.4). A tag query starts from the "
    "galaxy volunteers gave that tag most often."
)
dataset = app.require_dataset("pages/tag_similarity.py")
catalog = app.catalog(dataset)
has_sky = {"ra", "dec"} <= set(catalog.columns) and catalog["ra"].notna().any()
tags = similarity.tags_in(catalog)

labels = {
    "tag": "Tag",
    "galaxy id": "Galaxy id",
    "sky position": "Sky position",
    "explorer": "From the explorer",
    "image": "Upload an image",
}
from_explorer = st.session_state.get("similarity.from_explorer")
if from_explorer:
    st.session_state["similarity.route"] = "explorer"
route = st.radio(
    "Query by",
    list(labels),
    format_func=labels.get,
    horizontal=True,
    key="similarity.route",
)
value = None
if route == "tag":
    if tags:
        value = st.selectbox("Tag", tags, key="similarity.tag")
    else:
        st.info("Nobody tagged galaxies in this dataset: query by id or image instead.")
elif route == "galaxy id":
    value = st.text_input("Galaxy id or IAU name", key="similarity.id")
elif route == "sky position":
    value = st.text_input(
        "RA Dec (degrees, sexagesimal or an IAU name)",
        placeholder="150.1 2.2 or 10:00:24 +02:12:00",
        key="similarity.position",
    )
elif route == "explorer":
    value = from_explorer
    st.write(
        f"Galaxy chosen in the explorer: **{value}**"
        if value
        else "Choose a galaxy on the UMAP explorer page first."
    )
else:
    upload = st.file_uploader(
        "A galaxy image (JPEG/PNG, up to 20 MB)",
        type=["jpg", "jpeg", "png"],
        key="similarity.upload",
    )

cols = st.columns(3)
k = cols[0].number_input("Neighbours", 1, 100, 7, key="similarity.k")
radius = cols[1].number_input(
    "Drop neighbours within (arcsec)",
    0.0,
    3600.0,
    similarity.DUPLICATE_RADIUS_ARCSEC,
    help="Duplicate detections of the query itself",
    key="similarity.radius",
    disabled=not has_sky,
)
exclude_tagged = cols[2].checkbox(
    "Only untagged galaxies",
    key="similarity.untagged",
    disabled=route != "tag",
    help="Leave out galaxies that already carry the tag, to find new ones",
)
numeric = [
    c
    for c in catalog.columns
    if c not in ("ra", "dec") and pd.api.types.is_float_dtype(catalog[c])
]
predicted = [c for c in numeric if c.startswith("pred_")]
cols = st.columns([2, 1])
only_column = cols[0].selectbox(
    "Only neighbours where",
    [None, *predicted, *[c for c in numeric if c not in predicted]],
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
    try:
        if route == "image":
            if upload is None:
                raise MorphCoreError("upload an image first")
            value = app.embed_upload(dataset, upload.getvalue(), upload.name)
        st.session_state["similarity.result"] = similarity.search(
            app.neighbour_index(dataset),
            catalog,
            app.pca_features(dataset),
            route,
            value,
            int(k),
            radius if has_sky else None,
            exclude_tagged,
            only=(only_column, only_minimum) if only_column else None,
        )
    except MorphCoreError as e:
        st.session_state.pop("similarity.result", None)
        st.error(f"{e}")

result = st.session_state.get("similarity.result")
if result is not None:
    st.subheader("Query")
    st.write(f"Query: {result.note}.")
    if len(result.query):
        app.gallery(result.query, details=details)
    if result.n_tagged is not None:
        st.metric(
            "Neighbours carrying the tag",
            f"{result.n_tagged} of {len(result.neighbours)}",
        )
    st.subheader(f"{len(result.neighbours)} most similar galaxies")
    app.gallery(result.neighbours, details=["distance", *details])
    st.download_button(
        "Download (CSV)",
        result.neighbours.to_csv(index=False),
        file_name=f"{dataset}_similar.csv",
        mime="text/csv",
        key="similarity.download",
    )
