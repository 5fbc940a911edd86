import numpy as np
import pytest
import torch

from morph_core.model.augment import augment
from morph_core.model.encoder import build_encoder, preprocess_files
from morph_core.model.spec import EncoderSpec
from morph_core.training.config import PretrainConfig
from morph_core.training.pretrain import (
    answer_columns,
    pretrain,
    training_survey,
    vote_loss,
)


def test_targets_are_the_broad_questions_only():
    columns, slices = answer_columns()
    assert "smooth-or-featured_smooth" in columns and "merging_merger" in columns
    assert not [c for c in columns if c.startswith(("odd", "ring"))]
    assert sum(s.stop - s.start for s in slices) == len(columns)


def test_vote_loss_is_lowest_for_the_volunteers_answer():
    _, slices = answer_columns()
    n = slices[-1].stop
    counts = torch.zeros(1, n)
    counts[0, 0] = 40  # everyone said "smooth"
    right, wrong = torch.zeros(1, n), torch.zeros(1, n)
    right[0, 0], wrong[0, 1] = 5.0, 5.0
    assert vote_loss(right, counts, slices)[0] < vote_loss(wrong, counts, slices)[0]
    assert vote_loss(right, counts, slices)[1:].sum() == 0  # nobody reached them


@pytest.mark.parametrize("channels", [1, 3])
def test_augment_keeps_shape_and_changes_pixels(channels):
    images = torch.rand(4, channels, 32, 32)
    out = augment(images, torch.Generator().manual_seed(0))
    assert out.shape == images.shape and not torch.allclose(out, images)
    again = augment(images, torch.Generator().manual_seed(0))
    assert torch.equal(out, again)  # every draw comes from the generator


@pytest.mark.slow
def test_tiny_pretraining_reduces_loss_and_saves_loadable_weights(tmp_path):
    config = PretrainConfig(
        n_galaxies=64,
        render_size=48,
        image_size=32,
        epochs=4,
        batch_size=16,
        learning_rate=3e-3,
    )
    catalog = training_survey(config, tmp_path / "work")
    images = preprocess_files(list(catalog["file"]), config.spec())
    record = pretrain(config, catalog, images, tmp_path / "weights")
    losses = [r["train_loss"] for r in record["history"]]
    assert losses[-1] < losses[0]
    assert {"val_accuracy/bar", "val_loss/merging"} <= set(record["history"][0])
    best = [r["epoch"] for r in record["history"] if r["best"]]
    assert best == [record["best_epoch"]]
    assert "## Validation" in (tmp_path / "weights" / "MODEL_CARD.md").read_text()
    spec = EncoderSpec.from_folder(tmp_path / "weights")
    assert (spec.channels, spec.image_size) == (1, 32)
    model = build_encoder(spec)
    assert next(model.parameters()).dtype == torch.float32
    with torch.inference_mode():
        out = model(images[:2].float()).numpy()
    assert out.shape == (2, 1280) and np.isfinite(out).all()
    # the survey is cached: asking again renders nothing new
    first_image = catalog["file"].iloc[0]
    rendered_at = (tmp_path / "work" / first_image).stat().st_mtime_ns
    assert training_survey(config, tmp_path / "work").equals(catalog)
    assert (tmp_path / "work" / first_image).stat().st_mtime_ns == rendered_at
    # other settings render a new survey
    other = PretrainConfig(n_galaxies=8, render_size=48, image_size=32)
    assert len(training_survey(other, tmp_path / "work")) == 8
    varied = PretrainConfig(n_galaxies=8, render_size=48, image_size=32, variety=1.0)
    assert "flocculence" in training_survey(varied, tmp_path / "work")


def test_invalid_config_fails_before_work():
    with pytest.raises(ValueError, match="image_size"):
        PretrainConfig(image_size=16)
    with pytest.raises(ValueError, match="variety"):
        PretrainConfig(variety=2.0)
