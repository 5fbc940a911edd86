import shutil
import subprocess
import sys
import time

import pytest
from streamlit.testing.v1 import AppTest

from morph_core.data.manifest import load_manifest
from morph_core.dataset import open_dataset
from morph_core.runs.folder import process_alive
from morph_core.settings import PROJECT_ROOT
from tests.app.pages import text

HOME = str(PROJECT_ROOT / "Home.py")


def _run() -> AppTest:
    return AppTest.from_file(HOME, default_timeout=120).run()


def _metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _sample(at) -> list[str]:
    return [text(image.captions[0]) for image in at.get("image")]


def test_empty_workspace_offers_prepare_then_shows_the_dataset(env):
    at = _run()
    assert not at.exception
    assert at.selectbox(key="home.dataset").value == "synthetic"
    assert any("not prepared yet" in s.value for s in at.subheader)
    at.button(key="home.prepare").click().run()
    assert not at.exception
    assert open_dataset("synthetic", env).summary()["n_galaxies"] == 48
    assert list(_metrics(at))[:2] == ["Galaxies", "Skipped"]
    assert _metrics(at)["Galaxies"] == "48"


def test_prepared_workspace_shows_summary_and_sample(prepared_env):
    at = _run()
    assert not at.exception
    values = _metrics(at)
    assert values["Galaxies"] == "48" and values["Features"] == "1280"
    caption = " ".join(c.value for c in at.caption)
    assert "efficientnet_b0" in caption and "PCA variance explained" in caption
    ids = set(open_dataset("synthetic", prepared_env).catalog()["galaxy_id"])
    before = _sample(at)
    assert len(before) == 12 and set(before) <= ids
    at.button(key="home.shuffle").click().run()
    after = _sample(at)  # the next seed: a fixed, different sample
    assert len(after) == 12 and set(after) <= ids and after != before
    assert _sample(_run()) == before  # a new visit starts from the same sample


def test_dataset_picker_marks_unprepared_and_switches(prepared_env):
    at = _run()
    picker = at.selectbox(key="home.dataset")
    manifest = load_manifest()
    assert picker.options == [
        name if name == "synthetic" else f"{name} (not prepared)"
        for name in manifest.datasets
    ]
    picker.select("decals_rings").run()
    assert not at.exception
    assert any("decals_rings is not prepared yet" in s.value for s in at.subheader)


def _own_images(at, name: str, folder) -> AppTest:
    at.text_input(key="home.own_name").input(name)
    at.text_input(key="home.own_folder").input(str(folder))
    return at.button(key="home.own_submit").click().run()


def test_own_images_bad_folder_is_a_clear_error(prepared_env, tmp_path):
    at = _own_images(_run(), "mine", tmp_path / "absent")
    assert not at.exception
    assert any("folder not found" in e.value for e in at.error)
    assert not open_dataset("mine", prepared_env).workspace.exists("source.json")
    assert "mine" not in at.selectbox(key="home.dataset").options


def test_own_images_prepare_and_become_the_dataset(prepared_env, image_folder):
    at = _own_images(_run(), "mine", image_folder)
    assert not at.exception
    assert at.selectbox(key="home.dataset").value == "mine"
    assert _metrics(at)["Skipped"] == "5"


def test_a_prepare_in_the_background_shows_its_progress(env):
    stand_in = subprocess.Popen(  # a live process with morph_core in its command
        [sys.executable, "-c", "import time; time.sleep(60)", "morph_core"]
    )
    try:
        ds = open_dataset("synthetic", env)
        ds.write_progress(
            {
                "state": "running",
                "stage": "embed",
                "done": 3000,
                "total": 12026,
                "fraction": 0.4,
                "pid": stand_in.pid,
            }
        )
        at = _run()
        assert any("is being prepared" in s.value for s in at.subheader)
        assert "home.prepare" not in [b.key for b in at.button]
        assert "embed: 3,000 of 12,026" in at.get("progress")[0].proto.text
    finally:
        stand_in.kill()
        stand_in.wait()
    ds.write_progress({"state": "failed", "error": "disk full", "pid": stand_in.pid})
    at = _run()
    assert any("not prepared yet" in s.value for s in at.subheader)
    assert any(
        "The last prepare failed: disk full" in text(w.value) for w in at.warning
    )


