import numpy as np
import pytest
import torch

from morph_core.encoder import build_encoder, preprocess_files
from morph_core.encoder_spec import EncoderSpec
from morph_core.pretrain import (
    PretrainConfig,
    answer_columns,
    augment,
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


def test_augment_keeps_shape_and_changes_pixels():
    images = torch.rand(4, 1, 32, 32)
    out = augment(images, torch.Generator().manual_seed(0))
    assert out.shape == images.shape and not torch.allclose(out, images)


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
    images = preprocess_files(list(catalog["file"]), config.encoder_spec())
    record = pretrain(config, catalog, images, tmp_path / "weights")
    losses = [r["train_loss"] for r in record["history"]]
    assert losses[-1] < losses[0]
    assert {"val_accuracy/bar", "val_loss/merging"} <= set(record["history"][0])
    assert "## Validation" in (tmp_path / "weights" / "MODEL_CARD.md").read_text()
    spec = EncoderSpec.from_folder(tmp_path / "weights")
    assert (spec.channels, spec.image_size) == (1, 32)
    model = build_encoder(spec)
    assert next(model.parameters()).dtype == torch.float32
    with torch.inference_mode():
        out = model(images[:2].float()).numpy()
    assert out.shape == (2, 1280) and np.isfinite(out).all()
    # the survey is cached: asking again renders nothing new
    assert training_survey(config, tmp_path / "work").equals(catalog)


def test_invalid_config_fails_before_work():
    with pytest.raises(ValueError, match="image_size"):
        PretrainConfig(image_size=16)
