"""Workshop: join a class with its code, then go through the lessons in order."""

import pandas as pd
import streamlit as st

from morph_core.app import cache, classwork, identity, routing, widgets
from morph_core.errors import MorphCoreError
from morph_core.workshop import classroom, lessons
from morph_core.workshop.lessons import LABEL_COUNTS, LESSONS

st.title("Workshop")
routing.through_home(routing.WORKSHOP)
visitor = identity.visitor()
workshops = cache.workshops()


def _join() -> None:
    try:
        workshop, _ = workshops.join(
            st.session_state.get("workshop.code", ""),
            visitor.key,
            st.session_state.get("workshop.name", ""),
        )
    except MorphCoreError as e:
        st.session_state["workshop.refused"] = str(e)
        return
    st.session_state["visitor.name"] = st.session_state["workshop.name"]
    st.session_state["home.switch_to"] = workshop.dataset


workshop = classwork.joined(visitor)
if workshop is None:
    st.write(
        "Join your class with the code your instructor shows, and a name the class "
        "will see beside your results. No account: the link in your address bar "
        "is your place in the workshop (bookmark it to come back)."
    )
    with st.form("workshop.join"):
        st.text_input("Join code", st.query_params.get("code", ""), key="workshop.code")
        st.text_input(
            "Your display name", visitor.name, key="workshop.name", max_chars=40
        )
        st.form_submit_button(
            "Join", type="primary", on_click=_join, key="workshop.join_submit"
        )
    refused = st.session_state.pop("workshop.refused", None)
    if refused:
        st.error(widgets.plain(refused))
    st.stop()

if (
    st.session_state.get("dataset") != workshop.dataset
    and st.session_state.get("workshop.switched") != workshop.workshop_id
):  # a returning participant: the tools open on the workshop's dataset (once)
    st.session_state["workshop.switched"] = workshop.workshop_id
    st.session_state["home.switch_to"] = workshop.dataset
    st.rerun()
me = workshops.participant(workshop.workshop_id, visitor.key)
st.subheader(workshop.title)
status = workshop.status()
st.caption(
    f"You are **{me.name}** · dataset {workshop.dataset} · workshop {status}"
    + (" · answers are not taken while it is paused" if status == "paused" else "")
)


def _train(n_per_class: int) -> None:
    try:
        run_id = classroom.submit_lesson_run(
            workshops, workshop, cache.dataset(workshop.dataset), visitor, n_per_class
        )
        st.session_state["workshop.trained"] = f"Run {run_id} queued."
    except MorphCoreError as e:
        st.session_state["workshop.trained"] = f"Not started: {e}"


@st.fragment(run_every=10.0)
def _lessons() -> None:
    """The lessons with the class's live figures (redrawn every 10 s)."""
    current = workshops.get(workshop.workshop_id)
    results = cache.class_results(workshop.workshop_id)
    figures = cache.class_figures(workshop.workshop_id)
    mine = results.progress[results.progress["visitor"] == visitor.key]
    row = mine.iloc[0].to_dict() if len(mine) else {}
    done = sum(row.get(lesson) == "done" for lesson in current.lessons)
    st.progress(
        done / len(current.lessons), text=f"{done} of {len(current.lessons)} done"
    )
    for lesson_id in current.lessons:
        lesson = LESSONS[lesson_id]
        with st.container(border=True):
            st.markdown(f"#### {lesson.title} · {row.get(lesson_id, 'not started')}")
            st.write(lesson.idea)
            st.plotly_chart(figures[lesson_id], key=f"workshop.figure.{lesson_id}")
            st.markdown(f"**Your task.** {lesson.task}")
            if lesson_id == "finetune":
                cols = st.columns(len(LABEL_COUNTS))
                for col, n in zip(cols, LABEL_COUNTS, strict=True):
                    col.button(
                        f"Train with {n} labels per class",
                        key=f"workshop.train_{n}",
                        on_click=_train,
                        args=(n,),
                    )
                note = st.session_state.pop("workshop.trained", None)
                if note:
                    st.info(widgets.plain(note))
            else:
                st.page_link(lesson.page, label=f"Open {routing.TOOLS[lesson.page][0]}")
            st.markdown(f"**Your score.** {_score(lesson_id, row, results)}")
            if lesson_id in current.revealed:
                st.success(f"**Answer.** {lesson.answer}")


def _score(lesson_id: str, row: dict, results) -> str:
    if row.get(lesson_id, "not started") == "not started":
        return "nothing yet."
    if lesson_id == "explorer":
        return f"purity {row['purity']:.0%}, completeness {row['completeness']:.0%}."
    if lesson_id == "similarity":
        chance = lessons.N_PICKS * results.ring_rate
        return f"{int(row['rings_picked'])} true rings; a random pick: {chance:.1f}."
    if lesson_id == "rater":
        curves = results.curves
        at = curves[curves["n_rated"] == min(row["rated"], lessons.N_RATINGS)]
        chance = row["rated"] * results.interesting_rate
        return (
            f"{int(row['found'])} rings and lenses met in {int(row['rated'])} "
            f"ratings (class mean at that point: {at['found'].mean():.1f}; a random "
            f"order: {chance:.1f})."
        )
    aucs = [
        f"{n} labels: AUC {row[f'auc_{n}']:.3f}"
        for n in LABEL_COUNTS
        if pd.notna(row.get(f"auc_{n}"))
    ]
    return "; ".join(aucs) + "." if aucs else "runs queued or training."


_lessons()
st.button(
    "Leave the workshop",
    key="workshop.leave",
    on_click=workshops.leave,
    args=(workshop.workshop_id, visitor.key),
    help="Your answers, ratings and runs stay; join again with the code to resume.",
)
