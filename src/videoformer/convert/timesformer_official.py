"""facebookresearch/TimeSformer ``.pyth`` checkpoints, and our own TimeSformer layout.

Official files hold ``{'model_state': {'model.cls_token': ..., 'model.blocks.0...': ...}}``:
the ``VisionTransformer`` keys behind the wrapper's ``model.`` prefix. Our parameter
names are the official ones, so conversion strips the prefix.
``resize_timesformer_embeddings`` resamples the
position and time embeddings when a checkpoint's grid or frame count differ.
"""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor

from ..layers import resample_pos_embed, resample_time_embed
from .layouts import RESIZERS, Layout, StateDict, register_layout

PREFIX = "model."


def resize_timesformer_embeddings(sd: Mapping[str, Tensor], config) -> StateDict:
    """Resample ``pos_embed`` (legacy nearest, cls kept) and ``time_embed`` to ``config``."""
    out = dict(sd)
    grid = config.img_size // config.patch_size
    if "pos_embed" in out and out["pos_embed"].shape[1] != 1 + grid * grid:
        out["pos_embed"] = resample_pos_embed(out["pos_embed"], (grid, grid))
    if "time_embed" in out and config.attention_type != "space_only":
        out["time_embed"] = resample_time_embed(out["time_embed"], config.num_frames)
    return out


def convert_official_timesformer(sd: Mapping[str, Tensor], config) -> StateDict:
    return {k.removeprefix(PREFIX): v for k, v in sd.items()}


RESIZERS["timesformer"] = resize_timesformer_embeddings

register_layout(
    Layout(
        name="timesformer_official",
        family="timesformer",
        detect=lambda sd: "model.cls_token" in sd and "model.blocks.0.attn.qkv.weight" in sd,
        convert=convert_official_timesformer,
        description="facebookresearch/TimeSformer .pyth (model_state, keys prefixed 'model.')",
    )
)

register_layout(
    Layout(
        name="timesformer_videoformer",
        family="timesformer",
        detect=lambda sd: "cls_token" in sd and "time_embed" in sd,
        convert=lambda sd, config: dict(sd),
        description="videoformer's own TimeSformer keys (= the official names without prefix); "
        "space-only ones have the ViT keys (vit_imagenet)",
    )
)
