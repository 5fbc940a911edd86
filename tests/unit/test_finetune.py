import json

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from morph_core.data.manifest import load_manifest
from morph_core.dataset import open_dataset
from morph_core.errors import MorphCoreError, WeightsError
from morph_core.model.encoder import build_encoder, save_encoder_folder
from morph_core.model.spec import EncoderSpec
from morph_core.model.weights import resolve_encoder
from morph_core.pipeline.prepare import prepare
from morph_core.training.config import FinetuneConfig
from morph_core.training.finetune import FinetuneRun, finetune
from morph_core.training.schedule import stage_param_groups, unfreeze_stages

COLUMN = "smooth-or-featured_smooth_fraction"


@pytest.fixture
def catalog(prepared_env):
    return open_dataset("synthetic", prepared_env).catalog()


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
    again = FinetuneRun.load(tmp_path / "run").predict(catalog)
    assert np.allclose(p, again, atol=1e-6)


def test_a_seeded_run_is_reproducible(catalog):
    options = dict(n_labels=4, threshold=0.5, head_epochs=6, stages=1, stage_epochs=1)
    first, second = (finetune(catalog, COLUMN, **options) for _ in range(2))

    def timeless(run):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in run.history]

    assert timeless(first) == timeless(second) and first.test == second.test


def test_efficientnet_unfreezes_top_then_blocks_down():
    encoder = build_encoder(EncoderSpec(image_size=32))
    stages = unfreeze_stages(encoder)
    assert [name for name, _ in stages] == [
        "top",
        "block 7+",
        "block 6+",
        "block 5+",
        "block 4+",
        "all",
    ]
    top = {id(p) for p in (*encoder.conv_head.parameters(), *encoder.bn2.parameters())}
    assert {id(p) for p in stages[0][1]} == top
    covered = [id(p) for _, params in stages for p in params]
    assert sorted(covered) == sorted(id(p) for p in encoder.parameters())


@pytest.mark.parametrize("architecture", ["resnet18", "convnext_nano"])
def test_any_timm_model_has_stages_from_its_group_matcher(architecture):
    encoder = build_encoder(EncoderSpec(architecture=architecture, image_size=32))
    stages = unfreeze_stages(encoder)
    assert stages[-1][0] == "all" and len(stages) >= 3
    covered = [id(p) for _, params in stages for p in params]
    assert sorted(covered) == sorted(id(p) for p in encoder.parameters())


def test_learning_rate_decays_down_the_stages():
    head = [torch.nn.Parameter(torch.zeros(1))]
    stages = [(f"s{i}", [torch.nn.Parameter(torch.zeros(1))]) for i in range(3)]
    groups = stage_param_groups(head, stages, lr=1e-4, lr_decay=0.5)
    assert [g["lr"] for g in groups] == [1e-4, 1e-4, 5e-5, 2.5e-5]


def test_bad_inits_and_labels_say_why(catalog, tmp_path):
    with pytest.raises(WeightsError, match="are none of"):
        resolve_encoder("nowhere.safetensors", load_manifest())
    wrong = tmp_path / "wrong.safetensors"
    save_file({"conv_stem.weight": torch.zeros(3, 3)}, wrong)
    with pytest.raises(WeightsError, match="do not fit"):
        finetune(catalog, COLUMN, n_labels=4, threshold=0.5, init=str(wrong))
    unsafe = tmp_path / "unsafe.pt"
    torch.save({"x": object()}, unsafe)
    with pytest.raises(WeightsError, match="safely"):
        finetune(catalog, COLUMN, n_labels=4, threshold=0.5, init=str(unsafe))
    with pytest.raises(MorphCoreError, match="non-binary numbers"):
        finetune(catalog, COLUMN, n_labels=4)
    with pytest.raises(MorphCoreError, match="lr_decay"):
        FinetuneConfig(lr_decay=0)


def colour_encoder(folder):
    """A 3-channel timm folder, the format of Zoobot's colour encoders."""
    spec = EncoderSpec(channels=3, image_size=32, mean=(0.5,) * 3, std=(0.25,) * 3)
    save_encoder_folder(build_encoder(spec), spec, folder)
    return folder


def test_a_colour_encoder_fine_tunes_predicts_and_reloads(catalog, tmp_path):
    spec = EncoderSpec.from_folder(colour_encoder(tmp_path / "colour"))
    assert spec.channels == 3
    run = finetune(
        catalog,
        COLUMN,
        n_labels=4,
        threshold=0.5,
        init=str(tmp_path / "colour"),
        folder=tmp_path / "run",
        head_epochs=4,
        stages=1,
        stage_epochs=1,
    )
    assert run.spec == spec and run.history[-1]["stage"] == "top"
    p = run.predict(catalog)
    assert p.shape == (len(catalog), 2) and np.isfinite(p).all()
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["spec"]["channels"] == 3
    np.testing.assert_allclose(FinetuneRun.load(tmp_path / "run").predict(catalog), p)


