"""The four tools on a representation-only dataset: a published features table,
cutouts from a (local) cutout service, the encoder unknown."""

from __future__ import annotations

from morph_core.dataset import open_dataset
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
