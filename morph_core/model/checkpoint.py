"""Weights files as they are published, read safely and kept as safetensors.

A Hugging Face hub folder may hold ``pytorch_model.bin`` (a pickle) rather than
``model.safetensors``, as every Zoobot encoder does; a Python package may ship a
``.pth`` under another implementation's tensor names. Each is read once with
``torch.load(weights_only=True)``, checked to be a plain dict of named tensors,
renamed to timm's names where needed and written as safetensors, so that later
loads read no pickle at all.
"""

from __future__ import annotations

import os
from pathlib import Path

import timm
import torch
from safetensors.torch import load_file, save_file

from morph_core.errors import WeightsError

PICKLE_SUFFIXES = (".bin", ".pt", ".pth")


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a ``.safetensors`` file, or of a tensor-only pickle
    (``.bin``/``.pt``/``.pth``, read with ``weights_only=True``).

    Raises
    ------
    WeightsError
        Missing file, another format, an unsafe pickle, or anything but a plain
        dict of named tensors (e.g. a training checkpoint holding one).
    """
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    if path.suffix not in (".safetensors", *PICKLE_SUFFIXES):
        raise WeightsError(
            f"weights must be .safetensors or .pt/.pth/.bin, not {path.name}"
        )
    try:
        if path.suffix == ".safetensors":
            state = load_file(path)
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # safetensors and torch raise many types on bad files
        raise WeightsError(f"cannot read weights {path} safely: {e}") from e
    if not isinstance(state, dict) or not state:
        raise WeightsError(
            f"{path.name} holds {type(state).__name__}, not a state dict of tensors"
        )
    odd = [
        k
        for k, v in state.items()
        if not isinstance(k, str) or not isinstance(v, torch.Tensor)
    ]
    if odd:
        raise WeightsError(
            f"{path.name} is not a plain state dict: {len(odd)} entries are not "
            f"named tensors (e.g. {odd[:3]}); save the encoder's "
            "model.state_dict() alone"
        )
    return state


def rename_by_position(
    state: dict[str, torch.Tensor], architecture: str
) -> dict[str, torch.Tensor]:
    """Another implementation's tensors under timm's names for ``architecture``.

    The two must hold the same tensors in the same order (as
    ``efficientnet_lite_pytorch`` and timm's ``tf_efficientnet_lite0`` do); each
    pair must agree in kind (``weight``, ``bias``, ``running_mean``, ...) and shape.

    Raises
    ------
    WeightsError
        The counts, a kind or a shape differ.
    """
    ours = timm.create_model(architecture, pretrained=False).state_dict()
    if len(ours) != len(state):
        raise WeightsError(
            f"{len(state)} tensors cannot be {architecture}'s {len(ours)}"
        )
    renamed = {}
    for (theirs, tensor), (name, target) in zip(
        state.items(), ours.items(), strict=True
    ):
        same_kind = theirs.rsplit(".", 1)[-1] == name.rsplit(".", 1)[-1]
        if not same_kind or tensor.shape != target.shape:
            raise WeightsError(
                f"{theirs} {tuple(tensor.shape)} does not match {architecture}'s "
                f"{name} {tuple(target.shape)}"
            )
        renamed[name] = tensor
    return renamed


def convert_to_safetensors(
    source: Path, target: Path, rename_for: str | None = None
) -> None:
    """Write ``source``'s tensors to ``target`` as safetensors (atomically);
    ``rename_for``: an architecture whose timm names they take by position."""
    state = read_state_dict(source)
    if rename_for:
        state = rename_by_position(state, rename_for)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    save_file({k: v.contiguous() for k, v in state.items()}, partial)
    os.replace(partial, target)
