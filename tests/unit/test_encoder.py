import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from morph_core.errors import WeightsError
from morph_core.model.encoder import build_encoder, embed_files
from morph_core.model.spec import EncoderSpec
from tests.unit.cutouts import galaxy_jpeg

TINY = EncoderSpec(image_size=32)


@pytest.fixture(scope="module")
def model():
    return build_encoder(TINY)


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(5):
        path = tmp_path / f"{i}.png"
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    return paths


def test_pooled_features_shape_and_finite(model, files):
    seen = []
    features, errors = embed_files(
        files,
        model,
        TINY,
        batch_size=2,
        num_workers=0,
        progress=lambda d, n: seen.append((d, n)),
    )
    assert features.shape == (5, 1280) and features.dtype == np.float32
    assert np.isfinite(features).all() and not errors
    assert seen[-1] == (5, 5)


def test_random_init_is_deterministic(model, files):
    again = build_encoder(TINY)
    a, _ = embed_files(files, model, TINY, num_workers=0)
    b, _ = embed_files(files, again, TINY, num_workers=0)
    np.testing.assert_array_equal(a, b)


def test_workers_give_the_same_features(model, files):
    a, _ = embed_files(files * 8, model, TINY, batch_size=8, num_workers=0)
    b, _ = embed_files(files * 8, model, TINY, batch_size=8, num_workers=1)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_unreadable_file_is_reported_not_fatal(model, files, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_text("no")
    features, errors = embed_files(
        [files[0], str(bad), files[1]], model, TINY, num_workers=0
    )
    assert list(errors) == [1] and "not an image" in errors[1]
    assert not features[1].any() and features[0].any()


def test_safetensors_round_trip_gives_identical_features(model, files, tmp_path):
    path = tmp_path / "w.safetensors"
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, path)
    spec = EncoderSpec(image_size=32, weights=str(path), seed=123)
    loaded = build_encoder(spec)
    a, _ = embed_files(files, model, TINY, num_workers=0)
    b, _ = embed_files(files, loaded, spec, num_workers=0)
    np.testing.assert_array_equal(a, b)
    assert spec.fingerprint() != TINY.fingerprint()
    torch.save(state, tmp_path / "w.pt")  # tensors only: loads with weights_only
    build_encoder(EncoderSpec(image_size=32, weights=str(tmp_path / "w.pt")))


class _Payload:
    def __reduce__(self):
        return (print, ("pickle code ran",))


def test_unsafe_pickle_is_refused(tmp_path, capsys):
    path = tmp_path / "evil.pt"
    torch.save({"x": _Payload()}, path)
    with pytest.raises(WeightsError, match="cannot read weights .* safely"):
        build_encoder(EncoderSpec(weights=str(path)))
    assert "pickle code ran" not in capsys.readouterr().out


def test_wrong_architecture_missing_file_and_unknown_names(tmp_path):
    other = build_encoder(EncoderSpec(architecture="resnet18", image_size=32))
    path = tmp_path / "resnet.safetensors"
    save_file({k: v.contiguous() for k, v in other.state_dict().items()}, path)
    with pytest.raises(WeightsError, match="do not fit EfficientNet"):
        build_encoder(EncoderSpec(weights=str(path)))
    with pytest.raises(WeightsError, match="weights file not found"):
        build_encoder(EncoderSpec(weights=str(tmp_path / "absent.safetensors")))
    with pytest.raises(WeightsError, match="unknown timm architecture"):
        build_encoder(EncoderSpec(architecture="not_a_net"))
    (tmp_path / "w.ckpt").write_bytes(b"x")
    with pytest.raises(WeightsError, match=r"\.safetensors or \.pt"):
        build_encoder(EncoderSpec(weights=str(tmp_path / "w.ckpt")))


def test_timm_folder_round_trip_gives_identical_features(model, files, tmp_path):
    from morph_core.model.encoder import save_encoder_folder

    folder = tmp_path / "zoobot-format"
    save_encoder_folder(model, TINY, folder)
    assert {p.name for p in folder.iterdir()} >= {"config.json", "model.safetensors"}
    spec = EncoderSpec.from_folder(folder)
    assert (spec.architecture, spec.channels, spec.image_size) == (
        "efficientnet_b0",
        1,
        32,
    )
    a, _ = embed_files(files, model, TINY)
    b, _ = embed_files(files, build_encoder(spec), spec)
    np.testing.assert_array_equal(a, b)


def test_large_jpeg_cutouts_decoded_at_a_reduced_scale_give_the_same_features(
    model, tmp_path, monkeypatch
):
    paths = [
        galaxy_jpeg(tmp_path / f"{i}.jpg", shift=0.05 * i, seed=i) for i in range(4)
    ]
    drafted, _ = embed_files(paths, model, TINY)
    monkeypatch.setattr("morph_core.model.encoder.load_image", _full_decode)
    full, _ = embed_files(paths, model, TINY)
    cosine = (drafted * full).sum(1) / (
        np.linalg.norm(drafted, axis=1) * np.linalg.norm(full, axis=1)
    )
    assert cosine.min() > 0.999


def _full_decode(path, channels=1, draft=None):
    from morph_core.data.images import load_image

    return load_image(path, channels)  # the draft ignored: every pixel decoded
