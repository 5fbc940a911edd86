"""Entrypoint: dataset picker, what is loaded, and the way to each tool."""

from pathlib import Path

import streamlit as st

from morph_core import access
from morph_core.app import actions, cache, identity, routing, widgets
from morph_core.dataset import folder_entry
from morph_core.errors import MorphCoreError
from morph_core.runs.background import adapt_in_background, preparing

st.set_page_config(  # an emoji icon: a material one is fetched from Google's servers
    page_title="Galaxy morphology tools", page_icon="🌌", layout="wide"
)
TOOLS = [
    st.Page(path, title=title, icon=icon)
    for path, (title, icon) in routing.TOOLS.items()
]
WORKSHOP_PAGES = [
    st.Page(path, title=title, icon=icon)
    for path, (title, icon) in routing.WORKSHOP_PAGES.items()
]
SAMPLE = 12  # galaxies in Home's random sample


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
    summary = cache.summary(dataset)
    if summary is None:
        _offer_prepare(dataset)
    else:
        if dataset == cache.manifest().first_look_dataset:
            _default_follows(cache.manifest().default_dataset)
        _show_prepared(dataset, summary)
    st.subheader("Tools")
    for page in TOOLS:
        st.page_link(page)
    st.caption("Teaching a class with these tools: a join code, lessons, live results.")
    for page in WORKSHOP_PAGES:
        st.page_link(page)
    if access.policy().allows(identity.visitor(), "own_folder"):
        _own_images()


def _offer_prepare(dataset: str) -> None:
    entry = cache.entry(dataset)
    if preparing(cache.dataset(dataset)):
        st.subheader(f"{dataset} is being prepared")
        _prepare_progress(dataset)
        return
    st.subheader(f"{dataset} is not prepared yet")
    st.write(entry.description or "")
    last = cache.dataset(dataset).progress()
    if last and last.get("state") == "failed":
        st.warning(widgets.plain(f"The last prepare failed: {last.get('error')}"))
    st.write(
        "Preparing reads the catalogue, passes each image once through the CNN, "
        "then fits PCA, UMAP and the anomaly baseline's ellipses. The demo sky "
        "(12,000 galaxies, rendered first) takes a few minutes on two cores."
    )
    visitor = identity.visitor()
    if not access.policy().allows(visitor, "prepare"):
        st.info("An admin of this server prepares datasets; pick a prepared one.")
        return
    if st.button("Prepare", key="home.prepare", type="primary"):
        try:
            result = actions.run_prepare(entry, visitor)
        except MorphCoreError as e:
            st.error(widgets.plain(f"Could not prepare {dataset}: {e}"))
            return
        st.success(
            f"Prepared {result.n_galaxies} galaxies ({len(result.skipped)} skipped)."
        )
        st.rerun()


@st.fragment(run_every=2.0)
def _prepare_progress(dataset: str) -> None:
    """The background prepare's progress, redrawn every 2 s; the page reloads
    when it is done."""
    record = preparing(cache.dataset(dataset))
    if record is None:
        st.rerun()
    first = cache.manifest().first_look_dataset
    if record.get("waiting_for") == first and cache.summary(first) is not None:
        st.session_state["home.switch_to"] = first  # the first look is ready
        st.rerun()
    st.progress(record.get("fraction", 0.0), text=_progress_text(record))
    st.caption(
        "Rendering and embedding the demo sky, then PCA, UMAP and the ellipse fits: "
        "a few minutes on two cores, once. The tools open when it is done."
    )


def _default_follows(default: str) -> None:
    """On the first look: how far the full demo sky is, and the way to it."""
    if preparing(cache.dataset(default)) is not None:
        st.info(
            f"This is a first look at the demo sky: every tool works on it. The "
            f"full sky ({default}) is being prepared and opens here when ready."
        )
        _progress_bar(default)
    elif cache.summary(default) is not None:
        st.success(f"The full demo sky ({default}) is ready.")
        if st.button(f"Open {default}", key="home.open_default", type="primary"):
            st.session_state["home.switch_to"] = default
            st.rerun()


