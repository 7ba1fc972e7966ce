"""mmaction2 TimeSformer checkpoints (``backbone.*`` built from mmcv bricks, ``cls_head``).

mmaction2 (``mmaction/models/backbones/timesformer.py``, ``models/common/transformer.py``)
builds each block from mmcv layers. Divided attention is ``attentions.0`` (temporal: its
own norm, an ``nn.MultiheadAttention`` and ``temporal_fc``) then ``attentions.1`` (spatial),
then ``ffns.0`` with its own norm; space-only and joint blocks are ``norms.0``,
``attentions.0``, ``norms.1``, ``ffns.0``. ``nn.MultiheadAttention`` stacks q, k and v in
``in_proj_weight`` in the order of our ``qkv``; mmcv's FFN holds fc1 at ``layers.0.0`` and
fc2 at ``layers.1``. The computation is the official one, so only names change.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from torch import Tensor

from .layouts import Layout, StateDict, register_layout

PREFIX = "backbone.transformer_layers.layers."
FFN = {"ffns.0.layers.0.0.": "mlp.fc1.", "ffns.0.layers.1.": "mlp.fc2."}
DIVIDED = {
    "attentions.0.norm.": "temporal_norm1.",
    "attentions.0.attn.in_proj_": "temporal_attn.qkv.",
    "attentions.0.attn.out_proj.": "temporal_attn.proj.",
    "attentions.0.temporal_fc.": "temporal_fc.",
    "attentions.1.norm.": "norm1.",
    "attentions.1.attn.in_proj_": "attn.qkv.",
    "attentions.1.attn.out_proj.": "attn.proj.",
    "ffns.0.norm.": "norm2.",
    **FFN,
}
SINGLE = {  # space_only and joint_space_time
    "norms.0.": "norm1.",
    "attentions.0.attn.in_proj_": "attn.qkv.",
    "attentions.0.attn.out_proj.": "attn.proj.",
    "norms.1.": "norm2.",
    **FFN,
}
TOP = {
    "backbone.patch_embed.projection.": "patch_embed.proj.",
    "backbone.norm.": "norm.",
    "cls_head.fc_cls.": "head.",
}


def _rename(key: str, blocks: Mapping[str, str]) -> str:
    if m := re.match(re.escape(PREFIX) + r"(\d+)\.", key):
        rest = key[m.end() :]
        for theirs, ours in blocks.items():
            if rest.startswith(theirs):
                return f"blocks.{m.group(1)}.{ours}{rest.removeprefix(theirs)}"
    for theirs, ours in TOP.items():
        if key.startswith(theirs):
            return ours + key.removeprefix(theirs)
    if key in ("backbone.cls_token", "backbone.pos_embed", "backbone.time_embed"):
        return key.removeprefix("backbone.")
    raise KeyError(f"mmaction2 TimeSformer key {key!r} has no videoformer counterpart")


def convert_mmaction_timesformer(sd: Mapping[str, Tensor], config=None) -> StateDict:
    divided = any(".attentions.1." in k for k in sd)
    return {_rename(k, DIVIDED if divided else SINGLE): v for k, v in sd.items()}


register_layout(
    Layout(
        name="timesformer_mmaction",
        family="timesformer",
        detect=lambda sd: (
            "backbone.cls_token" in sd and f"{PREFIX}0.attentions.0.attn.in_proj_weight" in sd
        ),
        convert=convert_mmaction_timesformer,
        description="mmaction2 TimeSformer (backbone.transformer_layers.*, cls_head.fc_cls)",
    )
)
