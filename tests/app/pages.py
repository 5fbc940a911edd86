"""AppTest helpers: run one page as if its dataset were picked on Home."""

import json
import uuid

from streamlit.components.v2.bidi_component.main import _make_trigger_id
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.testing.v1 import AppTest

from morph_core.settings import PROJECT_ROOT


def open_page(
    name: str, dataset: str = "synthetic", query: dict | None = None, **state
) -> AppTest:
    """Run ``pages/<name>.py`` with ``dataset`` picked (Home's sidebar does that),
    the URL's ``query`` parameters, and session ``state`` (``a__b`` sets ``a.b``)."""
    at = AppTest.from_file(
        str(PROJECT_ROOT / "pages" / f"{name}.py"), default_timeout=120
    )
    at.session_state["dataset"] = dataset
    for key, value in state.items():
        at.session_state[key.replace("__", ".")] = value
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    assert not at.exception
    return at


def open_in_app(name: str, query: dict | None = None, **state) -> AppTest:
    """Run ``pages/<name>.py`` inside the app (Home's navigation, so its page
    links resolve), with the URL's ``query`` and session ``state``."""
    at = AppTest.from_file(str(PROJECT_ROOT / "Home.py"), default_timeout=120)
    for key, value in state.items():
        at.session_state[key.replace("__", ".")] = value
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    at.switch_page(f"pages/{name}.py")
    at.run()
    assert not at.exception
    return at


def desk(at: AppTest) -> dict:
    """The data the rater's desk component was drawn with: ``batch_id``,
    ``cards`` (``galaxy_id``, ``image``) and ``acked``."""
    element = next(e for e in at.main if getattr(e, "key", None) == "rater.desk")
    return json.loads(element.proto.json)


def shown(at: AppTest) -> list[str]:
    """The galaxy ids the desk shows, in order."""
    return [card["galaxy_id"] for card in desk(at)["cards"]]


def send_clicks(at: AppTest, clicks: list[dict]) -> AppTest:
    """Rerun as when the desk's JavaScript sends ``clicks`` (the list of clicks
    not yet acknowledged: ``click_id``, ``kind``, ``batch_id``, ``galaxy_id``,
    ``rating``), the way the browser delivers a trigger value."""
    element = next(e for e in at.main if getattr(e, "key", None) == "rater.desk")
    trigger = WidgetState(
        id=_make_trigger_id(element.proto.id, "events"),
        json_trigger_value=json.dumps([{"event": "clicks", "value": clicks}]),
    )
    states = at._tree.get_widget_states()
    states.widgets.append(trigger)
    return at._run(states, timeout=120)


def click(
    at: AppTest, index: int, rating: int, kind: str = "rate", batch_id: str = ""
) -> dict:
    """One click on the card at ``index`` of the desk as drawn now."""
    data = desk(at)
    return {
        "click_id": uuid.uuid4().hex,
        "kind": kind,
        "batch_id": batch_id or data["batch_id"],
        "galaxy_id": data["cards"][index]["galaxy_id"] if kind != "undo" else None,
        "rating": rating,
    }


def text(value: str) -> str:
    """What the visitor reads of a caption or message (Markdown escapes removed:
    pages escape catalogue and typed text, :func:`morph_core.app.widgets.plain`)."""
    return value.replace("\\", "")
