import numpy as np
import pytest
import torch

from morph_core.errors import MorphCoreError, WeightsError
from morph_core.finetune import FineTuneConfig, Run, finetune
from morph_core.finetune.model import unfreeze_stages
from morph_core.finetune.train import resolve_init
from morph_core.workspace import open_workspace

COLUMN = "smooth-or-featured_smooth_fraction"


@pytest.fixture
def catalog(prepared_env):
    return open_workspace("synthetic", prepared_env).catalog()


def test_tiny_run_learns_keeps_its_best_epoch_and_reloads(catalog, tmp_path):
    run = finetune(
        catalog,
        COLUMN,
        n_labels=4,
        threshold=0.5,
        folder=tmp_path / "run",
        head_epochs=40,
        head_patience=40,
        stages=2,
        stage_epochs=2,
    )
    head = [r["train_loss"] for r in run.history if r["stage"] == "head"]
    assert np.mean(head[-5:]) < head[0]
    assert {"head", "top", "block 7+"} <= {r["stage"] for r in run.history}
    assert sum(r["best"] for r in run.history) == 1
    assert {"accuracy", "auc", "loss", "n_test"} <= set(run.test)
    p = run.predict(catalog)
    assert p.shape == (len(catalog), 2) and np.allclose(p.sum(1), 1, atol=1e-5)
    again = Run.load(tmp_path / "run").predict(catalog)
    assert np.allclose(p, again, atol=1e-6)


def test_efficientnet_unfreezes_top_then_blocks_down():
    from morph_core.encoder import build_encoder

    encoder = build_encoder(resolve_init("random"))
    names = [name for name, _ in unfreeze_stages(encoder)]
    assert names == ["top", "block 7+", "block 6+", "block 5+", "block 4+", "all"]
    covered = {
        id(p)
        for _, group in unfreeze_stages(encoder)
        for m in group
        for p in m.parameters()
    }
    assert covered == {id(p) for p in encoder.parameters()}


def test_bad_inits_and_labels_say_why(catalog, tmp_path):
    with pytest.raises(WeightsError, match="init must be"):
        resolve_init("nowhere.safetensors")
    wrong = tmp_path / "wrong.safetensors"
    from safetensors.torch import save_file

    save_file({"conv_stem.weight": torch.zeros(3, 3)}, wrong)
    with pytest.raises(WeightsError, match="do not fit"):
        finetune(catalog, COLUMN, n_labels=4, threshold=0.5, init=str(wrong))
    unsafe = tmp_path / "unsafe.pt"
    torch.save({"x": object()}, unsafe)
    with pytest.raises(WeightsError, match="safely"):
        finetune(catalog, COLUMN, n_labels=4, threshold=0.5, init=str(unsafe))
    with pytest.raises(MorphCoreError, match="non-binary numbers"):
        finetune(catalog, COLUMN, n_labels=4)
    with pytest.raises(MorphCoreError, match="unknown strategy"):
        FineTuneConfig(strategy="all-at-once")
