"""HF transformers Perceiver IO image classifiers (``PerceiverForImageClassification*``),
and videoformer's own Perceiver / Perceiver IO keys.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from torch import Tensor

from .layouts import HFConfigReader, Layout, StateDict, register_hf_config, register_layout

# HF PerceiverLayer sub-key -> our PerceiverBlock sub-key
BLOCK_RENAMES = {
    "attention.self.layernorm1.": "norm_q.",
    "attention.self.layernorm2.": "norm_kv.",
    "attention.self.query.": "attn.q.",
    "attention.self.key.": "attn.k.",
    "attention.self.value.": "attn.v.",
    "attention.output.dense.": "attn.proj.",
    "layernorm.": "norm_mlp.",
    "mlp.dense1.": "mlp.fc1.",
    "mlp.dense2.": "mlp.fc2.",
}
# HF prefix -> ours (blocks get BLOCK_RENAMES on the rest of the key)
BLOCK_PREFIXES = [
    (r"perceiver\.encoder\.cross_attention\.", "encoder_cross."),
    (r"perceiver\.encoder\.self_attends\.(\d+)\.", r"self_attends.\1."),
    (r"perceiver\.decoder\.decoder\.decoding_cross_attention\.", "decoder_cross."),
]
PLAIN = {
    "perceiver.embeddings.latents": "latents",
    "perceiver.decoder.decoder.output_position_encodings.position_embeddings": "decoder_query",
    "perceiver.input_preprocessor.position_embeddings.position_embeddings": "preprocess.pos_embed",
}
PLAIN_PREFIXES = {
    "perceiver.decoder.decoder.final_layer.": "head.",
    "perceiver.input_preprocessor.convnet_1x1.": "preprocess.conv1x1.",
    "perceiver.input_preprocessor.positions_projection.": "preprocess.pos_proj.",
    "perceiver.input_preprocessor.convnet.conv.": "preprocess.conv.",
    "perceiver.input_preprocessor.convnet.batchnorm.": "preprocess.bn.",
}
ARCHITECTURES = {
    "PerceiverForImageClassificationFourier": "fourier",
    "PerceiverForImageClassificationLearned": "learned",
    "PerceiverForImageClassificationConvProcessing": "conv",
}
CONFIG_FIELDS = (
    "num_latents",
    "d_latents",
    "d_model",
    "num_blocks",
    "num_self_attends_per_block",
    "num_self_attention_heads",
    "num_cross_attention_heads",
    "qk_channels",
    "v_channels",
    "self_attention_widening_factor",
    "cross_attention_widening_factor",
    "use_query_residual",
    "image_size",
)


def rename_hf_perceiver_key(key: str) -> str:
    if key in PLAIN:
        return PLAIN[key]
    for theirs, ours in PLAIN_PREFIXES.items():
        if key.startswith(theirs):
            return ours + key.removeprefix(theirs)
    for pattern, repl in BLOCK_PREFIXES:
        m = re.match(pattern, key)
        if m:
            rest = key[m.end() :]
            for theirs, ours in BLOCK_RENAMES.items():
                if rest.startswith(theirs):
                    return m.expand(repl) + ours + rest.removeprefix(theirs)
    raise KeyError(f"HF Perceiver key {key!r} has no videoformer counterpart")


def convert_hf_perceiver_io(sd: Mapping[str, Tensor], config=None) -> StateDict:
    return {rename_hf_perceiver_key(k): v for k, v in sd.items()}


def perceiver_io_config_from_hf(hf: Mapping[str, Any]) -> dict[str, Any]:
    if hf.get("model_type", "perceiver") != "perceiver":
        raise ValueError(f"config.json is for model_type {hf.get('model_type')!r}, not 'perceiver'")
    fields = {k: hf[k] for k in CONFIG_FIELDS if k in hf}
    archs = [ARCHITECTURES[a] for a in hf.get("architectures") or [] if a in ARCHITECTURES]
    if archs:
        fields["preprocessor"] = archs[0]
    if "id2label" in hf:
        fields["num_classes"] = len(hf["id2label"])
    return fields


register_hf_config(HFConfigReader("perceiver", "perceiver_io", perceiver_io_config_from_hf))

register_layout(
    Layout(
        name="perceiver_io_hf",
        family="perceiver_io",
        detect=lambda sd: "perceiver.embeddings.latents" in sd,
        convert=convert_hf_perceiver_io,
        description="HF transformers PerceiverForImageClassification"
        "{Fourier,Learned,ConvProcessing}",
    )
)

register_layout(
    Layout(
        name="perceiver_videoformer",
        family="perceiver",
        detect=lambda sd: "latents" in sd and "cross_attends.0.attn.q.weight" in sd,
        convert=lambda sd, config: dict(sd),
        description="videoformer's own Perceiver keys",
    )
)

register_layout(
    Layout(
        name="perceiver_io_videoformer",
        family="perceiver_io",
        detect=lambda sd: "latents" in sd and "encoder_cross.attn.q.weight" in sd,
        convert=lambda sd, config: dict(sd),
        description="videoformer's own Perceiver IO keys",
    )
)
