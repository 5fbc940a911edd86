from streamlit.testing.v1 import AppTest

from morph_core.settings import PROJECT_ROOT
from morph_core.workspace import open_workspace

HOME = str(PROJECT_ROOT / "Home.py")


def _run() -> AppTest:
    return AppTest.from_file(HOME, default_timeout=120).run()


def test_empty_workspace_offers_prepare_then_shows_the_dataset(env):
    at = _run()
    assert not at.exception
    assert at.selectbox(key="dataset").value == "synthetic"
    assert any("not prepared yet" in s.value for s in at.subheader)
    at.button(key="home.prepare").click().run()
    assert not at.exception
    assert open_workspace("synthetic", env).summary()["n_galaxies"] == 48
    assert [m.label for m in at.metric][:2] == ["Galaxies", "Skipped"]
    assert at.metric[0].value == "48"


def test_prepared_workspace_shows_summary_and_sample(prepared_env):
    at = _run()
    assert not at.exception
    values = {m.label: m.value for m in at.metric}
    assert values["Galaxies"] == "48" and values["Features"] == "1280"
    caption = " ".join(c.value for c in at.caption)
    assert "efficientnet_b0" in caption and "PCA variance explained" in caption
    captions_before = [i.captions[0] for i in at.get("image")]
    assert len(captions_before) == 12
    assert set(captions_before) <= set(
        open_workspace("synthetic", prepared_env).catalog()["galaxy_id"]
    )
    at.button(key="home.shuffle").click().run()
    captions_after = [i.captions[0] for i in at.get("image")]
    assert len(captions_after) == 12 and captions_after != captions_before


def test_dataset_picker_marks_unprepared_and_switches(prepared_env):
    at = _run()
    picker = at.selectbox(key="dataset")
    assert picker.options == [
        "synthetic",
        "gz1_sdss (not prepared)",
        "decals_rings (not prepared)",
        "galaxy10_decals (not prepared)",
    ]
    picker.select("decals_rings").run()
    assert not at.exception
    assert any("decals_rings is not prepared yet" in s.value for s in at.subheader)


def test_own_images_bad_folder_is_a_clear_error(prepared_env, tmp_path):
    at = _run()
    at.text_input[0].input("mine")
    at.text_input[1].input(str(tmp_path / "absent"))
    at.button[-1].click().run()
    assert not at.exception
    assert any("folder not found" in e.value for e in at.error)
    assert not open_workspace("mine", prepared_env).exists("source.json")


def test_own_images_prepare_and_become_the_dataset(prepared_env, image_folder):
    at = _run()
    at.text_input[0].input("mine")
    at.text_input[1].input(str(image_folder))
    at.button[-1].click().run()
    assert not at.exception
    assert at.selectbox(key="dataset").value == "mine"
    assert {m.label: m.value for m in at.metric}["Skipped"] == "5"