def test_pretrained_means_the_encoder_the_dataset_was_prepared_with(
    prepared_env, tmp_path
):
    manifest = load_manifest()
    default = resolve_encoder(None, manifest)
    colour = resolve_encoder(str(colour_encoder(tmp_path / "colour")), manifest)
    assert resolve_encoder("pretrained", manifest, prepared=colour) == colour
    assert resolve_encoder("pretrained", manifest) == default  # no dataset named
    random = resolve_encoder("random", manifest, prepared=colour)
    assert (random.channels, random.weights) == (3, None)
    ds = open_dataset("synthetic_colour", prepared_env)
    prepare(manifest.dataset("synthetic"), ds, colour, num_workers=0)
    assert ds.encoder_spec() == colour and ds.features().shape[0] == 48


def test_a_head_run_on_the_datasets_cached_features_matches_one_on_its_images(
    prepared_env,
):
    """Head-only runs of the dataset's own encoder read the prepared features
    (no image, no encoder pass); the result is the run on the images."""
    from morph_core.training.finetune import train_run
    from morph_core.training.labels import balanced_split, labels_from_column

    dataset = open_dataset("synthetic", prepared_env)
    catalog = dataset.catalog()
    labels = labels_from_column(catalog, COLUMN, 0.5)
    config = FinetuneConfig(n_per_class=4, strategy="head", head_epochs=15)
    split = balanced_split(labels, 4, 0)
    spec = dataset.encoder_spec()
    on_images = train_run(catalog, labels, split, spec, config)
    cached = train_run(
        catalog.assign(file="/nowhere.png"),  # proves no image is read
        labels,
        split,
        spec,
        config,
        features=dataset.features(),
    )
    for key in ("accuracy", "auc", "loss"):
        assert cached.test[key] == pytest.approx(on_images.test[key], abs=2e-3)
    # the same path, apart from the images' fp16 preprocessing (the standardised
    # input carries its differences into the head's training)
    assert [r["train_loss"] for r in cached.history] == pytest.approx(
        [r["train_loss"] for r in on_images.history], abs=2e-2
    )


def test_a_head_learns_the_same_from_features_at_any_scale(prepared_env, tmp_path):
    """The head standardises its input by the training galaxies' features: a
    random-init encoder's nearly collapsed features (distances of 1e-5) are
    learnt from as well as the same features at their own scale."""
    from safetensors.torch import load_file

    from morph_core.training.finetune import train_run
    from morph_core.training.labels import balanced_split, labels_from_column

    dataset = open_dataset("synthetic", prepared_env)
    catalog, features = dataset.catalog(), np.array(dataset.features())
    labels = labels_from_column(catalog, COLUMN, 0.5)
    config = FinetuneConfig(n_per_class=4, strategy="head", head_epochs=15)
    split = balanced_split(labels, 4, 0)
    spec = dataset.encoder_spec()
    runs = [
        train_run(catalog, labels, split, spec, config, folder, features=scaled)
        for folder, scaled in (
            (tmp_path / "one", features),
            (tmp_path / "tiny", features * 1e-5),
        )
    ]
    assert runs[1].test == pytest.approx(runs[0].test, abs=1e-4)
    np.testing.assert_allclose(
        runs[1].predict_features(features * 1e-5),
        runs[0].predict_features(features),
        atol=1e-4,
    )
    # a run saved before heads standardised their input loads as it was
    state = load_file(tmp_path / "one" / "model.safetensors")
    old = {k: v for k, v in state.items() if k not in ("head.mean", "head.scale")}
    save_file(old, tmp_path / "one" / "model.safetensors")
    loaded = FinetuneRun.load(tmp_path / "one")
    assert float(loaded.model.head.scale.min()) == 1.0
    unscaled = runs[0].model.head.layers(torch.as_tensor(features[:5]))
    np.testing.assert_allclose(
        loaded.predict_features(features[:5])[:, 1],
        torch.sigmoid(unscaled[:, 0]).detach().numpy(),
        atol=1e-5,
    )


def test_a_cosine_schedule_warms_up_then_lowers_the_rate(prepared_env, tmp_path):
    from morph_core.training.finetune import train_run
    from morph_core.training.labels import balanced_split, labels_from_column

    dataset = open_dataset("synthetic", prepared_env)
    catalog, features = dataset.catalog(), np.array(dataset.features())
    labels = labels_from_column(catalog, COLUMN, 0.5)
    split = balanced_split(labels, 4, 0)
    runs = {}
    for schedule in ("constant", "cosine"):
        config = FinetuneConfig(
            n_per_class=4,
            strategy="head",
            head_epochs=6,
            head_patience=6,
            schedule=schedule,
            warmup_epochs=2,
        )
        runs[schedule] = train_run(
            catalog,
            labels,
            split,
            dataset.encoder_spec(),
            config,
            tmp_path / schedule,
            features=features,
        )
    rates = {k: [r["learning_rate"] for r in run.history] for k, run in runs.items()}
    assert rates["constant"] == [1e-3] * 6
    cosine = rates["cosine"]
    assert cosine[1] == pytest.approx(1e-3)  # the end of the warm-up
    assert cosine[0] < cosine[1] and all(np.diff(cosine[1:]) < 0)
    assert cosine[-1] == pytest.approx(0, abs=1e-9)  # the phase's last step
    again = FinetuneRun.load(tmp_path / "cosine")
    assert again.config.schedule == "cosine" and again.config.warmup_epochs == 2
    with pytest.raises(MorphCoreError, match="unknown schedule"):
        FinetuneConfig(schedule="linear")
