"""Class dashboard: an instructor creates a workshop, projects its join code and
follows the class's progress and results live."""

import pandas as pd
import streamlit as st

from morph_core import access
from morph_core.app import cache, identity, routing, widgets
from morph_core.errors import MorphCoreError
from morph_core.workshop import classroom
from morph_core.workshop.join import join_link, qr_png
from morph_core.workshop.lessons import LESSONS

REFRESH_S = 5.0

st.title("Class dashboard")
routing.through_home(routing.CLASS_DASHBOARD)
visitor = identity.visitor()
rules = access.policy()
if not rules.allows(visitor, "run_workshop"):
    st.info(
        "Instructors sign in as admin (Admin, in the sidebar) to run a workshop. "
        "Participants join on the Workshop page."
    )
    st.stop()
workshops = cache.workshops()
keys: dict[str, str] = st.session_state.setdefault("class.keys", {})


def _create(like=None) -> None:
    """Create from the form, or (``like``) with a past class's settings."""
    state = st.session_state
    title, dataset, lessons, minutes = (
        (like.title, like.dataset, list(like.lessons), 0)
        if like is not None
        else (
            state["class.title"],
            state["class.dataset"],
            state["class.lessons"],
            int(state["class.minutes"]),
        )
    )
    try:
        workshop, key = classroom.create(
            workshops, visitor, title, cache.dataset(dataset), lessons, minutes or None
        )
    except MorphCoreError as e:
        state["class.notice"] = ("error", str(e))
        return
    keys[workshop.workshop_id] = key
    state["class.workshop"] = workshop.workshop_id
    state["class.new_key"] = key
    state["class.notice"] = (
        "success",
        "Created. Your instructor key is folded below, shown this once: keep it to "
        "manage this workshop from another browser.",
    )


def _act(action, *args) -> None:
    try:
        action(*args)
    except MorphCoreError as e:
        st.session_state["class.notice"] = ("error", str(e))


prepared = [n for n in cache.datasets() if cache.summary(n)]
with st.expander("New workshop", expanded=not workshops.workshops()):
    with st.form("class.new"):
        st.text_input("Title", "Galaxy morphology workshop", key="class.title")
        st.selectbox("Dataset", prepared, key="class.dataset")
        st.multiselect(
            "Lessons",
            list(LESSONS),
            list(LESSONS),
            format_func=lambda lesson: LESSONS[lesson].title,
            key="class.lessons",
        )
        st.number_input(
            "Ends after (minutes; 0: when you end it)", 0, 600, 90, key="class.minutes"
        )
        st.form_submit_button(
            "Create", type="primary", on_click=_create, key="class.create"
        )
kind, notice = st.session_state.pop("class.notice", (None, None))
if kind:
    getattr(st, kind)(widgets.plain(notice) if kind == "error" else notice)
new_key = st.session_state.pop("class.new_key", None)
if new_key:  # folded: this page is projected to the class
    with st.expander("Instructor key (not for the projector)"):
        st.code(new_key, language=None)

listing = workshops.workshops(None if rules.allows(visitor, "see_all") else visitor.key)
if not st.toggle("Show archived workshops", key="class.archived"):
    listing = [w for w in listing if w.state != "archived"]
if not listing:
    st.info("No workshop yet: create one above.")
    st.stop()
by_id = {w.workshop_id: w for w in listing}
if st.session_state.get("class.workshop") not in by_id:
    st.session_state["class.workshop"] = listing[0].workshop_id
chosen = st.selectbox(
    "Workshop",
    list(by_id),
    key="class.workshop",
    format_func=lambda w: f"{by_id[w].title} ({by_id[w].code}, {by_id[w].status()})",
)
workshop = workshops.get(chosen)
key = keys.get(workshop.workshop_id)

cols = st.columns([1, 2, 1])
cols[0].metric("Join code", workshop.code)
base = (st.context.url or "http://localhost:8501/").rsplit("/", 1)[0]
link = join_link(base, workshop.code)
cols[1].markdown(f"Join at the **Workshop** page with the code, or open:\n\n`{link}`")
cols[1].caption(
    f"Status: {workshop.status()} · dataset {workshop.dataset} · lessons: "
    + ", ".join(LESSONS[lesson].title for lesson in workshop.lessons)
)
cols[2].image(qr_png(link), caption="Scan to join", width=180)

