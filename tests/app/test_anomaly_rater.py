import io

import pandas as pd

from morph_core.dataset import ELLIPSE, open_dataset
from morph_core.store.ratings import RatingStore
from tests.app.pages import open_page


def _batch(at) -> list[str]:
    return [
        c.value.lstrip("▶ ") for c in at.caption if c.value.lstrip("▶ ").startswith("J")
    ][:10]


def _store(root) -> RatingStore:
    return open_dataset("synthetic", root).rating_store()


def _count(at) -> str:
    """The "Your ratings" metric."""
    return next(m.value for m in at.metric if m.label == "Your ratings")


def test_first_batch_rate_and_it_is_saved(prepared_env, downloads):
    at = open_page("anomaly_rater", rater__name="ann")
    assert any("unusual galaxies" in c.value for c in at.caption)
    first = _batch(at)
    assert len(first) == 10
    at.button(key="rater.rate_0_5").click().run()
    assert not at.exception
    assert _count(at) == "1"
    assert _store(prepared_env).ratings("ann")["galaxy_id"].tolist() == [first[0]]
    assert _batch(at) == first[1:]
    ratings = pd.read_csv(io.BytesIO(downloads["synthetic_ann_ratings.csv"]))
    assert ratings[["galaxy_id", "rating"]].values.tolist() == [[first[0], 5]]
    ranking = pd.read_csv(io.BytesIO(downloads["synthetic_ann_ranking.csv"]))
    assert len(ranking) == 48 and ranking["galaxy_id"].iloc[0] == first[0]


def test_a_finished_batch_refits_and_a_reload_resumes(prepared_env):
    at = open_page("anomaly_rater", rater__name="bob")
    first = _batch(at)
    for _ in range(10):
        at.button(key="rater.rate_0_0").click().run()
    assert _count(at) == "10"
    second = _batch(at)
    assert len(second) == 10 and not set(second) & set(first)
    at.button(key="rater.rate_0_5").click().run()
    reloaded = open_page("anomaly_rater", query={"rater": "bob"})  # name from the URL
    assert reloaded.text_input(key="rater.name").value == "bob"
    assert _count(reloaded) == "11"
    assert _batch(reloaded) == second[1:]


def test_undo_skip_and_start_over(prepared_env):
    at = open_page("anomaly_rater", rater__name="cy")
    first = _batch(at)
    at.button(key="rater.rate_0_3").click().run()
    at.button(key="rater.undo").click().run()
    assert _count(at) == "0" and _batch(at) == first
    at.button(key="rater.skip").click().run()
    assert _batch(at) == first[1:] and _count(at) == "0"
    at.button(key="rater.quick_4").click().run()
    assert _count(at) == "1"
    assert at.button(key="rater.start_over").disabled
    at.checkbox(key="rater.confirm").check().run()
    at.button(key="rater.start_over").click().run()
    assert _count(at) == "0"
    assert len(_store(prepared_env).events()) == 4  # rate, undo, rate, start over


def test_raters_do_not_see_each_other(prepared_env):
    ann = open_page("anomaly_rater", rater__name="ann")
    ann.button(key="rater.rate_0_5").click().run()
    dan = open_page("anomaly_rater", rater__name="dan")
    assert _count(dan) == "0"
    assert _store(prepared_env).ratings("dan").empty


def test_no_name_asks_for_one(prepared_env):
    at = open_page("anomaly_rater", rater__name="  ")
    assert "Type a name" in at.warning[0].value


def test_the_baseline_feature_set_gives_its_own_batch(prepared_env):
    ellipse_file = open_dataset("synthetic", prepared_env).workspace.file(ELLIPSE)
    fitted_at = ellipse_file.stat().st_mtime_ns  # by prepare, never by the page
    at = open_page("anomaly_rater", rater__name="eli")
    cnn = _batch(at)
    at.selectbox(key="rater.features").set_value("ellipse").run()
    assert not at.exception
    ellipse = _batch(at)
    assert len(ellipse) == 10 and ellipse != cnn
    at.button(key="rater.rate_0_5").click().run()
    assert _count(at) == "1"
    assert ellipse_file.stat().st_mtime_ns == fitted_at
