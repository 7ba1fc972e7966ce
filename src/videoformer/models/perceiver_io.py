"""Perceiver IO image classifiers, as published in HF transformers (the downloadable weights).

Paper: https://arxiv.org/abs/2107.14795 (Jaegle et al., ICLR 2022).

The encoder cross-attends once from the latents to the preprocessed image, then runs
``num_blocks`` times the same ``num_self_attends_per_block`` latent blocks (shared
weights). The decoder cross-attends from one trained query to the latents and a
Linear gives the logits. Config fields use HF ``PerceiverConfig`` names.

Preprocessors (``preprocessor``), as HF's ``PerceiverImagePreprocessor``:
- ``fourier``: pixels + Fourier features (64 bands, max resolution 224): 261 channels;
- ``learned``: 1x1 conv to 256 + trained position embedding projected to 256: 512;
- ``conv``: 7x7/2 conv (same padding) + BatchNorm + ReLU + 3x3/2 max pool (224 -> 55),
  64 channels + Fourier features (64 bands, max resolution 56): 322.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..layers import (
    Relevance,
    fourier_channels,
    grid_fourier_features,
    latent_rollout,
    normalised,
    record_attention,
)
from ..specs import IMAGENET_MEAN, IMAGENET_STD, DataSpec, WeightsSpec, reported
from .base import Classifier, init_weights, make_head, run_block
from .perceiver import PerceiverBlock
from .registry import apply_overrides, register_model

PREPROCESSORS = {"fourier": 261, "learned": 512, "conv": 322}  # -> the d_model each produces


class ImagePreprocessor(nn.Module):
    """(B, C, H, W) image -> (B, M, d_model) byte array, in one of HF's three ways."""

    def __init__(self, kind: str, in_chans: int, image_size: int) -> None:
        super().__init__()
        self.kind = kind
        if kind == "learned":
            self.conv1x1 = nn.Conv2d(in_chans, 256, kernel_size=1)
            self.pos_embed = nn.Parameter(torch.zeros(image_size * image_size, 256))
            self.pos_proj = nn.Linear(256, 256)
        elif kind == "conv":
            self.conv = nn.Conv2d(in_chans, 64, kernel_size=7, stride=2, bias=False)
            self.bn = nn.BatchNorm2d(64)

    def forward(self, x: Tensor) -> Tensor:
        B = x.shape[0]
        if self.kind == "conv":
            x = F.max_pool2d(
                F.relu(self.bn(self.conv(F.pad(x, (3, 3, 3, 3))))), kernel_size=3, stride=2
            )
        elif self.kind == "learned":
            x = self.conv1x1(x)
        grid = tuple(x.shape[2:])
        x = x.flatten(2).transpose(1, 2)  # (B, H*W, C), row-major
        if self.kind == "learned":
            if self.pos_embed.shape[0] != x.shape[1]:
                raise ValueError(
                    f"the learned position embedding covers {self.pos_embed.shape[0]} pixels, "
                    f"got {grid}"
                )
            pos = self.pos_proj(self.pos_embed)
        else:
            max_res = (56, 56) if self.kind == "conv" else (224, 224)
            pos = grid_fourier_features(grid, 64, max_res, x.device).to(x.dtype)
        return torch.cat([x, pos.expand(B, -1, -1)], dim=-1)


@dataclass(frozen=True)
class PerceiverIOConfig:
    num_latents: int = 512
    d_latents: int = 1024
    d_model: int = 261
    num_blocks: int = 8
    num_self_attends_per_block: int = 6
    num_self_attention_heads: int = 8
    num_cross_attention_heads: int = 1
    qk_channels: int | None = None
    v_channels: int | None = None
    self_attention_widening_factor: int = 1
    cross_attention_widening_factor: int = 1
    use_query_residual: bool = True
    image_size: int = 224
    in_chans: int = 3
    num_classes: int = 1000
    preprocessor: str = "fourier"

    def __post_init__(self) -> None:
        if self.preprocessor not in PREPROCESSORS:
            raise ValueError(
                f"preprocessor {self.preprocessor!r} is not one of {', '.join(PREPROCESSORS)}"
            )
        expected = PREPROCESSORS[self.preprocessor]
        if self.preprocessor == "fourier":
            expected = self.in_chans + fourier_channels(2, 64)
        if self.d_model != expected:
            raise ValueError(
                f"d_model {self.d_model} does not match the {self.preprocessor!r} preprocessor's "
                f"{expected} channels"
            )