with st.expander("Manage", expanded=key is None):
    if key is None:
        st.text_input("Instructor key", type="password", key="class.key")
        given = st.session_state.get("class.key", "")
        if given:
            try:
                workshops.check_key(workshop.workshop_id, given)
                keys[workshop.workshop_id] = key = given
            except access.Refused as e:
                st.error(str(e))
    if key is not None:
        cols = st.columns(4)
        paused = workshop.state == "paused"
        cols[0].button(
            "Resume" if paused else "Pause",
            key="class.pause",
            on_click=_act,
            args=(
                workshops.set_state,
                workshop.workshop_id,
                key,
                "open" if paused else "paused",
            ),
            disabled=workshop.status() in ("ended", "archived"),
        )
        cols[1].button(
            "End the workshop",
            key="class.end",
            on_click=_act,
            args=(workshops.set_state, workshop.workshop_id, key, "ended"),
            disabled=workshop.status() in ("ended", "archived"),
        )
        reveal = cols[2].selectbox(
            "Reveal the answers of",
            [lesson for lesson in workshop.lessons if lesson not in workshop.revealed],
            format_func=lambda lesson: LESSONS[lesson].title,
            key="class.reveal_lesson",
        )
        cols[2].button(
            "Reveal",
            key="class.reveal",
            disabled=reveal is None,
            on_click=_act,
            args=(workshops.reveal, workshop.workshop_id, key, reveal),
        )
        cols[3].download_button(
            "Export everything (zip)",
            lambda: classroom.export_zip(
                workshops, workshop, cache.dataset(workshop.dataset)
            ),
            file_name=f"workshop_{workshop.code}.zip",
            mime="application/zip",
            key="class.export",
            on_click="ignore",
        )
        st.divider()
        confirm = st.checkbox(
            "Archive this class (nothing is deleted; its code stops working)",
            key="class.confirm_archive",
        )
        st.button(
            "Archive",
            key="class.archive",
            disabled=not confirm or workshop.state == "archived",
            on_click=_act,
            args=(workshops.set_state, workshop.workshop_id, key, "archived"),
        )
        st.button(
            "New class like this one",
            key="class.again",
            on_click=_create,
            args=(workshop,),
            help="A new workshop with the same title, dataset and lessons and a new "
            "code; this one stays as it is.",
        )
        st.text_input(
            "To delete this class and its answers for good, type its title",
            key="class.confirm_delete",
        )
        st.button(
            "Delete",
            key="class.delete",
            on_click=_act,
            args=(
                workshops.delete,
                workshop.workshop_id,
                key,
                st.session_state.get("class.confirm_delete", ""),
            ),
        )


@st.fragment(run_every=REFRESH_S)
def _live() -> None:
    """The class now (redrawn every few seconds)."""
    results = cache.class_results(workshop.workshop_id)
    progress = results.progress
    cols = st.columns(1 + len(workshop.lessons))
    cols[0].metric("Participants", len(progress))
    for col, lesson in zip(cols[1:], workshop.lessons, strict=True):
        done = int((progress[lesson] == "done").sum()) if len(progress) else 0
        col.metric(LESSONS[lesson].title.split(". ", 1)[1], f"{done} done")
    st.subheader("Progress")
    st.dataframe(progress.drop(columns=["visitor"]), hide_index=True)
    for lesson in workshop.lessons:
        st.subheader(LESSONS[lesson].title)
        _results(lesson, results)


def _results(lesson: str, results) -> None:
    figure = cache.class_figures(workshop.workshop_id)[lesson]
    st.plotly_chart(figure, key=f"class.{lesson}")
    if lesson == "rater":
        cols = st.columns(3)
        cols[0].metric(
            "True rings and lenses found by the class",
            f"{results.found} of {results.n_interesting}",
        )
        agreement = results.agreement
        cols[1].metric(
            "Agreement (mean Spearman)",
            "-" if agreement["spearman"] is None else f"{agreement['spearman']:.2f}",
            help=f"over {agreement['pairs']} pairs of raters with 3+ galaxies in "
            "common",
        )
        cols[2].metric(
            "Shared galaxies rated within 1",
            "-"
            if agreement["within_one"] is None
            else f"{agreement['within_one']:.0%}",
            help=f"{agreement['galaxies_shared']} galaxies rated by 2+ people",
        )
        if len(results.fives):
            st.caption("Most often rated 5")
            catalog = cache.catalog(workshop.dataset).set_index("galaxy_id", drop=False)
            top = catalog.loc[results.fives["galaxy_id"]].reset_index(drop=True)
            widgets.gallery(
                top.assign(n_fives=results.fives["n_fives"].to_numpy()),
                workshop.dataset,
                details=["n_fives"],
            )
    elif lesson == "finetune":
        board = results.runs[
            ["participant", "n_per_class", "state", "test_auc", "test_accuracy"]
        ]
        st.dataframe(board.rename(columns={"test_auc": "test AUC"}), hide_index=True)
        if len(results.label_curve):
            st.dataframe(pd.DataFrame(results.label_curve), hide_index=True)


_live()
