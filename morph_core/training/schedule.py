"""Which parts of the encoder train when: staged unfreezing from the top block
down (Walmsley+22 §4.2), per-block learning-rate decay (Zoobot's ``lr_decay``),
and frozen batch-norm statistics. Blocks come from timm's ``group_matcher``, so
any timm model can be fine-tuned, not only EfficientNets."""

from __future__ import annotations

from timm.models import group_parameters
from torch import nn

STAGE_GROUPS = 4  # block groups unfrozen one by one before "all" (the paper's 4)


def unfreeze_stages(
    encoder: nn.Module, n_groups: int = STAGE_GROUPS
) -> list[tuple[str, list[nn.Parameter]]]:
    """Parameters to unfreeze, top first; each stage adds its own to the earlier.

    The top (parameters of the encoder's own final layers, such as EfficientNet's
    ``conv_head`` and ``bn2``, which timm groups with the last block), then the
    last ``n_groups`` block groups from the top (named in Keras numbering for
    ``blocks``: "block 7+"), then "all": everything else.
    """
    groups = group_parameters(encoder, encoder.group_matcher(coarse=True))
    params = dict(encoder.named_parameters())
    ordered = [list(groups[g]) for g in sorted(groups, reverse=True)]
    stages: list[tuple[str, list[str]]] = []
    top = [name for name in ordered[0] if name.count(".") == 1]
    if top and len(top) < len(ordered[0]):
        stages.append(("top", top))
        ordered[0] = [name for name in ordered[0] if name not in top]
    stages += [(_label(names), names) for names in ordered[:n_groups]]
    rest = [name for names in ordered[n_groups:] for name in names]
    if rest:
        stages.append(("all", rest))
    return [(label, [params[n] for n in names]) for label, names in stages]


def _label(names: list[str]) -> str:
    """``block 7+`` for timm's ``blocks.6``; else the group's common module path."""
    parts = [name.split(".")[:-1] for name in names]
    common = []
    for level in zip(*parts, strict=False):
        if len(set(level)) > 1:
            break
        common.append(level[0])
    if len(common) >= 2 and common[0] == "blocks" and common[1].isdigit():
        return f"block {int(common[1]) + 1}+"
    return ".".join(common[:2] or parts[0][:1]) + "+"


def stage_param_groups(
    head: list[nn.Parameter],
    stages: list[tuple[str, list[nn.Parameter]]],
    lr: float,
    lr_decay: float = 1.0,
) -> list[dict]:
    """Optimiser groups for the head and the unfrozen stages: the head and the top
    stage at ``lr``, the k-th stage down at ``lr * lr_decay**k``."""
    groups = [{"params": head, "lr": lr}]
    groups += [
        {"params": params, "lr": lr * lr_decay**k}
        for k, (_, params) in enumerate(stages)
    ]
    return groups


def freeze_batch_norm(model: nn.Module) -> None:
    """Keep batch-norm statistics as pretrained (eval mode) while training."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()


def set_trainable(parameters: list[nn.Parameter], trainable: bool) -> None:
    for p in parameters:
        p.requires_grad_(trainable)
