import io

import pandas as pd

from morph_core import access
from morph_core.dataset import ELLIPSE, open_dataset
from morph_core.store.ratings import RatingStore
from morph_core.tools.anomaly import session
from tests.app.pages import click, desk, open_page, send_clicks, shown, text

ANN, BOB, CY, DAN = (access.new_key() for _ in range(4))


def _store(root) -> RatingStore:
    return open_dataset("synthetic", root).rating_store()


def _count(at) -> str:
    """The "Your ratings" metric."""
    return next(m.value for m in at.metric if m.label == "Your ratings")


def _warnings(at) -> list[str]:
    """The page's warnings as the visitor reads them (Markdown escapes removed)."""
    return [text(w.value) for w in at.warning]


def _rater(key: str, **state):
    return open_page("anomaly_rater", visitor__key=key, **state)


def test_first_batch_rate_and_it_is_saved(prepared_env, downloads):
    at = _rater(ANN)
    assert any("unusual galaxies" in c.value for c in at.caption)
    first = shown(at)
    assert len(first) == 10 and desk(at)["cards"][0]["image"].startswith("data:")
    sent = click(at, 0, 5)
    send_clicks(at, [sent])
    assert not at.exception
    assert _count(at) == "1"
    assert _store(prepared_env).ratings(ANN)["galaxy_id"].tolist() == [first[0]]
    assert shown(at) == first[1:]
    assert sent["click_id"] in desk(at)["acked"]  # the page may forget it
    event = _store(prepared_env).events().iloc[-1]
    assert event["rater"] == ANN and event["session"] and event["batch_id"]
    ratings = pd.read_csv(io.BytesIO(downloads["synthetic_ratings.csv"]))
    assert ratings[["galaxy_id", "rating"]].values.tolist() == [[first[0], 5]]
    ranking = pd.read_csv(io.BytesIO(downloads["synthetic_ranking.csv"]))
    assert len(ranking) == 48


def test_the_model_is_fitted_once_per_batch_and_a_reload_resumes(
    prepared_env, monkeypatch
):
    fits = []
    fit_rater = session.fit_rater
    monkeypatch.setattr(
        session, "fit_rater", lambda *a, **k: fits.append(1) or fit_rater(*a, **k)
    )
    at = _rater(BOB, visitor__name="bob")
    first = shown(at)
    assert len(fits) == 1
    for _ in range(9):
        send_clicks(at, [click(at, 0, 0)])
    assert len(fits) == 1 and _count(at) == "9"  # no refit inside a batch
    send_clicks(at, [click(at, 0, 0)])
    assert len(fits) == 2 and _count(at) == "10"  # one refit for the next batch
    second = shown(at)
    assert len(second) == 10 and not set(second) & set(first)
    send_clicks(at, [click(at, 0, 5)])
    reloaded = open_page("anomaly_rater", query={"visitor": BOB, "name": "bob"})
    assert reloaded.session_state["visitor.key"] == BOB
    assert reloaded.session_state["visitor.name"] == "bob"
    assert _count(reloaded) == "11"
    assert shown(reloaded) == second[1:]


def test_a_stale_click_is_refused_never_stored_against_another_galaxy(prepared_env):
    at = _rater(CY)
    old = desk(at)
    for _ in range(10):
        send_clicks(at, [click(at, 0, 1)])
    assert desk(at)["batch_id"] != old["batch_id"]
    before = len(_store(prepared_env).events())
    stale = click(at, 0, 4, batch_id=old["batch_id"])
    stale["galaxy_id"] = old["cards"][3]["galaxy_id"]
    send_clicks(at, [stale])
    assert len(_store(prepared_env).events()) == before
    assert any("out-of-date page" in w for w in _warnings(at))
    assert stale["click_id"] in desk(at)["acked"]


def test_a_double_click_rates_once_and_a_redelivered_click_counts_once(prepared_env):
    at = _rater(DAN)
    first, second = click(at, 0, 3), click(at, 0, 4)  # same galaxy, two clicks
    send_clicks(at, [first, second])
    ratings = _store(prepared_env).ratings(DAN)
    assert ratings["rating"].tolist() == [3]
    assert any("already rated" in w for w in _warnings(at))
    other = click(at, 0, 2)
    send_clicks(at, [first, second, other])  # unacknowledged clicks sent again
    assert _store(prepared_env).ratings(DAN)["rating"].tolist() == [3, 2]
    assert len(_store(prepared_env).events(DAN)) == 2


def test_undo_skip_and_start_over(prepared_env):
    key = access.new_key()
    at = _rater(key)
    first = shown(at)
    send_clicks(at, [click(at, 0, 3)])
    send_clicks(at, [click(at, 0, 0, kind="undo")])
    assert _count(at) == "0" and shown(at) == first
    send_clicks(at, [click(at, 0, 0, kind="skip")])
    assert shown(at) == first[1:] and _count(at) == "0"
    send_clicks(at, [click(at, 0, 4)])
    assert _count(at) == "1"
    assert at.button(key="rater.start_over").disabled
    at.checkbox(key="rater.confirm").check().run()
    at.button(key="rater.start_over").click().run()
    assert _count(at) == "0"
    assert len(_store(prepared_env).events(key)) == 4  # rate, undo, rate, start over


def test_a_display_name_opens_nothing(prepared_env):
    ann = _rater(ANN, visitor__name="ann")
    send_clicks(ann, [click(ann, 0, 5)])
    impostor = open_page("anomaly_rater", query={"name": "ann"})  # no key: a new one
    assert impostor.session_state["visitor.key"] != ANN
    assert _count(impostor) == "0"
    assert impostor.query_params["visitor"] == impostor.session_state["visitor.key"]
    forged = open_page("anomaly_rater", query={"visitor": "ann"})  # not a key
    assert access.is_key(forged.session_state["visitor.key"])
    assert _count(forged) == "0"


def test_tampered_clicks_change_nothing(prepared_env):
    key = access.new_key()
    at = _rater(key)
    bad = [
        {"click_id": "a", "kind": "drop table", "batch_id": desk(at)["batch_id"]},
        {"click_id": "b", "kind": "rate", "batch_id": desk(at)["batch_id"]},
        {
            "click_id": "c",
            "kind": "rate",
            "galaxy_id": shown(at)[0],
            "rating": 9,
            "batch_id": desk(at)["batch_id"],
        },
        "not a click",
    ]
    send_clicks(at, bad)
    assert not at.exception
    assert _store(prepared_env).events(key).empty
    assert len(at.warning) == 3


def test_the_baseline_feature_set_gives_its_own_batch(prepared_env):
    ellipse_file = open_dataset("synthetic", prepared_env).workspace.file(ELLIPSE)
    fitted_at = ellipse_file.stat().st_mtime_ns  # by prepare, never by the page
    at = _rater(access.new_key())
    cnn = shown(at)
    at.selectbox(key="rater.features").set_value("ellipse").run()
    assert not at.exception
    ellipse = shown(at)
    assert len(ellipse) == 10 and ellipse != cnn
    send_clicks(at, [click(at, 0, 5)])
    assert _count(at) == "1"
    assert ellipse_file.stat().st_mtime_ns == fitted_at


def test_the_top_50_and_the_interest_map_on_request(prepared_env):
    at = _rater(access.new_key())
    assert not at.get("plotly_chart") and len(at.get("image")) == 0
    at.toggle(key="rater.extras").set_value(True).run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 1
    assert len(at.get("image")) == 48  # the tiny sky: all of it is the top 50
