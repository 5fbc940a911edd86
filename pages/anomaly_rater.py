"""Anomaly rater: rate galaxies 0-5 for how interesting you find them; the next
batch is chosen to find more of what you like."""

import secrets

import streamlit as st

from morph_core.app import cache, routing, widgets
from morph_core.app.figures import interest_map
from morph_core.dataset import UMAP_DEFAULT
from morph_core.errors import MorphCoreError
from morph_core.tools.anomaly.features import FEATURE_SETS
from morph_core.tools.anomaly.finder import STARTS

START_LABELS = {
    "paper": "paper: random first batch, then EI",
    "isolation_forest": "unusual galaxies first, then EI",
}

st.title("Anomaly rater")
st.caption(
    "Rate each galaxy from 0 (not interesting to you) to 5 (very interesting). A "
    "Gaussian process learns your taste from the CNN representation (PCA-40, or "
    "the baseline's ellipse fits: Features in the sidebar) and every batch of 10 is "
    "the galaxies most likely to beat your best rating (expected improvement, paper "
    "§3.2). Keys: 0-5 rate the highlighted galaxy, ←/→ move, u undoes, s skips."
)
dataset = routing.require_dataset(routing.RATER)
if "rater.name" not in st.session_state:  # kept in the URL, so a reload resumes
    st.session_state["rater.name"] = (
        st.query_params.get("rater") or f"visitor-{secrets.token_hex(3)}"
    )
with st.sidebar:
    name = st.text_input("Your name (your ratings are kept under it)", key="rater.name")
    start = st.selectbox(
        "Start",
        STARTS,
        index=STARTS.index("isolation_forest"),
        key="rater.start",
        format_func=START_LABELS.get,
    )
    feature_set = st.selectbox(
        "Features",
        list(FEATURE_SETS),
        key="rater.features",
        format_func=FEATURE_SETS.get,
        help="What the model compares galaxies by: the CNN representation (the "
        "paper's), the ellipse fits of the Astronomaly baseline, or both.",
    )
name = name.strip()
if not name:
    st.warning("Type a name in the sidebar to start rating.")
    st.stop()
st.query_params["rater"] = name
store = cache.rating_store(dataset)


def _act(action, *args) -> None:
    try:
        action(*args)
    except MorphCoreError as e:
        st.session_state["rater.error"] = str(e)


def _rate(galaxy_id: str, rating: int) -> None:
    _act(store.rate, name, galaxy_id, rating, "page")


try:
    retrain = st.session_state.pop("rater.retrain", False)
    state = cache.rater(dataset, name, start, feature_set, retrain)
except MorphCoreError as e:
    st.error(str(e))
    st.stop()
if error := st.session_state.pop("rater.error", None):
    st.error(error)
catalog = cache.catalog(dataset).set_index("galaxy_id", drop=False)
batch = state.batch
st.subheader(f"Rate these {len(batch)} galaxies")
st.caption(f"Why these: {state.model.proposal.reason}.")
widgets.rating_cards(batch, catalog["file"], _rate)
widgets.rating_bar(
    batch,
    _rate,
    lambda galaxy_id: cache.skip_galaxy(dataset, name, galaxy_id),
    lambda: _act(store.undo, name, "page"),
)

with st.expander("What the model believes"):
    st.write(
        "For each galaxy of this batch: the rating the Gaussian process predicts, "
        "its uncertainty, and the expected improvement that chose it."
    )
    st.dataframe(state.model.beliefs(batch), hide_index=True)

with st.sidebar:
    st.metric("Your ratings", len(state.model.ratings))
    st.button(
        "Retrain now",
        key="rater.retrain_button",
        on_click=st.session_state.update,
        kwargs={"rater.retrain": True},
    )
    confirm = st.checkbox(
        "I want to start over (ratings are archived)", key="rater.confirm"
    )
    st.button(
        "Start over",
        key="rater.start_over",
        disabled=not confirm,
        on_click=_act,
        args=(store.start_over, name, "page"),
    )
    downloads = {"ratings": "Your ratings", "ranking": "Full ranking"}
    for what, label in downloads.items():
        st.download_button(
            f"{label} (CSV)",
            getattr(state.model, what).to_csv(index=False),
            key=f"rater.{what}_csv",
            file_name=f"{dataset}_{name}_{what}.csv",
        )
    with st.expander("Top 50 by predicted interest"):
        top = catalog.loc[state.model.ranking["galaxy_id"].head(50)]
        widgets.gallery(top.reset_index(drop=True), columns=3)
    embedding = cache.umap(dataset, *UMAP_DEFAULT)
    if embedding is not None:
        figure = interest_map(cache.catalog(dataset), state.model.ranking, embedding)
        st.plotly_chart(figure, key="rater.map")
