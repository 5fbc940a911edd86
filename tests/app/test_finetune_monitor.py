import re
import time

import pytest

from morph_core.dataset import open_dataset
from morph_core.runs import queue
from tests.app.pages import open_page

COLUMN = "smooth-or-featured_smooth_fraction"


def _wait_finished(root, timeout=120):
    ws = open_dataset("synthetic", root)
    deadline = time.time() + timeout
    while time.time() < deadline:
        table = queue.list_runs(ws)
        if len(table) and table["state"].isin(["finished", "failed"]).all():
            return table
        time.sleep(0.5)
    raise AssertionError("runs did not finish")


@pytest.mark.slow
def test_start_a_run_watch_it_finish_apply_and_delete(prepared_env):
    at = open_page(
        "finetune_monitor", finetune__column=COLUMN, finetune__strategy="head"
    )
    assert any("No runs yet" in i.value for i in at.info)
    at.number_input(key="finetune.n_per_class").set_value(4)
    at.button(key="finetune.start").click().run()
    assert not at.exception
    assert "queued" in at.success[0].value
    table = _wait_finished(prepared_env)
    assert table["state"].tolist() == ["finished"]
    at.run()
    assert any("1 finished" in c.value for c in at.caption)
    assert at.get("plotly_chart")
    at.button(key="finetune.apply").click().run()
    added = next(s.value for s in at.success if "Added column" in s.value)
    column = re.search(r"pred_\w+", added).group()
    assert (
        column.startswith("pred_")
        and column in open_dataset("synthetic", prepared_env).catalog()
    )
    assert at.button(key="finetune.delete").disabled
    at.checkbox(key="finetune.confirm_delete").check().run()
    at.button(key="finetune.delete").click().run()
    assert any("No runs yet" in i.value for i in at.info)


def test_a_run_with_a_cosine_schedule_and_layer_decay_is_queued_as_asked(
    prepared_env, monkeypatch
):
    monkeypatch.setenv("MORPH_RUN_WORKERS", "0")  # queued, not trained
    at = open_page("finetune_monitor", finetune__column=COLUMN)
    assert not at.selectbox(key="finetune.lr_decay").disabled  # staged: it applies
    at.selectbox(key="finetune.schedule").set_value("cosine")
    at.selectbox(key="finetune.lr_decay").set_value(0.5)
    at.number_input(key="finetune.n_per_class").set_value(4)
    at.button(key="finetune.start").click().run()
    assert "queued" in at.success[0].value
    (run,) = queue.list_runs(open_dataset("synthetic", prepared_env)).itertuples()
    assert run.name.endswith("lr decay 0.5, cosine, 1 warm-up epoch(s)")
    request = queue.run_folder(
        open_dataset("synthetic", prepared_env), run.run_id
    ).request()
    assert request["config"]["schedule"] == "cosine"
    assert request["config"]["lr_decay"] == 0.5
    at.selectbox(key="finetune.strategy").set_value("head").run()
    assert at.selectbox(key="finetune.lr_decay").disabled  # no block is unfrozen


def test_bad_labels_get_a_message_and_queue_nothing(prepared_env):
    at = open_page("finetune_monitor", finetune__column=COLUMN)
    at.number_input(key="finetune.threshold").set_value(2.0)
    at.button(key="finetune.start").click().run()
    assert "one class" in at.error[0].value
    at.number_input(key="finetune.threshold").set_value(0.5)
    at.number_input(key="finetune.n_per_class").set_value(400)
    at.button(key="finetune.start").click().run()
    assert "labels" in at.error[0].value
    assert queue.list_runs(open_dataset("synthetic", prepared_env)).empty


def test_marked_galaxies_and_a_sweep(prepared_env, monkeypatch):
    monkeypatch.setenv("MORPH_RUN_WORKERS", "0")  # queued, not trained
    catalog = open_dataset("synthetic", prepared_env).catalog()
    at = open_page(
        "finetune_monitor",
        finetune__source="ids",
        umap__selection=catalog["galaxy_id"].iloc[:20].tolist(),
    )
    at.button(key="finetune.mark_yes").click().run()
    at.session_state["umap.selection"] = catalog["galaxy_id"].iloc[20:40].tolist()
    at.button(key="finetune.mark_no").click().run()
    assert any("20 yes, 20 no" in m.value for m in at.markdown)
    at.radio(key="finetune.source").set_value("column").run()
    at.selectbox(key="finetune.column").set_value(COLUMN)
    at.selectbox(key="finetune.strategy").set_value("head")
    at.multiselect(key="finetune.sweep_counts").set_value([2, 4, 200]).run()
    # the sweep's choices are a form: a change is taken with the button only
    assert at.session_state["finetune.sweep_counts"] != [2, 4, 200]
    at.multiselect(key="finetune.sweep_counts").set_value([2, 4, 200])
    at.number_input(key="finetune.sweep_repeats").set_value(1)
    at.button(key="finetune.sweep").click().run()
    message = next(s.value for s in at.success if "Sweep" in s.value)
    assert "4 runs queued" in message and "[200] left out" in message
    runs = queue.list_runs(open_dataset("synthetic", prepared_env))
    assert len(runs) == 4 and set(runs["state"]) == {"queued"}
    assert set(runs["strategy"]) == {"head"} and set(runs["n_per_class"]) == {2, 4}
    at.run()
    assert at.selectbox(key="finetune.sweep_view").value == runs["sweep"][0]
    assert any("No run of this sweep has finished" in i.value for i in at.info)


def test_vote_count_and_fraction_runs_are_queued_as_asked(prepared_env, monkeypatch):
    monkeypatch.setenv("MORPH_RUN_WORKERS", "0")  # queued, not trained
    ds = open_dataset("synthetic", prepared_env)
    at = open_page("finetune_monitor")
    at.radio(key="finetune.task").set_value("votes").run()
    assert at.number_input(key="finetune.n_per_class").label == "Labelled galaxies"
    at.multiselect(key="finetune.questions").set_value(["bar", "merging"])
    at.number_input(key="finetune.n_per_class").set_value(20)
    at.button(key="finetune.start").click().run()
    assert "queued" in at.success[0].value
    at.radio(key="finetune.task").set_value("fraction").run()
    at.selectbox(key="finetune.fraction").set_value("has-spiral-arms_yes_fraction")
    at.button(key="finetune.start").click().run()
    assert not at.error, at.error[0].value
    runs = queue.list_runs(ds).sort_values("created_at")
    assert runs["task"].tolist() == ["votes", "fraction"]
    assert runs["name"].tolist() == [
        "votes on bar, merging, 20 galaxies, pretrained, vote counts "
        "(Dirichlet-multinomial)",
        "has-spiral-arms_yes_fraction, 20 galaxies, pretrained, vote fraction "
        "(regression)",
    ]
    sources = [queue.run_folder(ds, r).request()["source"] for r in runs["run_id"]]
    assert sources[0]["kind"] == "votes" and sources[0]["questions"] == [
        "bar",
        "merging",
    ]
    at.number_input(key="finetune.n_per_class").set_value(60)  # more than are labelled
    at.button(key="finetune.start").click().run()
    assert "labelled galaxies\\: 60 for training" in at.error[0].value
    assert len(queue.list_runs(ds)) == 2