@st.fragment(run_every=2.0)
def _progress_bar(dataset: str) -> None:
    """Redrawn every 2 s while the dataset is prepared or adapted (and no
    longer)."""
    record = preparing(cache.dataset(dataset))
    if record is None:
        st.rerun()  # done (or failed): the page says which, and stops polling
    st.progress(record.get("fraction", 0.0), text=_progress_text(record))


def _progress_text(record: dict) -> str:
    if record.get("waiting_for"):
        return f"waiting for {record['waiting_for']} to be prepared first"
    return f"{record['stage']}: {record['done']:,} of {record['total']:,}"


def _show_prepared(dataset: str, summary: dict) -> None:
    variance = summary["variance_explained"]
    cols = st.columns(4)
    cols[0].metric("Galaxies", f"{summary['n_galaxies']:,}")
    cols[1].metric("Skipped", summary["n_skipped"])
    cols[2].metric("Features", summary["n_features"])
    cols[3].metric("PCA-10 variance", f"{variance['10']:.0%}")
    operator = access.policy().allows(identity.visitor(), "see_all")
    where = f" · workspace `{cache.dataset(dataset).path}`" if operator else ""
    st.caption(
        f"{_encoder_text(summary, operator)} · PCA variance explained: 10 → "
        f"{variance['10']:.1%}, 15 → {variance['15']:.1%}, 40 → "
        f"{variance['40']:.1%} · prepared {summary['created_at']}{where}"
    )
    if summary["n_skipped"]:
        with st.expander(f"{summary['n_skipped']} galaxies skipped, with the reason"):
            skipped = cache.dataset(dataset).skipped()
            if not operator:  # no server paths for visitors of a public demo
                skipped = skipped.assign(
                    file=skipped["file"].map(lambda f: Path(str(f)).name),
                    reason=skipped["reason"].map(access.without_paths),
                )
            st.dataframe(skipped, hide_index=True)
    _adapt_offer(dataset)
    catalog = cache.catalog(dataset)
    st.subheader("A random sample")
    if st.button("Shuffle", key="home.shuffle"):  # each shuffle a new, fixed seed
        st.session_state["home.seed"] = st.session_state.get("home.seed", 0) + 1
    seed = st.session_state.get("home.seed", 0)
    widgets.gallery(
        catalog.sample(min(SAMPLE, len(catalog)), random_state=seed), dataset
    )


def _adapt_offer(dataset: str) -> None:
    """Whoever may prepare: adapt the encoder to this dataset's images in the
    background, then re-prepare with it (the tools keep the current features
    meanwhile)."""
    ds = cache.dataset(dataset)
    if ds.representation_only or not access.policy().allows(
        identity.visitor(), "prepare"
    ):
        return
    with st.expander("Adapt the encoder to these images"):
        if preparing(ds) is not None:
            _progress_bar(dataset)
            return
        st.write(
            "Goes on training the encoder, self-supervised, on this dataset's own "
            "images: two augmented views of each galaxy should look alike to it, "
            "and its features stay near what it learnt from the votes. No label "
            "is read. About 20 minutes on two cores for 5,000 images (at most "
            "5,000 are used); then the dataset is prepared again with the "
            "adapted encoder, whose model card is saved beside it. The tools keep "
            "working on the current features meanwhile. From a terminal: "
            f"`python -m morph_core adapt {dataset}`."
        )
        last = ds.progress()
        if last and last.get("state") == "failed":
            st.warning(widgets.plain(f"The last run failed: {last.get('error')}"))
        if st.button("Adapt the encoder", key="home.adapt"):
            adapt_in_background(ds)
            st.rerun()


def _encoder_text(summary: dict, operator: bool) -> str:
    """Which encoder made the features (weights paths for operators only)."""
    spec = summary["encoder"]["spec"]
    table = summary.get("representation_only", False)
    if spec is None:
        return "Features from a published table (its encoder is not on this server)"
    colour = "greyscale" if spec["channels"] == 1 else "colour"
    weights = spec["weights"] or f"random init, seed {spec['seed']}"
    return (
        f"{'Features from a published table, made by encoder' if table else 'Encoder'}"
        f" {spec['architecture']} ({colour}, {spec['image_size']} px, "
        f"weights: {Path(weights).name if not operator else weights})"
    )


