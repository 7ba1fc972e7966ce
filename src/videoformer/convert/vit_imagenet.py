"""ImageNet ViT weights (timm / official ViT-B/16 layout) as a TimeSformer initialisation.

As the official ``load_pretrained``: every extra attention step (``temporal_attn`` in
divided attention; ``local_attn``, ``width_attn`` for the ablation types) starts as a
copy of the block's spatial ``attn`` and ``norm1``. What ViT lacks starts neutral:
``time_embed`` and the extra steps' ``*_fc`` layers are zeros (the official init zeroes
``temporal_fc`` too), so the inflated model first computes exactly the image ViT.

One deliberate difference: when the patch grid differs (e.g. 448 px), the position
embedding is resampled on the 2D grid with legacy nearest (the rule the official
forward uses), not with the official loader's 1D interpolation of the flattened grid.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch
from torch import Tensor

from ..models.timesformer import STEPS
from .layouts import Layout, StateDict, register_layout


def inflate_vit_to_timesformer(sd: Mapping[str, Tensor], config) -> StateDict:
    out = dict(sd)
    D = out["cls_token"].shape[-1]
    extra_steps = [name for name, _ in STEPS[config.attention_type][:-1]]
    for key, value in sd.items():
        m = re.match(r"blocks\.(\d+)\.(attn|norm1)\.(.+)", key)
        if not m:
            continue
        block, part, rest = m.groups()
        for name in extra_steps:
            out[f"blocks.{block}.{name}_{part}.{rest}"] = value.clone()
            if part == "norm1":
                out[f"blocks.{block}.{name}_fc.weight"] = torch.zeros(D, D, dtype=value.dtype)
                out[f"blocks.{block}.{name}_fc.bias"] = torch.zeros(D, dtype=value.dtype)
    if config.attention_type != "space_only":
        out["time_embed"] = torch.zeros(1, config.num_frames, D, dtype=out["cls_token"].dtype)
    return out


register_layout(
    Layout(
        name="vit_imagenet",
        family="timesformer",
        detect=lambda sd: (
            "cls_token" in sd and "blocks.0.attn.qkv.weight" in sd and "time_embed" not in sd
        ),
        convert=inflate_vit_to_timesformer,
        description="ImageNet ViT (timm / official ViT layout; also space-only TimeSformer, "
        "the same keys), "
        "inflated: attention copied to extra steps",
    )
)
