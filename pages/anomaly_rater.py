"""Anomaly rater: rate galaxies 0-5 for how interesting you find them; the next
batch is chosen to find more of what you like."""

import streamlit as st

from morph_core.app import cache, classwork, identity, routing, widgets
from morph_core.app.figures import interest_map
from morph_core.app.rating_desk import rating_desk
from morph_core.data.export import to_csv
from morph_core.dataset import UMAP_DEFAULT
from morph_core.errors import MorphCoreError
from morph_core.tools.anomaly.features import FEATURE_SETS
from morph_core.tools.anomaly.finder import STARTS
from morph_core.tools.anomaly.session import apply_clicks

START_LABELS = {
    "paper": "paper: random first batch, then EI",
    "isolation_forest": "unusual galaxies first, then EI",
}

st.title("Anomaly rater")
st.caption(
    "Rate each galaxy from 0 (not interesting to you) to 5 (very interesting). A "
    "Gaussian process learns your taste from the CNN representation (PCA-40, or "
    "the baseline's ellipse fits: Features in the sidebar) and, once a batch of 10 "
    "is rated, picks the galaxies most likely to beat your best rating (expected "
    "improvement, paper §3.2). Your ratings are kept under the link in your "
    "address bar: bookmark it to come back."
)
dataset = routing.require_dataset(routing.RATER)
visitor = identity.visitor()
classwork.rater_progress(dataset)
with st.sidebar:
    start = st.selectbox(
        "Start",
        STARTS,
        index=STARTS.index("isolation_forest"),
        key="rater.start",
        format_func=START_LABELS.get,
    )
    images = not cache.dataset(dataset).representation_only
    feature_set = st.selectbox(
        "Features",
        list(FEATURE_SETS) if images else ["cnn"],
        key="rater.features",
        format_func=FEATURE_SETS.get,
        help="What the model compares galaxies by: the CNN representation (the "
        "paper's), the ellipse fits of the Astronomaly baseline, or both."
        + ("" if images else " A published representation has no images to fit."),
    )
store = cache.rating_store(dataset)
if visitor.name and store.name(visitor.key) != visitor.name:
    store.set_name(visitor.key, visitor.name)


def _save(clicks) -> list[str]:
    results = apply_clicks(store, visitor.key, clicks, identity.session_id())
    st.session_state["rater.notices"] = [r.message for r in results if not r.saved]
    return [r.click_id for r in results]


def _act(action, *args) -> None:
    try:
        action(*args)
    except MorphCoreError as e:
        st.session_state["rater.notices"] = [str(e)]


def _state():
    """The rater's batch and model; a message and a stop when they cannot be had."""
    try:
        retrain = st.session_state.pop("rater.retrain", False)
        if retrain:
            cache.limiter().check(visitor, "refit")
        return cache.rater(dataset, visitor.key, start, feature_set, retrain)
    except MorphCoreError as e:
        st.error(widgets.plain(e))
        st.stop()


@st.fragment
def _desk() -> None:
    """The batch and its clicks: a click reruns only this part of the page; a
    new batch (a new model) redraws the whole page once."""
    state = _state()
    if state.batch.batch_id != st.session_state.get("rater.page_batch"):
        if st.session_state.get("rater.page_batch") is not None:
            st.session_state["rater.page_batch"] = state.batch.batch_id
            st.rerun()  # the sidebar's ranking, map and top 50 follow the new model
        st.session_state["rater.page_batch"] = state.batch.batch_id
    for notice in dict.fromkeys(st.session_state.pop("rater.notices", [])):
        st.warning(widgets.plain(notice))
    batch = state.batch
    cols = st.columns([3, 1])
    cols[0].subheader(f"Rate these {len(batch.remaining)} galaxies")
    cols[1].metric("Your ratings", store.count(visitor.key))
    st.caption(f"Why these: {state.model.proposal.reason}.")
    files = cache.files(dataset, batch.remaining)
    rating_desk(batch.batch_id, batch.remaining, files, _save)


st.session_state["rater.page_batch"] = None  # a full run draws the sidebar anyway
_desk()
state = _state()
with st.expander("What the model believes"):  # one table per batch, not per click
    st.write(
        "For each galaxy of this batch: the rating the Gaussian process "
        "predicts, its uncertainty, and the expected improvement that chose it "
        "(fitted once for the batch, on your ratings before it)."
    )
    st.dataframe(state.model.beliefs(state.batch.galaxy_ids), hide_index=True)

with st.sidebar:
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
        args=(store.start_over, visitor.key, identity.session_id()),
    )
    downloads = {  # written when clicked, not on every run (12k rows: 0.1 s)
        "ratings": ("Your ratings", lambda key=visitor.key: to_csv(store.ratings(key))),
        "ranking": ("Full ranking", lambda model=state.model: to_csv(model.ranking())),
    }
    for what, (label, write) in downloads.items():
        st.download_button(
            f"{label} (CSV)",
            write,
            key=f"rater.{what}_csv",
            file_name=f"{dataset}_{what}.csv",
            mime="text/csv",
            on_click="ignore",
        )
    # drawn on request: 50 thumbnails and a map of every galaxy, redrawn with
    # each new batch, cost more than the batch itself
    if st.toggle("Top 50 and the map of predicted interest", key="rater.extras"):
        catalog = cache.catalog(dataset)
        top = catalog.iloc[state.model.top_rows(50)].reset_index(drop=True)
        widgets.gallery(top, dataset, columns=3)
        embedding = cache.umap(dataset, *UMAP_DEFAULT)
        if embedding is not None:
            density = cache.map_density(dataset, *UMAP_DEFAULT)
            figure = interest_map(catalog, state.model.interest, embedding, density)
            st.plotly_chart(figure, key="rater.map")
