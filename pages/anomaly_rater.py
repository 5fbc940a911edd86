"""Anomaly rater: rate galaxies 0-5 for how interesting you find them; the next
batch is chosen to find more of what you like."""

import secrets

import streamlit as st
from streamlit_shortcuts import add_shortcuts

from morph_core import app, explorer
from morph_core.anomaly.feature_sets import FEATURE_SETS
from morph_core.anomaly.gp import STRATEGIES
from morph_core.errors import MorphCoreError
from morph_core.features import UMAP_MIN_DIST, UMAP_NEIGHBOURS

st.title("Anomaly rater")
st.caption(
    "Rate each galaxy from 0 (not interesting to you) to 5 (very interesting). A "
    "Gaussian process learns your taste from the CNN representation (PCA-40, or "
    "the baseline's ellipse fits: Features in the sidebar) and "
    "every batch of 10 is the galaxies most likely to beat your best rating "
    "(expected improvement, paper §3.2). Keys: 0-5 rate the highlighted galaxy, "
    "←/→ move, u undoes, s skips."
)
dataset = app.require_dataset("pages/anomaly_rater.py")

if "rater.name" not in st.session_state:  # kept in the URL, so a reload resumes
    st.session_state["rater.name"] = (
        st.query_params.get("rater") or f"visitor-{secrets.token_hex(3)}"
    )
with st.sidebar:
    name = st.text_input("Your name (your ratings are kept under it)", key="rater.name")
    strategy = st.selectbox(
        "Strategy",
        STRATEGIES,
        index=STRATEGIES.index("isolation_forest"),
        key="rater.strategy",
        format_func={
            "paper": "paper: random first batch, then EI",
            "isolation_forest": "unusual galaxies first, then EI",
        }.get,
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
store = app.rating_store(dataset)


def _act(action, *args) -> None:
    try:
        action(*args)
    except MorphCoreError as e:
        st.session_state["rater.error"] = str(e)


def _rate(galaxy_id: str, rating: int) -> None:
    _act(store.rate, name, galaxy_id, rating, "page")


state = app.rater(
    dataset,
    name,
    strategy,
    feature_set,
    st.session_state.pop("rater.retrain", False),
)
if error := st.session_state.pop("rater.error", None):
    st.error(error)
catalog = app.catalog(dataset).set_index("galaxy_id", drop=False)
batch = state.batch
focus = min(st.session_state.get("rater.focus", 0), max(len(batch) - 1, 0))
st.session_state["rater.focus"] = focus

st.subheader(f"Rate these {len(batch)} galaxies")
st.caption(f"Why these: {state.model.proposal.reason}.")
for start in range(0, len(batch), 5):  # rows of 5 cards, in batch order
    for i, cell in enumerate(st.columns(5), start):
        if i >= len(batch):
            break
        galaxy_id = batch[i]
        with cell, st.container(border=i == focus, key=f"rater_card_{i}"):
            image = app.thumbnail(catalog.loc[galaxy_id, "file"], 256)
            if image is not None:
                st.image(image, width="stretch")
            st.caption(("▶ " if i == focus else "") + galaxy_id)
            for row in (range(0, 3), range(3, 6)):  # two rows: digits stay legible
                for rating, button in zip(row, st.columns(3, gap="small"), strict=True):
                    button.button(
                        str(rating),
                        key=f"rater_rate_{i}_{rating}",
                        on_click=_rate,
                        args=(galaxy_id, rating),
                        width="stretch",
                    )

quick = st.columns(10)
if batch:
    for rating in range(6):
        quick[rating].button(
            f"{rating}",
            key=f"rater_quick_{rating}",
            help="rate the highlighted galaxy",
            on_click=_rate,
            args=(batch[focus], rating),
        )
    quick[6].button(
        "←",
        key="rater_prev",
        on_click=lambda: st.session_state.update({"rater.focus": max(focus - 1, 0)}),
    )
    quick[7].button(
        "→",
        key="rater_next",
        on_click=lambda: st.session_state.update({"rater.focus": focus + 1}),
    )
    quick[8].button(
        "Skip",
        key="rater_skip",
        on_click=app.skip_galaxy,
        args=(dataset, name, batch[focus]),
    )
quick[9].button(
    "Undo", key="rater_undo", on_click=_act, args=(store.undo, name, "page")
)
add_shortcuts(
    **{f"rater_quick_{r}": str(r) for r in range(6)},
    rater_prev="arrowleft",
    rater_next="arrowright",
    rater_skip="s",
    rater_undo="u",
)

with st.expander("What the model believes"):
    st.write(
        "For each galaxy of this batch: the rating the Gaussian process predicts, "
        "its uncertainty, and the expected improvement that chose it."
    )
    rows = [catalog.index.get_loc(g) for g in batch]
    st.dataframe(
        {
            "galaxy_id": batch,
            "predicted rating": state.model.proposal.mean[rows].round(2),
            "uncertainty": state.model.proposal.std[rows].round(2),
            "score": state.model.proposal.acquisition[rows],
        },
        hide_index=True,
    )

with st.sidebar:
    st.metric("Your ratings", len(state.model.ratings))
    st.button(
        "Retrain now",
        key="rater.retrain_button",
        on_click=lambda: st.session_state.update({"rater.retrain": True}),
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
    st.download_button(
        "Your ratings (CSV)",
        state.model.ratings.to_csv(index=False),
        file_name=f"{dataset}_{name}_ratings.csv",
        key="rater.csv",
    )
    st.download_button(
        "Full ranking (CSV)",
        state.model.ranking.to_csv(index=False),
        file_name=f"{dataset}_{name}_ranking.csv",
        key="rater.ranking_csv",
    )
    with st.expander("Top 50 by predicted interest"):
        top = catalog.loc[state.model.ranking["galaxy_id"].head(50)].reset_index(
            drop=True
        )
        app.gallery(top, columns=3)
    embedding = app.umap(dataset, UMAP_NEIGHBOURS, UMAP_MIN_DIST)
    if embedding is not None:
        ranked = catalog.assign(
            interest=state.model.ranking.set_index("galaxy_id")["interest"]
        ).reset_index(drop=True)
        st.plotly_chart(
            explorer.map_figure(
                ranked, embedding, "interest", ["interest"]
            ).update_layout(height=300, showlegend=False),
            key="rater.map",
        )
