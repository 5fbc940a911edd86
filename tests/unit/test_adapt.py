"""Adapting the encoder to a dataset's own images: self-supervised, no labels,
then the dataset prepared with the result."""

import json

import numpy as np
import pytest
import torch

from morph_core.cli import main
from morph_core.dataset import open_dataset
from morph_core.errors import MorphCoreError
from morph_core.model.encoder import build_encoder, preprocess_files
from morph_core.model.spec import EncoderSpec
from morph_core.training.adapt import adapt, contrastive_loss
from morph_core.training.config import AdaptConfig

TINY = AdaptConfig(epochs=5, batch_size=16, learning_rate=1e-3)


def _embed(spec, images):
    with torch.inference_mode():
        return build_encoder(spec)(images.float()).numpy()


def test_twins_that_match_cost_less_than_strangers():
    z = torch.randn(8, 16)
    assert contrastive_loss(z, z, 0.2) < contrastive_loss(z, z.roll(1, 0), 0.2)


def test_a_tiny_adaptation_lowers_its_loss_and_reloads_as_saved(prepared_env, tmp_path):
    ds = open_dataset("synthetic", prepared_env)
    start = ds.encoder_spec()
    images = preprocess_files(list(ds.catalog()["file"]), start)
    record = adapt(images, start, TINY, tmp_path / "one")
    losses = [r["loss"] for r in record["history"][1:]]
    assert len(losses) == 5 and losses[-1] < losses[0]
    assert record["n_images"] == 48 and record["n_probe"] == 6
    assert 0 <= record["history"][-1]["view_matching"] <= 1
    adapted = EncoderSpec.from_folder(tmp_path / "one")
    same_input = ("architecture", "channels", "image_size", "mean", "std")
    assert all(getattr(adapted, k) == getattr(start, k) for k in same_input)
    after = _embed(adapted, images)
    assert not np.allclose(after, _embed(start, images), atol=1e-3)  # it learnt
    adapt(images, start, TINY, tmp_path / "two")  # the same seed: the same weights
    again = _embed(EncoderSpec.from_folder(tmp_path / "two"), images)
    assert np.array_equal(after, again)
    saved = json.loads((tmp_path / "one" / "training.json").read_text())
    assert saved["config"]["epochs"] == 5 and saved["epochs_run"] == 5


def test_adapt_then_prepare_from_the_command_line(prepared_env, capsys):
    args = ["adapt", "synthetic", "--epochs", "1", "--batch-size", "16"]
    assert main(args) == 0
    ds = open_dataset("synthetic", prepared_env)
    spec = ds.encoder_spec()
    folder = (prepared_env / "synthetic" / "encoders").glob("adapted-*")
    (folder,) = list(folder)
    assert spec == EncoderSpec.from_folder(folder)
    images = preprocess_files(list(ds.catalog()["file"]), spec)
    assert np.allclose(ds.features(), _embed(spec, images), atol=2e-3)
    card = (folder / "MODEL_CARD.md").read_text()
    assert "No label, vote or tag was read" in card
    assert "python -m morph_core adapt synthetic --epochs 1" in card
    assert ds.progress()["state"] == "finished"
    assert "Saved the adapted encoder" in capsys.readouterr().out


def test_bad_adapt_requests_say_why_and_change_nothing(prepared_env, capsys):
    before = open_dataset("synthetic", prepared_env).encoder_spec()
    assert main(["adapt", "nowhere"]) == 2
    assert "nowhere is not prepared" in capsys.readouterr().err
    assert main(["adapt", "synthetic", "--batch-size", "2"]) == 2
    assert "batch_size must be at least 8" in capsys.readouterr().err
    assert main(["adapt", "synthetic", "--weights", "nothing"]) == 2
    assert "weights 'nothing'" in capsys.readouterr().err
    assert open_dataset("synthetic", prepared_env).encoder_spec() == before
    assert not (prepared_env / "synthetic" / "encoders").exists()
    with pytest.raises(MorphCoreError, match="anchor >= 0"):
        AdaptConfig(anchor=-1)
