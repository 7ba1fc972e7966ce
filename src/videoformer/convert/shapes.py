"""Config fields a state dict in videoformer's keys determines by its shapes, per family:
what ``convert`` builds from a checkpoint without a config, and what a load error compares
with the model's own fields ("embed_dim: checkpoint 768, model 32"). Fields the shapes do
not tell (heads, for TimeSformer) are left out."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from torch import Tensor

from .layouts import CONFIG_FROM_SHAPES


def _count(sd: Mapping[str, Tensor], pattern: str) -> int:
    """1 + the largest index ``(\\d+)`` in keys matching ``pattern``; 0 without a match."""
    found = [int(m.group(1)) for k in sd if (m := re.match(pattern, k))]
    return max(found) + 1 if found else 0


def _classes(sd: Mapping[str, Tensor], out: dict[str, Any]) -> None:
    if "head.weight" in sd and sd["head.weight"].ndim == 2:
        out["num_classes"] = sd["head.weight"].shape[0]


def timesformer_sizes(sd: Mapping[str, Tensor]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    proj, pos = sd.get("patch_embed.proj.weight"), sd.get("pos_embed")
    if proj is not None and proj.ndim == 4:
        out["in_chans"], out["patch_size"] = proj.shape[1], proj.shape[-1]
    if pos is not None and pos.ndim == 3:
        out["embed_dim"] = pos.shape[-1]
        grid = math.isqrt(pos.shape[1] - 1)
        if grid * grid == pos.shape[1] - 1 and "patch_size" in out:
            out["img_size"] = grid * out["patch_size"]
    if "time_embed" in sd:
        out["num_frames"] = sd["time_embed"].shape[1]
    if depth := _count(sd, r"blocks\.(\d+)\."):
        out["depth"] = depth
        steps = {k.split(".")[2] for k in sd if k.startswith("blocks.0.") and "_attn." in k}
        out["attention_type"] = (
            "axial"
            if "width_attn" in steps
            else "divided_space_time"
            if "temporal_attn" in steps
            else "sparse_local_global"
            if "local_attn" in steps
            else "joint_space_time"
            if "time_embed" in sd
            else "space_only"
        )
        fc1 = sd.get("blocks.0.mlp.fc1.weight")
        if fc1 is not None and "embed_dim" in out:
            out["mlp_ratio"] = fc1.shape[0] / out["embed_dim"]
    _classes(sd, out)
    return out


def swin_sizes(sd: Mapping[str, Tensor]) -> dict[str, Any]:
    """Swin and Video Swin (the same keys; a 3D patch kernel gives a tuple patch size)."""
    out: dict[str, Any] = {}
    proj = sd.get("patch_embed.proj.weight")
    if proj is not None:
        out["embed_dim"], out["in_chans"] = proj.shape[0], proj.shape[1]
        kernel = tuple(proj.shape[2:])
        out["patch_size"] = kernel[-1] if len(kernel) == 2 else kernel
    stages = _count(sd, r"layers\.(\d+)\.")
    if stages:
        out["depths"] = tuple(_count(sd, rf"layers\.{i}\.blocks\.(\d+)\.") for i in range(stages))
        tables = [
            sd.get(f"layers.{i}.blocks.0.attn.relative_position_bias_table") for i in range(stages)
        ]
        if all(t is not None for t in tables):
            out["num_heads"] = tuple(t.shape[1] for t in tables)
    _classes(sd, out)
    return out


def perceiver_sizes(sd: Mapping[str, Tensor], width: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "latents" in sd and sd["latents"].ndim == 2:
        out["num_latents"], out[width] = sd["latents"].shape
    _classes(sd, out)
    return out


CONFIG_FROM_SHAPES.update(
    timesformer=timesformer_sizes,
    swin=swin_sizes,
    video_swin=swin_sizes,
    perceiver=lambda sd: perceiver_sizes(sd, "latent_dim"),
    perceiver_io=lambda sd: perceiver_sizes(sd, "d_latents"),
)
