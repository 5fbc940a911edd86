"""AppTest helpers: run one page as if its dataset were picked on Home."""

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
