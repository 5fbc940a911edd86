"""The rater's batch as one browser component: cards with 0-5 buttons, keys,
Skip and Undo, where every click carries the galaxy and batch it was shown.

A click is kept in the page as *pending* (its card greyed, inert) and sent with
every click not yet acknowledged, each with its own ``click_id``; the server
saves each click once (:func:`morph_core.tools.anomaly.session.apply_clicks`)
and acknowledges it in the next render. So a click is never lost to a rerun
that races it, never counted twice, and never lands on a galaxy the rater did
not see: a click from an out-of-date page is refused with a message. One
message is in flight at a time: clicks made while the server runs the last one
go together after its render, rather than stopping that run to start another.
Clicks left unacknowledged go again on their own (after 5 s, then 10, 20, 30 s),
so a lost message does not leave the cards saving for ever, and the tab keeps
them over a reload (session storage) for the new page to send.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import streamlit as st
from PIL import Image
from streamlit.components.v2 import component

from morph_core.app.widgets import thumbnail
from morph_core.data.cutouts import is_url, local_files

_HERE = Path(__file__).parent
_desk = component(
    "morph_core.rating_desk",
    css=(_HERE / "rating_desk.css").read_text(),
    js=(_HERE / "rating_desk.js").read_text(),
)
ACKED = 500  # click ids acknowledged back to the page (the newest)


@st.cache_data(max_entries=2048, show_spinner=False)
def _image_url(file: str | None) -> str:
    """A JPEG data URL of the galaxy's thumbnail (a grey square if unreadable
    or not there: a cutout server that failed)."""
    image = thumbnail(file, 256) if file else None
    if image is None:
        buffer = io.BytesIO()
        Image.new("RGB", (64, 64), (128, 128, 128)).save(buffer, format="JPEG")
        image = buffer.getvalue()
    return "data:image/jpeg;base64," + base64.b64encode(image).decode()


def rating_desk(
    batch_id: str,
    galaxy_ids: list[str],
    files: pd.Series,
    on_clicks: Callable[[list], list],
) -> None:
    """Show the batch; ``on_clicks(clicks)`` saves what the page sent and returns
    the ids of the clicks it handled (saved or refused), acknowledged to the page.
    Each image is sent once per session: the page keeps it for later renders."""
    acked = st.session_state.setdefault("rater.acked", [])
    sent = st.session_state.setdefault("rater.sent_images", set())

    def handle() -> None:
        value = st.session_state.get("rater.desk") or {}
        handled = on_clicks(value.get("clicks") if isinstance(value, dict) else None)
        acked.extend(handled)
        del acked[:-ACKED]

    new = [g for g in galaxy_ids if g not in sent]
    local = dict(zip(new, local_files([str(files[g]) for g in new]), strict=True))
    _desk(
        key="rater.desk",
        data={
            "batch_id": batch_id,
            "cards": [
                {
                    "galaxy_id": g,
                    "image": _image_url(local[g]) if g in local else None,
                }
                for g in galaxy_ids
            ],
            "acked": list(acked),
        },
        on_clicks_change=handle,
    )
    # the page keeps them: later renders send ids only (a cutout not fetched yet
    # is sent again, once it is there)
    sent.update(g for g in new if local[g] or not is_url(str(files[g])))
