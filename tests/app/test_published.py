"""The four tools on a representation-only dataset: a published features table,
cutouts from a (local) cutout service, the encoder unknown."""

from __future__ import annotations

import re
import time

from streamlit.testing.v1 import AppTest

from morph_core.dataset import open_dataset
from morph_core.runs import queue
from morph_core.settings import PROJECT_ROOT
from tests.app.pages import desk, open_page, text
from tests.conftest import FAILING_CUTOUTS


def test_explorer_shows_fetched_cutouts_and_placeholders(published_env):
    catalog = open_dataset("published", published_env).catalog()
    at = open_page("umap_explorer", dataset="published")
    assert len(at.get("plotly_chart")) == 1
    at.session_state["umap.selection"] = catalog["galaxy_id"][:10].tolist()
    at.run()
    assert not at.exception
    assert len(at.get("image")) == 10 - FAILING_CUTOUTS
    placeholders = [text(w.value) for w in at.warning]
    assert len(placeholders) == FAILING_CUTOUTS
    assert all("cutout not available now" in w for w in placeholders)


def test_similarity_searches_the_table_and_says_uploads_need_its_encoder(
    published_env,
):
    catalog = open_dataset("published", published_env).catalog()
    query = catalog["galaxy_id"][5]
    at = open_page(
        "tag_similarity",
        dataset="published",
        similarity__route="galaxy id",
        similarity__id=query,
    )
    at.button(key="similarity.search").click().run()
    assert not at.exception
    captions = [text(i.captions[0]) for i in at.get("image")]
    missing = [w for w in at.warning if "cutout not available" in w.value]
    assert captions[0].startswith(query) and len(captions) + len(missing) == 1 + 7
    at = open_page("tag_similarity", dataset="published", similarity__route="image")
    assert any("encoder this server does not have" in w.value for w in at.warning)


def test_rater_rates_from_the_table_alone(published_env):
    at = open_page("anomaly_rater", dataset="published")
    assert at.selectbox(key="rater.features").options == ["CNN features (PCA-40)"]
    cards = desk(at)["cards"]
    assert len(cards) == 10 and all(card["image"] for card in cards)


def test_monitor_trains_a_head_on_the_tables_features_and_applies_it(published_env):
    at = open_page(
        "finetune_monitor",
        dataset="published",
        finetune__column="smooth-or-featured_smooth_fraction",
    )
    assert any("table of features" in i.value for i in at.info)
    assert at.selectbox(key="finetune.strategy").options == ["head only"]
    assert at.selectbox(key="finetune.init").options == ["pretrained encoder"]
    at.number_input(key="finetune.n_per_class").set_value(4)
    at.button(key="finetune.start").click().run()
    assert "queued" in at.success[0].value
    ds = open_dataset("published", published_env)
    deadline = time.time() + 120
    while time.time() < deadline:
        runs = queue.list_runs(ds)
        if runs["state"].isin(["finished", "failed"]).all():
            break
        time.sleep(0.5)
    assert runs["state"].tolist() == ["finished"], runs
    at.run()
    at.button(key="finetune.apply").click().run()
    added = next(s.value for s in at.success if "Added column" in s.value)
    column = re.search(r"pred_\w+", added).group()
    values = open_dataset("published", published_env).catalog()[column]
    assert values.between(0, 1).all() and values.std() > 0


def test_home_shows_the_table_and_a_sample_of_its_cutouts(published_env):
    at = AppTest.from_file(str(PROJECT_ROOT / "Home.py"), default_timeout=120)
    at.run()
    at.selectbox(key="home.dataset").select("published").run()
    assert not at.exception
    assert any("published table" in c.value for c in at.caption)
    shown = len(at.get("image")) + sum(
        "cutout not available" in w.value for w in at.warning
    )
    assert shown == min(12, len(open_dataset("published", published_env).catalog()))
