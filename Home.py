"""Entrypoint: dataset picker, what is loaded, and the way to each tool."""

import numpy as np
import streamlit as st

from morph_core import app
from morph_core.datasets import folder_entry
from morph_core.errors import MorphCoreError

st.set_page_config(
    page_title="Galaxy morphology tools", page_icon=":material/blur_on:", layout="wide"
)

TOOLS = [
    st.Page(
        "pages/umap_explorer.py", title="UMAP explorer", icon=":material/scatter_plot:"
    ),
    st.Page(
        "pages/tag_similarity.py", title="Tag similarity", icon=":material/search:"
    ),
    st.Page("pages/anomaly_rater.py", title="Anomaly rater", icon=":material/star:"),
    st.Page(
        "pages/finetune_monitor.py",
        title="Fine-tune monitor",
        icon=":material/model_training:",
    ),
]


def home() -> None:
    st.title("Galaxy morphology tools")
    st.write(
        "Explore a galaxy survey through the representation a CNN learned from "
        "volunteer classifications: find similar galaxies, hunt for the ones you find "
        "interesting, and train a classifier from a handful of labels "
        "(Walmsley et al. 2022, MNRAS 513, 1581)."
    )
    dataset = st.session_state.get("dataset")
    if dataset is None:
        st.info("No dataset is known: check data_manifest.yaml.")
        return
    summary = app.summary(dataset)
    if summary is None:
        _offer_prepare(dataset)
    else:
        _show_prepared(dataset, summary)
    st.subheader("Tools")
    for page in TOOLS:
        st.page_link(page)
    _own_images()


def _offer_prepare(dataset: str) -> None:
    entry = app.entry(dataset)
    st.subheader(f"{dataset} is not prepared yet")
    st.write(entry.description or "")
    st.write(
        "Preparing reads the catalogue, passes each image once through the CNN, "
        "then fits PCA and UMAP. The demo sky (12,000 galaxies, rendered first) "
        "takes a few minutes on two cores."
    )
    if st.button("Prepare", key="home.prepare", type="primary"):
        try:
            result = app.run_prepare(entry)
        except MorphCoreError as e:
            st.error(f"Could not prepare {dataset}: {e}")
            return
        st.success(
            f"Prepared {result.n_galaxies} galaxies ({len(result.skipped)} skipped)."
        )
        st.rerun()


def _show_prepared(dataset: str, summary: dict) -> None:
    variance = summary["variance_explained"]
    spec = summary["encoder"]["spec"]
    cols = st.columns(4)
    cols[0].metric("Galaxies", f"{summary['n_galaxies']:,}")
    cols[1].metric("Skipped", summary["n_skipped"])
    cols[2].metric("Features", summary["n_features"])
    cols[3].metric("PCA-10 variance", f"{variance['10']:.0%}")
    colour = "greyscale" if spec["channels"] == 1 else "colour"
    weights = spec["weights"] or f"random init, seed {spec['seed']}"
    st.caption(
        f"Encoder {spec['architecture']} ({colour}, {spec['image_size']} px, "
        f"weights: {weights}) · PCA variance explained: 10 → {variance['10']:.1%}, "
        f"15 → {variance['15']:.1%}, 40 → {variance['40']:.1%} · prepared "
        f"{summary['created_at']} · workspace `{app.workspace_path(dataset)}`"
    )
    if summary["n_skipped"]:
        with st.expander(f"{summary['n_skipped']} galaxies skipped, with the reason"):
            st.dataframe(app.skipped(dataset), hide_index=True)
    catalog = app.catalog(dataset)
    st.subheader("A random sample")
    if st.button("Shuffle", key="home.shuffle"):
        st.session_state["home.seed"] = int(np.random.default_rng().integers(1 << 31))
    seed = st.session_state.get("home.seed", 0)
    app.gallery(catalog.sample(min(12, len(catalog)), random_state=seed))


def _own_images() -> None:
    with st.expander("Use your own images"):
        st.write(
            "A folder of JPEG/PNG cutouts on this server, with a CSV holding at least "
            "`galaxy_id` and `file` (path relative to the folder); optional `ra`, "
            "`dec` in degrees, labels and tags. Without a CSV, every image in the "
            "folder becomes a galaxy named after its file."
        )
        with st.form("home.own"):
            name = st.text_input("Dataset name", placeholder="my_survey")
            folder = st.text_input("Folder", placeholder="/data/cutouts")
            csv = st.text_input("Catalogue CSV (in the folder)", value="catalog.csv")
            id_column = st.text_input("Column holding galaxy_id", value="galaxy_id")
            submitted = st.form_submit_button("Prepare my images")
        if submitted:
            try:
                columns = {} if id_column == "galaxy_id" else {"galaxy_id": id_column}
                entry = folder_entry(name.strip(), folder.strip(), csv.strip(), columns)
                result = app.run_prepare(entry)
            except MorphCoreError as e:
                st.error(f"Could not prepare your images: {e}")
                return
            st.success(f"Prepared {result.n_galaxies} galaxies as {entry.name!r}.")
            st.session_state["home.switch_to"] = entry.name
            st.rerun()


def main() -> None:
    try:
        names = app.datasets()
    except MorphCoreError as e:
        st.error(str(e))
        st.stop()
    default = app.manifest().default_dataset
    if st.session_state.get("home.switch_to") in names:
        st.session_state["dataset"] = st.session_state.pop("home.switch_to")
    if st.session_state.get("dataset") not in names:
        st.session_state["dataset"] = default if default in names else names[0]
    st.sidebar.selectbox(
        "Dataset",
        names,
        key="dataset",
        format_func=lambda n: n if app.summary(n) else f"{n} (not prepared)",
    )
    navigation = st.navigation(
        [st.Page(home, title="Home", icon=":material/home:", default=True), *TOOLS]
    )
    goto = st.session_state.pop("home.goto", None)
    if goto:  # a page opened by a link before Home.py ran: go back to it
        page, query = goto
        st.switch_page(page, query_params=query)
    navigation.run()


main()
