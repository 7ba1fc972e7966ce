"""Hugging Face transformers ``TimesformerForVideoClassification`` checkpoints.

A state dict with ``timesformer.*`` and ``classifier.*`` keys, or a model directory
(``config.json`` + ``model.safetensors``) whose config gives our config fields.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from torch import Tensor

from .layouts import HFConfigReader, Layout, StateDict, register_hf_config, register_layout

# HF key (regex) -> our key; \1 is the block index.
RENAMES = [
    (r"timesformer\.embeddings\.cls_token", "cls_token"),
    (r"timesformer\.embeddings\.position_embeddings", "pos_embed"),
    (r"timesformer\.embeddings\.time_embeddings", "time_embed"),
    (r"timesformer\.embeddings\.patch_embeddings\.projection\.", "patch_embed.proj."),
    (r"timesformer\.encoder\.layer\.(\d+)\.attention\.attention\.qkv\.", r"blocks.\1.attn.qkv."),
    (r"timesformer\.encoder\.layer\.(\d+)\.attention\.output\.dense\.", r"blocks.\1.attn.proj."),
    (
        r"timesformer\.encoder\.layer\.(\d+)\.temporal_attention\.attention\.qkv\.",
        r"blocks.\1.temporal_attn.qkv.",
    ),
    (
        r"timesformer\.encoder\.layer\.(\d+)\.temporal_attention\.output\.dense\.",
        r"blocks.\1.temporal_attn.proj.",
    ),
    (r"timesformer\.encoder\.layer\.(\d+)\.temporal_dense\.", r"blocks.\1.temporal_fc."),
    (r"timesformer\.encoder\.layer\.(\d+)\.temporal_layernorm\.", r"blocks.\1.temporal_norm1."),
    (r"timesformer\.encoder\.layer\.(\d+)\.layernorm_before\.", r"blocks.\1.norm1."),
    (r"timesformer\.encoder\.layer\.(\d+)\.layernorm_after\.", r"blocks.\1.norm2."),
    (r"timesformer\.encoder\.layer\.(\d+)\.intermediate\.dense\.", r"blocks.\1.mlp.fc1."),
    (r"timesformer\.encoder\.layer\.(\d+)\.output\.dense\.", r"blocks.\1.mlp.fc2."),
    (r"timesformer\.layernorm\.", "norm."),
    (r"classifier\.", "head."),
]
_COMPILED = [(re.compile(pattern), repl) for pattern, repl in RENAMES]

# HF config.json field -> our TimeSformerConfig field
CONFIG_FIELDS = {
    "image_size": "img_size",
    "patch_size": "patch_size",
    "num_channels": "in_chans",
    "num_frames": "num_frames",
    "hidden_size": "embed_dim",
    "num_hidden_layers": "depth",
    "num_attention_heads": "num_heads",
    "qkv_bias": "qkv_bias",
    "attention_type": "attention_type",
    "hidden_dropout_prob": "drop_rate",
    "attention_probs_dropout_prob": "attn_drop_rate",
    "drop_path_rate": "drop_path_rate",
    "layer_norm_eps": "layer_norm_eps",
}


def rename_hf_key(key: str) -> str:
    for pattern, repl in _COMPILED:
        m = pattern.match(key)
        if m:
            return m.expand(repl) + key[m.end() :]
    raise KeyError(f"HF TimeSformer key {key!r} has no videoformer counterpart")


def convert_hf_timesformer(sd: Mapping[str, Tensor], config) -> StateDict:
    return {rename_hf_key(k): v for k, v in sd.items()}


def timesformer_config_from_hf(hf: Mapping[str, Any]) -> dict[str, Any]:
    """Our config fields from an HF ``config.json`` (``num_classes`` from ``id2label``)."""
    if hf.get("model_type", "timesformer") != "timesformer":
        raise ValueError(
            f"config.json is for model_type {hf.get('model_type')!r}, not 'timesformer'"
        )
    fields = {ours: hf[theirs] for theirs, ours in CONFIG_FIELDS.items() if theirs in hf}
    if "intermediate_size" in hf and "hidden_size" in hf:
        fields["mlp_ratio"] = hf["intermediate_size"] / hf["hidden_size"]
    if "id2label" in hf:
        fields["num_classes"] = len(hf["id2label"])
    return fields


register_hf_config(
    HFConfigReader("timesformer", "timesformer", timesformer_config_from_hf, video_processor=True)
)

register_layout(
    Layout(
        name="timesformer_hf",
        family="timesformer",
        detect=lambda sd: "timesformer.embeddings.cls_token" in sd,
        convert=convert_hf_timesformer,
        description="HF transformers TimesformerForVideoClassification "
        "(timesformer.*, classifier.*)",
    )
)
