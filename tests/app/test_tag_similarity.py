from morph_core.dataset import open_dataset
from morph_core.tools.similarity import tag_counts
from tests.app.pages import open_page, text


def test_tag_query_shows_query_neighbours_and_readout(prepared_env):
    catalog = open_dataset("synthetic", prepared_env).catalog()
    at = open_page("tag_similarity")
    tag = at.selectbox(key="similarity.tag").value
    at.button(key="similarity.search").click().run()
    assert not at.exception
    result = at.session_state["similarity.result"]
    query_row = int(tag_counts(catalog, tag).argmax())
    assert result.query["galaxy_id"][0] == catalog["galaxy_id"][query_row]
    assert any("most often" in m.value for m in at.markdown)
    assert at.metric[0].label == "Neighbours carrying the tag"
    assert at.metric[0].value == f"{result.n_tagged} of 7"
    assert len(at.get("image")) == 1 + 7
    assert len(at.get("download_button")) == 1
    # the synthetic sky's positions are made up: no links to real objects there
    assert not [c.value for c in at.caption if "legacysurvey.org" in c.value]


def test_galaxy_id_and_sky_routes(prepared_env):
    catalog = open_dataset("synthetic", prepared_env).catalog()
    at = open_page("tag_similarity")
    at.radio(key="similarity.route").set_value("galaxy id").run()
    at.text_input(key="similarity.id").input(catalog["galaxy_id"][3]).run()
    at.number_input(key="similarity.k").set_value(12).run()
    at.button(key="similarity.search").click().run()
    assert not at.exception
    assert len(at.session_state["similarity.result"].neighbours) == 12
    at.radio(key="similarity.route").set_value("sky position").run()
    ra, dec = catalog.loc[3, ["ra", "dec"]]
    at.text_input(key="similarity.position").input(f"{ra} {dec}").run()
    at.button(key="similarity.search").click().run()
    assert (
        at.session_state["similarity.result"].query["galaxy_id"][0]
        == (catalog["galaxy_id"][3])
    )


def test_bad_queries_show_errors_not_tracebacks(prepared_env):
    at = open_page("tag_similarity")
    at.radio(key="similarity.route").set_value("galaxy id").run()
    at.text_input(key="similarity.id").input("J000000.00+000000.0").run()
    at.button(key="similarity.search").click().run()
    assert not at.exception
    assert "no galaxy with id" in at.error[0].value
    at.radio(key="similarity.route").set_value("sky position").run()
    at.text_input(key="similarity.position").input("150 2 7").run()
    at.button(key="similarity.search").click().run()
    assert "give RA and Dec" in at.error[0].value
    at.text_input(key="similarity.position").input("00:00:00 -80:00:00").run()
    at.button(key="similarity.search").click().run()
    assert "no galaxy within" in at.error[0].value
    at.radio(key="similarity.route").set_value("image").run()
    at.button(key="similarity.search").click().run()
    assert "upload an image first" in at.error[0].value


def test_unprepared_dataset_points_home(env):
    at = open_page("tag_similarity")
    assert "on the Home page first" in at.info[0].value


def test_galaxy_from_the_explorer_is_the_query(prepared_env):
    catalog = open_dataset("synthetic", prepared_env).catalog()
    at = open_page("tag_similarity", similarity__from_explorer=catalog["galaxy_id"][2])
    assert at.radio(key="similarity.route").value == "explorer"
    at.button(key="similarity.search").click().run()
    assert not at.exception
    assert text(at.get("image")[0].captions[0]) == catalog["galaxy_id"][2]
    assert len(at.session_state["similarity.result"].neighbours) == 7


def test_a_search_stopped_by_another_rerun_is_done_in_the_next(prepared_env):
    # the click's run was stopped before it stored a result (a rerun requested
    # while a slow upload was embedded): the next run searches, once
    at = open_page("tag_similarity", similarity__searching=True)
    assert not at.exception
    assert at.session_state["similarity.result"] is not None
    assert "similarity.searching" not in at.session_state
    assert any("most similar galaxies" in s.value for s in at.subheader)
    at.session_state["similarity.result"] = None
    at.run()  # no click, no search
    assert at.session_state["similarity.result"] is None
