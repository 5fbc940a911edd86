"""The pages and the dataset each one needs."""

from __future__ import annotations

import streamlit as st

from morph_core.app import cache

HOME = "Home.py"
EXPLORER = "pages/umap_explorer.py"
SIMILARITY = "pages/tag_similarity.py"
RATER = "pages/anomaly_rater.py"
MONITOR = "pages/finetune_monitor.py"
TOOLS = {  # page -> (title, icon)
    EXPLORER: ("UMAP explorer", ":material/scatter_plot:"),
    SIMILARITY: ("Tag similarity", ":material/search:"),
    RATER: ("Anomaly rater", ":material/star:"),
    MONITOR: ("Fine-tune monitor", ":material/model_training:"),
}
WORKSHOP = "pages/workshop.py"
CLASS_DASHBOARD = "pages/class_dashboard.py"
WORKSHOP_PAGES = {  # page -> (title, icon)
    WORKSHOP: ("Workshop", ":material/school:"),
    CLASS_DASHBOARD: ("Class dashboard", ":material/co_present:"),
}


def through_home(page: str) -> None:
    """Go through ``Home.py`` and come back when ``page`` (its path, ``pages/x.py``)
    was opened by a link before Home ever ran in this session: Streamlit then
    runs it alone, without the sidebar and the navigation."""
    if "dataset" not in st.session_state:
        st.session_state["home.goto"] = (page, st.query_params.to_dict())
        st.switch_page(HOME)


def require_dataset(page: str) -> str:
    """The dataset picked in the sidebar if prepared; otherwise a message and a stop.

    ``page`` is the calling page's path (``pages/x.py``): see :func:`through_home`.
    """
    through_home(page)
    name = st.session_state.get("dataset")
    if not name or cache.summary(name) is None:
        st.info(
            f"Prepare {'the dataset ' + repr(name) if name else 'a dataset'} "
            "on the Home page first."
        )
        st.stop()
    return name