class PerceiverIO(Classifier):
    """Perceiver IO image classifier. Input ``(B, C, H, W)``, logits ``(B, num_classes)``."""

    family: ClassVar[str] = "perceiver_io"
    embeddings = ("latents", "decoder_query", "preprocess.pos_embed")
    stem = ("preprocess", "latents", "encoder_cross")  # the encoder reads the input as a stem does
    block_lists = ("self_attends",)
    block_types = (PerceiverBlock,)
    relevance_methods = ("rollout",)

    def __init__(self, config: PerceiverIOConfig) -> None:
        super().__init__()
        c = self.config = config
        D = c.d_latents
        self.preprocess = ImagePreprocessor(c.preprocessor, c.in_chans, c.image_size)
        self.latents = nn.Parameter(torch.zeros(c.num_latents, D))
        self.encoder_cross = PerceiverBlock(
            D,
            c.num_cross_attention_heads,
            c.d_model,
            c.qk_channels,
            c.v_channels,
            c.cross_attention_widening_factor,
            c.use_query_residual,
        )
        self.self_attends = nn.ModuleList(
            PerceiverBlock(
                D,
                c.num_self_attention_heads,
                None,
                c.qk_channels,
                c.v_channels,
                c.self_attention_widening_factor,
            )
            for _ in range(c.num_self_attends_per_block)
        )
        self.decoder_query = nn.Parameter(torch.zeros(1, D))
        self.decoder_cross = PerceiverBlock(
            D, 1, D, None, None, c.cross_attention_widening_factor, True
        )
        self.num_features = D
        self.head = make_head(D, c.num_classes)
        init_weights(self)
        for p in (self.latents, self.decoder_query):
            nn.init.trunc_normal_(p, std=0.02)
        if c.preprocessor == "learned":
            nn.init.trunc_normal_(self.preprocess.pos_embed, std=0.02)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.config.in_chans, self.config.image_size, self.config.image_size)

    def default_data_config(self) -> DataSpec:
        return DataSpec(
            self.config.image_size, "1x1x1", IMAGENET_MEAN, IMAGENET_STD, labels="imagenet1k"
        )

    def forward_features(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> the decoder's output for its query (B, d_latents)."""
        if x.ndim != 4 or x.shape[1] != self.config.in_chans:
            raise ValueError(
                f"Perceiver IO expects (B, {self.config.in_chans}, H, W) images, got "
                f"{tuple(x.shape)}"
            )
        byte_array = self.preprocess(x)  # (B, M, d_model)
        z = run_block(self, self.encoder_cross, self.latents.expand(x.shape[0], -1, -1), byte_array)
        for _ in range(self.config.num_blocks):
            for block in self.self_attends:
                z = run_block(self, block, z)
        query = self.decoder_query.expand(x.shape[0], -1, -1)  # (B, 1, D)
        return self.decoder_cross(query, z)[:, 0]

    def explain_input(self, x: Tensor, target: int | None, method: str) -> Relevance:
        """Which pixels (or conv-stem positions) the latents read, for one image x
        (1, C, H, W): rollout through the encoder and latent blocks, weighted by the
        decoder query's attention over the latents. A map (1, h, w). Class-agnostic."""
        with torch.no_grad(), record_attention() as records:
            logits = self(x)[0]
        (_, query), *records = records[::-1]  # the decoder's read of the latents comes last
        cross = id(self.encoder_cross.attn)
        steps = [
            ("cross" if id(layer) == cross else "self", p[0].mean(0)) for layer, p in records[::-1]
        ]
        N = self.config.num_latents
        M = steps[0][1].shape[-1]
        h = round(math.sqrt(M * x.shape[2] / x.shape[3]))  # the byte grid keeps the aspect
        if h * (M // h) != M:
            raise ValueError(f"cannot lay {M} bytes out on a grid of the image's aspect")
        read = query[0].mean(0)[0] @ latent_rollout(steps, N, M)[:, N:]  # (M,)
        return Relevance(logits, normalised(read.view(1, h, M // h)), "attention rollout")


IN1K = "ImageNet-1K val, 224 px, top-1 of the HF model card (the Perceiver IO paper, no extra data)"


def _hf(name: str) -> WeightsSpec:
    """deepmind's classifiers on the Hugging Face hub (their model cards link the paper)."""
    return WeightsSpec(
        tag="in1k",
        url=f"https://huggingface.co/deepmind/{name}/resolve/main/pytorch_model.bin",
        source=f"https://huggingface.co/deepmind/{name}",
        layout="perceiver_io_hf",
        license="Apache-2.0",
        data=DataSpec(224, "1x1x1", IMAGENET_MEAN, IMAGENET_STD, labels="imagenet1k"),
        num_classes=1000,
    )


def _perceiver_io(base: PerceiverIOConfig, overrides: dict) -> PerceiverIO:
    return PerceiverIO(apply_overrides(base, overrides))


@register_model(
    family="perceiver_io",
    base=True,
    weights=(reported(_hf("vision-perceiver-fourier"), 79.0, None, IN1K),),
)
def perceiver_io_imagenet_fourier(**overrides) -> PerceiverIO:
    """HF PerceiverForImageClassificationFourier: pixels + Fourier features (d_model 261)."""
    return _perceiver_io(PerceiverIOConfig(), overrides)


@register_model(
    family="perceiver_io", weights=(reported(_hf("vision-perceiver-learned"), 72.7, None, IN1K),)
)
def perceiver_io_imagenet_learned(**overrides) -> PerceiverIO:
    """HF PerceiverForImageClassificationLearned: 1x1 conv + learned positions (d_model 512)."""
    return _perceiver_io(PerceiverIOConfig(d_model=512, preprocessor="learned"), overrides)


@register_model(
    family="perceiver_io", weights=(reported(_hf("vision-perceiver-conv"), 82.1, None, IN1K),)
)
def perceiver_io_imagenet_conv(**overrides) -> PerceiverIO:
    """HF PerceiverForImageClassificationConvProcessing: conv + max pool stem (d_model 322)."""
    return _perceiver_io(PerceiverIOConfig(d_model=322, preprocessor="conv"), overrides)
