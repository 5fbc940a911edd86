"""A workshop inside the tools: the lesson's task beside the tool, and the
button that sends the answer (a lasso, the picked rings) to the workshop."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from morph_core.access import Visitor
from morph_core.app import cache, identity, widgets
from morph_core.errors import MorphCoreError
from morph_core.store.workshops import Workshop
from morph_core.workshop import classroom, lessons
from morph_core.workshop.lessons import LESSONS


def joined(visitor: Visitor) -> Workshop | None:
    """The workshop ``visitor`` takes part in now, if any."""
    found = cache.workshops().current(visitor.key)
    return found[0] if found else None


def lesson_task(lesson_id: str, dataset: str) -> Workshop | None:
    """Show the lesson's task when the visitor's workshop has it on ``dataset``;
    returns the workshop then."""
    workshop = joined(identity.visitor())
    if workshop is None or lesson_id not in workshop.lessons:
        return None
    if workshop.dataset != dataset:
        st.info(f"Your workshop works on {workshop.dataset}: pick it on Home.")
        return None
    lesson = LESSONS[lesson_id]
    st.info(f"**Workshop · {lesson.title}.** {lesson.task}")
    return workshop


def _send(
    workshop: Workshop, lesson_id: str, catalog: pd.DataFrame, galaxy_ids: list[str]
) -> None:
    """Record an answer (a button's callback); the score or the refusal is
    shown on the next run."""
    try:
        score = classroom.answer(
            cache.workshops(),
            workshop,
            identity.visitor(),
            lesson_id,
            catalog,
            galaxy_ids,
        )
        st.session_state[f"classwork.{lesson_id}"] = ("ok", score)
    except MorphCoreError as e:
        st.session_state[f"classwork.{lesson_id}"] = ("error", str(e))


def _feedback(lesson_id: str) -> None:
    kind, value = st.session_state.pop(f"classwork.{lesson_id}", (None, None))
    if kind == "error":
        st.error(widgets.plain(value))
    elif kind == "ok":
        st.success(feedback(lesson_id, value))


def feedback(lesson_id: str, score: dict) -> str:
    """What a participant is told of their score."""
    if lesson_id == "explorer":
        return (
            f"Sent: {score['n_selected']} galaxies, {score['purity']:.0%} of them "
            f"mergers (purity); you caught {score['completeness']:.0%} of all mergers "
            "(completeness)."
        )
    if lesson_id == "similarity":
        return (
            f"Sent: {score['n_rings']} true rings among your {score['n_picked']} "
            f"picks; a random pick would hold {score['random_expected']:.1f}."
        )
    return str(score)


def send_selection(
    workshop: Workshop | None, catalog: pd.DataFrame, rows: np.ndarray
) -> None:
    """Lesson 1's button under the explorer's selection, the catalogue
    ``rows`` (``workshop``: what :func:`lesson_task` returned)."""
    if workshop is None:
        return
    galaxy_ids = catalog["galaxy_id"].iloc[rows].tolist()
    st.button(
        "Send this selection to the workshop",
        key="classwork.send_selection",
        on_click=_send,
        args=(workshop, "explorer", catalog, galaxy_ids),
    )
    _feedback("explorer")


def send_picks(
    workshop: Workshop | None, catalog: pd.DataFrame, neighbours: pd.DataFrame
) -> None:
    """Lesson 2's picks among the similarity results, and its button
    (``workshop``: what :func:`lesson_task` returned). The picks are a form:
    ticking one reruns nothing, so a pick made while the page still runs is
    not lost (CI once lost the first of two picks, the second made during the
    first one's rerun)."""
    if workshop is None:
        return
    rank = {g: i for i, g in enumerate(neighbours["galaxy_id"], start=1)}
    with st.form("classwork.picks_form", border=False):
        st.multiselect(
            f"Your picks: the results you think are rings (at most {lessons.N_PICKS})",
            list(rank),
            key="classwork.picks",
            max_selections=lessons.N_PICKS,
            format_func=lambda g: f"{rank.get(g, '?')}. {g}",
            help="Numbered as the results above, left to right.",
        )
        st.form_submit_button(
            "Send my picks to the workshop",
            key="classwork.send_picks",
            on_click=_send_picks,
            args=(workshop, catalog),
        )
    _feedback("similarity")


def _send_picks(workshop: Workshop, catalog: pd.DataFrame) -> None:
    """The picks' submit callback: the form's picks as they were sent."""
    _send(workshop, "similarity", catalog, st.session_state.get("classwork.picks", []))


def rater_progress(dataset: str) -> None:
    """Lesson 3's count beside the rater: galaxies rated since joining."""
    workshop = lesson_task("rater", dataset)
    if workshop is None:
        return
    key = identity.visitor().key
    me = cache.workshops().participant(workshop.workshop_id, key)
    events = cache.rating_store(dataset).events(key)
    rated = len(lessons.rated_order(events, since=me.joined_at))
    st.caption(f"Workshop: {rated} of {lessons.N_RATINGS} rated before this batch.")