def test_the_first_look_opens_while_the_full_sky_is_prepared(prepared_env):
    shutil.copytree(prepared_env / "synthetic", prepared_env / "synthetic_first_look")
    summary = (prepared_env / "synthetic" / "prepare.json").read_text()
    (prepared_env / "synthetic" / "prepare.json").unlink()  # not prepared yet
    stand_in = subprocess.Popen(  # the background prepare, as far as Home can tell
        [sys.executable, "-c", "import time; time.sleep(60)", "morph_core"]
    )
    full = open_dataset("synthetic", prepared_env)
    try:
        full.write_progress(
            {
                "state": "running",
                "stage": "embed",
                "done": 12,
                "total": 48,
                "fraction": 0.3,
                "pid": stand_in.pid,
            }
        )
        at = _run()
        assert at.selectbox(key="home.dataset").value == "synthetic_first_look"
        assert any("first look at the demo sky" in i.value for i in at.info)
        assert "embed: 12 of 48" in at.get("progress")[0].proto.text
        assert at.get("metric")[0].value == "48"  # the tools work on it now
    finally:
        stand_in.kill()
        stand_in.wait()
    (prepared_env / "synthetic" / "prepare.json").write_text(summary)
    full.write_progress({"state": "finished", "pid": stand_in.pid})
    at.run()
    assert any("is ready" in s.value for s in at.success)
    at.button(key="home.open_default").click().run()
    assert not at.exception
    assert at.selectbox(key="home.dataset").value == "synthetic"


def test_a_first_start_shows_the_first_look_as_soon_as_it_is_ready(prepared_env):
    first = prepared_env / "synthetic_first_look"
    shutil.copytree(prepared_env / "synthetic", first)
    summary = (first / "prepare.json").read_text()
    for folder in (first, prepared_env / "synthetic"):
        (folder / "prepare.json").unlink()  # neither is prepared yet
    stand_in = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", "morph_core"]
    )
    try:
        open_dataset("synthetic", prepared_env).write_progress(
            {
                "state": "running",
                "stage": "waiting",
                "done": 0,
                "total": 1,
                "waiting_for": "synthetic_first_look",
                "pid": stand_in.pid,
            }
        )
        at = _run()
        assert at.selectbox(key="home.dataset").value == "synthetic"
        progress = at.get("progress")[0].proto.text
        assert "waiting for synthetic_first_look to be prepared first" in progress
        (first / "prepare.json").write_text(summary)  # the first look is done
        at.run()
        assert at.selectbox(key="home.dataset").value == "synthetic_first_look"
        assert any("first look at the demo sky" in i.value for i in at.info)
    finally:
        stand_in.kill()
        stand_in.wait()


@pytest.mark.slow
def test_adapting_the_encoder_runs_in_the_background_then_prepares_with_it(
    prepared_env,
):
    ds = open_dataset("synthetic", prepared_env)
    before = ds.encoder_spec()
    at = _run()
    at.button(key="home.adapt").click().run()
    assert not at.exception
    record = ds.progress()
    assert record["state"] == "running" and process_alive(record["pid"])
    assert at.get("progress")  # the expander now shows how far it is
    deadline = time.time() + 240
    while ds.progress()["state"] == "running" or process_alive(record["pid"]):
        assert time.time() < deadline, "adapting did not finish"
        time.sleep(1)
    assert ds.progress()["state"] == "finished"
    after = open_dataset("synthetic", prepared_env).encoder_spec()
    assert after != before and "/encoders/adapted-" in after.weights
    log = (prepared_env / ".progress" / "background.log").read_text()
    assert "Saved the adapted encoder" in log and "Prepared 'synthetic'" in log
    assert "adapted-" in " ".join(c.value for c in _run().caption)