def _own_images() -> None:
    with st.expander("Use your own images"):
        st.write(
            "A folder of JPEG/PNG cutouts on this server, with a CSV holding at least "
            "`galaxy_id` and `file` (path relative to the folder); optional `ra`, "
            "`dec` in degrees, labels and tags. Without a CSV, every image in the "
            "folder becomes a galaxy named after its file."
        )
        with st.form("home.own"):
            name = st.text_input(
                "Dataset name", placeholder="my_survey", key="home.own_name"
            )
            folder = st.text_input(
                "Folder", placeholder="/data/cutouts", key="home.own_folder"
            )
            csv = st.text_input(
                "Catalogue CSV (in the folder)", "catalog.csv", key="home.own_csv"
            )
            id_column = st.text_input(
                "Column holding galaxy_id", "galaxy_id", key="home.own_id_column"
            )
            submitted = st.form_submit_button(
                "Prepare my images", key="home.own_submit"
            )
        if submitted:
            visitor = identity.visitor()
            try:
                columns = {} if id_column == "galaxy_id" else {"galaxy_id": id_column}
                entry = folder_entry(
                    name.strip(), folder.strip(), csv.strip(), columns, visitor=visitor
                )
                result = actions.run_prepare(entry, visitor)
            except MorphCoreError as e:
                st.error(widgets.plain(f"Could not prepare your images: {e}"))
                return
            st.success(f"Prepared {result.n_galaxies} galaxies as {entry.name!r}.")
            st.session_state["home.switch_to"] = entry.name
            st.rerun()


def _opening_dataset(names: list[str]) -> str:
    """The default dataset, or while it is being prepared the first look at it
    when that is ready."""
    manifest = cache.manifest()
    default, first = manifest.default_dataset, manifest.first_look_dataset
    if default not in names:
        return names[0]
    if cache.summary(default) is None and first in names and cache.summary(first):
        return first
    return default


def _pick_dataset() -> None:
    st.session_state["dataset"] = st.session_state["home.dataset"]


def main() -> None:
    try:
        names = cache.datasets()
    except MorphCoreError as e:
        st.error(str(e))
        st.stop()
    if st.session_state.get("home.switch_to") in names:
        st.session_state["dataset"] = st.session_state.pop("home.switch_to")
    if st.session_state.get("dataset") not in names:
        st.session_state["dataset"] = _opening_dataset(names)
    # The picker's id follows the page it is drawn on (and differs on a
    # session's first run): a widget state alone was dropped by a page switch or
    # by the first pick. The pick lives in "dataset", the widget shows it.
    st.session_state["home.dataset"] = st.session_state["dataset"]
    st.sidebar.selectbox(
        "Dataset",
        names,
        key="home.dataset",
        on_change=_pick_dataset,
        format_func=lambda n: n if cache.summary(n) else f"{n} (not prepared)",
    )
    identity.start()  # before the name widget: a returning visitor's name
    st.sidebar.text_input(
        "Your name (shown beside your ratings and runs)",
        key="visitor.name",
        max_chars=40,
        help="Your identity is the link in the address bar (its ?visitor= key): "
        "bookmark it to come back to your ratings and runs. The name is only shown.",
    )
    identity.visitor()  # the key goes into the URL
    identity.admin_sign_in()
    home_page = st.Page(home, title="Home", icon=":material/home:", default=True)
    navigation = st.navigation(
        {"Tools": [home_page, *TOOLS], "Teaching": WORKSHOP_PAGES}
    )
    goto = st.session_state.pop("home.goto", None)
    if goto:  # a page opened by a link before Home.py ran: go back to it
        page, query = goto
        st.switch_page(page, query_params=query)
    if not access.policy().public:
        navigation.run()  # locally, errors show in full (client.showErrorDetails)
        return
    try:
        navigation.run()
    except Exception as error:  # noqa: BLE001 - strangers get an id, not a traceback
        st.error(
            "Something went wrong on the server. If it happens again, tell the "
            f"host this error id: {identity.report(error)}."
        )


main()
