"""The pages on a public server (MORPH_MODE=public), as a stranger sees them."""

import pytest
from streamlit.testing.v1 import AppTest

from morph_core import access
from morph_core.dataset import open_dataset
from morph_core.runs import queue
from morph_core.runs.sources import LabelSource
from morph_core.settings import PROJECT_ROOT
from morph_core.training.config import FinetuneConfig
from tests.app.pages import open_page, text

SECRET = "a long admin secret"


@pytest.fixture
def public(prepared_env, monkeypatch):
    monkeypatch.setenv("MORPH_MODE", "public")
    monkeypatch.setenv("MORPH_RUN_WORKERS", "0")
    return prepared_env


def _home(**secrets) -> AppTest:
    at = AppTest.from_file(str(PROJECT_ROOT / "Home.py"), default_timeout=120)
    for key, value in secrets.items():
        at.secrets[key] = value
    return at.run()


def test_home_shows_no_server_paths_and_no_folder_prepare(public):
    at = _home()
    assert not at.exception
    page = " ".join(c.value for c in at.caption) + " ".join(
        m.value for m in at.markdown
    )
    assert str(public) not in page and "workspace" not in page
    assert not [e for e in at.expander if e.label == "Use your own images"]
    assert "home.adapt" not in [b.key for b in at.button]  # an admin's work
    at.selectbox(key="home.dataset").select("decals_rings").run()
    assert not at.get("button") or "home.prepare" not in [b.key for b in at.button]
    assert any("An admin of this server prepares" in i.value for i in at.info)


def test_the_admin_signs_in_with_the_secret_only(public):
    at = _home(admin_secret_hash=access.hash_secret(SECRET))
    at.text_input(key="visitor.secret").input("guess").run()
    at.button(key="visitor.sign_in").click().run()
    assert any("Wrong secret" in e.value for e in at.error)
    assert not at.session_state["visitor.admin"]
    at.text_input(key="visitor.secret").input(SECRET).run()
    at.button(key="visitor.sign_in").click().run()
    assert at.session_state["visitor.admin"]
    assert [e for e in at.expander if e.label == "Use your own images"]
    assert at.session_state["visitor.secret"] == ""  # not kept in the page


def test_without_a_secret_nobody_is_admin(public):
    at = _home()
    assert "visitor.sign_in" not in [b.key for b in at.button]


def test_the_monitor_lists_only_the_visitors_own_runs(public):
    ds = open_dataset("synthetic", public)
    source = LabelSource(
        "column", column="smooth-or-featured_smooth_fraction", threshold=0.5
    )
    theirs = access.Visitor(access.new_key(), "other")
    queue.submit(ds, source, FinetuneConfig(n_per_class=4), visitor=theirs)
    mine = access.new_key()
    at = open_page(
        "finetune_monitor",
        visitor__key=mine,
        finetune__column="smooth-or-featured_smooth_fraction",
    )
    assert any("No runs yet" in i.value for i in at.info)
    assert "finetune.weights" not in [t.key for t in at.text_input]
    at.run()
    at.number_input(key="finetune.n_per_class").set_value(4)
    at.button(key="finetune.start").click().run()
    assert "queued" in at.success[0].value
    runs = queue.list_runs(ds)
    assert sorted(runs["owner"]) == sorted([theirs.key, mine])
    shown = at.selectbox(key="finetune.target").options
    assert len(shown) == 1 and runs.set_index("owner").loc[mine, "run_id"] in shown[0]


def test_the_explorer_offers_no_recompute(public):
    at = open_page("umap_explorer")
    at.slider(key="umap.n_neighbors").set_value(30).run()
    assert "umap.recompute" not in [b.key for b in at.button]
    assert any("default settings" in i.value for i in at.info)


def test_typed_markdown_is_shown_as_text(public):
    at = open_page("tag_similarity")
    at.radio(key="similarity.route").set_value("galaxy id").run()
    typed = "[click me](http://evil.example) ![x](http://evil.example/i.png)"
    at.text_input(key="similarity.id").input(typed)
    at.button(key="similarity.search").click().run()
    message = at.error[0].value
    assert "](" not in message.replace("\\]\\(", "")  # no live link or image
    assert typed in text(message)
