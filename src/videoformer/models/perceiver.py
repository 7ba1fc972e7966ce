"""Perceiver: a small latent array cross-attends to a large byte array, then a latent
transformer; iterative, with weight sharing.

Paper: https://arxiv.org/abs/2103.03206 (Jaegle et al., ICML 2021).

One model class serves images ``(B, C, H, W)``, video ``(B, C, T, H, W)``, raw audio
``(B, S)``, any ``(B, M, C)`` array, or several of them at once (a dict): each input is
a ``ByteArray`` spec naming its layout and positional axes. An input is cut into
patches along its positional axes (1 = per pixel/sample), flattened to ``(B, M, C_m)``
and concatenated with Fourier position features over those axes. Several inputs are
padded to one width with a learned per-modality embedding and concatenated along M.

Cost: the cross-attention is O(M N) and never forms an M x M tensor; the latent
transformer is O(N^2) whatever M is. With ``share_cross_weights`` the cross-attends
2..R use one set of weights, so their keys and values of the byte array are the same:
``cache_cross_kv`` computes them once (the paper's FLOP count recomputes them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import ClassVar

import torch
from torch import Tensor, nn

from ..layers import (
    Mlp,
    Relevance,
    add_residual,
    dot_product_attention,
    fourier_channels,
    grid_fourier_features,
    latent_rollout,
    merge_heads,
    normalised,
    record_attention,
    split_heads,
)
from ..specs import IMAGENET_MEAN, IMAGENET_STD, DataSpec
from .base import Classifier, init_weights, make_head, run_block
from .registry import apply_overrides, register_model


class PerceiverAttention(nn.Module):
    """Multi-head attention with separate ``q``, ``k``, ``v`` Linears of any widths.

    Args:
        q_dim, kv_dim: widths of the query and key/value inputs.
        qk_channels, v_channels: widths of q/k and of v (split over ``num_heads``).
        out_dim: width of the output projection ``proj``.
    """

    def __init__(
        self,
        q_dim: int,
        kv_dim: int,
        qk_channels: int,
        v_channels: int,
        out_dim: int,
        num_heads: int,
    ) -> None:
        super().__init__()
        for name, width in (("qk_channels", qk_channels), ("v_channels", v_channels)):
            if width % num_heads:
                raise ValueError(f"{name} {width} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.q = nn.Linear(q_dim, qk_channels)
        self.k = nn.Linear(kv_dim, qk_channels)
        self.v = nn.Linear(kv_dim, v_channels)
        self.proj = nn.Linear(v_channels, out_dim)

    def project_kv(self, kv: Tensor) -> tuple[Tensor, Tensor]:
        """kv: (B, M, kv_dim) -> keys (B, nH, M, hd_qk), values (B, nH, M, hd_v)."""
        return split_heads(self.k(kv), self.num_heads), split_heads(self.v(kv), self.num_heads)

    def forward(self, q: Tensor, kv: tuple[Tensor, Tensor]) -> Tensor:
        """q: (B, N, q_dim); kv: projected keys/values -> (B, N, out_dim)."""
        k, v = kv
        q = split_heads(self.q(q), self.num_heads)  # (B, nH, N, hd_qk)
        out = dot_product_attention(q, k, v, owner=self)  # (B, nH, N, hd_v)
        return self.proj(merge_heads(out))


class PerceiverBlock(nn.Module):
    """Pre-norm attention + MLP on queries ``x``; cross-attention when ``kv_dim`` is given.

    ``norm_q`` normalises the queries, ``norm_kv`` (cross only) the byte array; the
    attention output gets the query residual, then LayerNorm -> MLP -> residual.
    """

    def __init__(
        self,
        q_dim: int,
        num_heads: int,
        kv_dim: int | None = None,
        qk_channels: int | None = None,
        v_channels: int | None = None,
        mlp_ratio: float = 1.0,
        query_residual: bool = True,
    ) -> None:
        super().__init__()
        cross = kv_dim is not None
        qk_channels = qk_channels or (kv_dim if cross else q_dim)
        v_channels = v_channels or qk_channels
        self.query_residual = query_residual
        self.norm_q = nn.LayerNorm(q_dim)
        self.norm_kv = nn.LayerNorm(kv_dim) if cross else None
        self.attn = PerceiverAttention(
            q_dim, kv_dim or q_dim, qk_channels, v_channels, q_dim, num_heads
        )
        self.norm_mlp = nn.LayerNorm(q_dim)
        self.mlp = Mlp(q_dim, int(q_dim * mlp_ratio))

    def project_kv(self, byte_array: Tensor) -> tuple[Tensor, Tensor]:
        """Normalised, projected keys and values of a byte array (reusable across calls)."""
        return self.attn.project_kv(self.norm_kv(byte_array))

    def forward(
        self, x: Tensor, byte_array: Tensor | None = None, kv: tuple[Tensor, Tensor] | None = None
    ) -> Tensor:
        """x: (B, N, q_dim); byte_array: (B, M, kv_dim) for cross-attention, or its ``kv``."""
        q = self.norm_q(x)
        if kv is None:
            kv = (
                self.project_kv(byte_array) if self.norm_kv is not None else self.attn.project_kv(q)
            )
        out = self.attn(q, kv)
        if self.query_residual:
            out = add_residual(x, out, producer=self.attn)
        return add_residual(out, self.mlp(out, self.norm_mlp), producer=self.mlp)


LAYOUTS = ("BCS", "BSC", "BS")


@dataclass(frozen=True)
class ByteArray:
    """One input of a Perceiver and how it becomes a byte array.

    Attributes:
        name: key of this input when the model takes a dict.
        layout: ``"BCS"`` channels first ``(B, C, *S)`` (images, video); ``"BSC"`` channels
            last ``(B, *S, C)`` (e.g. a ``(B, M, C)`` array); ``"BS"`` no channel axis
            ``(B, *S)`` (raw audio, one channel).
        channels: C (1 for ``"BS"``).
        patch_size: patch length per positional axis; its length is the number of axes.
        num_bands: Fourier frequency bands per axis.
        max_resolution: per axis, the positions (after patching) the highest band resolves.
    """

    name: str = "image"
    layout: str = "BCS"
    channels: int = 3
    patch_size: tuple[int, ...] = (1, 1)
    num_bands: int = 64
    max_resolution: tuple[int, ...] = (224, 224)

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout {self.layout!r} is not one of {LAYOUTS}")
        if len(self.max_resolution) != len(self.patch_size):
            raise ValueError(
                f"{self.name}: patch_size {self.patch_size} and max_resolution "
                f"{self.max_resolution} differ in length"
            )

    @property
    def num_axes(self) -> int:
        return len(self.patch_size)

    @property
    def width(self) -> int:
        """Channels of the byte array: patch values plus Fourier features."""
        return self.channels * math.prod(self.patch_size) + fourier_channels(
            self.num_axes, self.num_bands
        )

    def to_bytes(self, x: Tensor) -> Tensor:
        """This input -> (B, M, width): patches flattened row-major, then Fourier features."""
        expected = {"BCS": 2 + self.num_axes, "BSC": 2 + self.num_axes, "BS": 1 + self.num_axes}[
            self.layout
        ]
        if x.ndim != expected:
            raise ValueError(
                f"input {self.name!r} ({self.layout}, {self.num_axes} positional axes) needs "
                f"{expected} dims, got {tuple(x.shape)}"
            )
        if self.layout == "BS":
            x = x.unsqueeze(1)
        elif self.layout == "BSC":
            x = x.movedim(-1, 1)
        B, C, *S = x.shape
        if C != self.channels:
            raise ValueError(
                f"input {self.name!r} has {C} channels, expected {self.channels} (shape "
                f"{tuple(x.shape)})"
            )
        for s, p in zip(S, self.patch_size):
            if s % p:
                raise ValueError(
                    f"input {self.name!r} size {tuple(S)} is not a multiple of patch_size "
                    f"{self.patch_size}"
                )
        grid = tuple(s // p for s, p in zip(S, self.patch_size))
        n = self.num_axes
        x = x.reshape(B, C, *[v for g, p in zip(grid, self.patch_size) for v in (g, p)])
        # (B, C, g1, p1, g2, p2, ...) -> (B, g1, g2, ..., p1, p2, ..., C)
        x = x.permute(0, *range(2, 2 + 2 * n, 2), *range(3, 3 + 2 * n, 2), 1).reshape(
            B, math.prod(grid), -1
        )
        pos = grid_fourier_features(grid, self.num_bands, tuple(self.max_resolution), x.device).to(
            x.dtype
        )
        return torch.cat([x, pos.expand(B, -1, -1)], dim=-1)


@dataclass(frozen=True)
class PerceiverConfig:
    inputs: tuple[ByteArray, ...] = (ByteArray(),)
    num_latents: int = 512
    latent_dim: int = 1024
    num_cross_attends: int = 8
    latent_blocks_per_cross_attend: int = 6
    cross_heads: int = 1
    latent_heads: int = 8
    cross_qk_channels: int | None = None  # None: the byte array's width (as the paper)
    cross_v_channels: int | None = None  # None: cross_qk_channels
    mlp_ratio: float = 1.0  # MLP widening, everywhere
    share_cross_weights: bool = True  # cross-attends 2..R share one set (the first is separate)
    share_latent_weights: bool = True  # the latent blocks are the same at every repeat
    min_modality_padding: int = 4  # with several inputs: at least this many learned channels each
    num_classes: int = 1000
    multi_label: bool = False  # sigmoid/BCE (AudioSet) rather than softmax; the logits are the same
    cache_cross_kv: bool = True
    num_frames: int = 0  # informative only (input_shape of video variants)

    def __post_init__(self) -> None:
        names = [spec.name for spec in self.inputs]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"inputs need distinct names, got {names}")

    @property
    def byte_width(self) -> int:
        widths = [spec.width for spec in self.inputs]
        if len(widths) == 1:
            return widths[0]
        return max(widths) + self.min_modality_padding


class Perceiver(Classifier):
    """The paper's Perceiver classifier: mean of the final latents -> Linear.

    Input: a tensor for a single ``ByteArray`` spec, else a dict ``{name: tensor}``.
    """

    family: ClassVar[str] = "perceiver"
    embeddings = ("latents", "modality_embed")
    stem = embeddings
    block_lists = (
        "cross_attends",
        "latent_stacks",
    )  # layer i + 1: cross-attend i and its latent blocks
    block_types = (PerceiverBlock,)
    relevance_methods = ("rollout",)

    def __init__(self, config: PerceiverConfig) -> None:
        super().__init__()
        c = self.config = config
        C, D, R = c.byte_width, c.latent_dim, c.num_cross_attends
        if len(c.inputs) > 1:
            self.modality_embed = nn.ParameterDict(
                {spec.name: nn.Parameter(torch.zeros(C - spec.width)) for spec in c.inputs}
            )
        self.latents = nn.Parameter(torch.zeros(c.num_latents, D))

        def cross() -> PerceiverBlock:
            return PerceiverBlock(
                D, c.cross_heads, C, c.cross_qk_channels, c.cross_v_channels, c.mlp_ratio
            )

        def latent_stack() -> nn.ModuleList:
            return nn.ModuleList(
                PerceiverBlock(D, c.latent_heads, mlp_ratio=c.mlp_ratio)
                for _ in range(c.latent_blocks_per_cross_attend)
            )

        n_cross = min(R, 2) if c.share_cross_weights else R
        self.cross_attends = nn.ModuleList(cross() for _ in range(n_cross))
        self.latent_stacks = nn.ModuleList(
            latent_stack() for _ in range(1 if c.share_latent_weights else R)
        )
        self.num_features = D
        self.head = make_head(D, c.num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        nn.init.trunc_normal_(self.latents, std=0.02)
        init_weights(self)
        if hasattr(self, "modality_embed"):
            for p in self.modality_embed.values():
                nn.init.trunc_normal_(p, std=0.02)

    @property
    def multi_label(self) -> bool:
        return self.config.multi_label

    @property
    def input_shape(self) -> tuple[int, ...] | dict[str, tuple[int, ...]]:
        """Default per-sample input: the shape whose patch grid is ``max_resolution``
        (a dict of shapes for several inputs)."""
        if len(self.config.inputs) > 1:
            return {s.name: _default_shape(s) for s in self.config.inputs}
        return _default_shape(self.config.inputs[0])

    def default_data_config(self) -> DataSpec:
        """ImageNet normalisation for the first image or video input (``"BCS"``, 2 or 3
        axes) at its default shape; video clips take consecutive frames."""
        visual = [s for s in self.config.inputs if s.layout == "BCS" and s.num_axes in (2, 3)]
        if not visual:
            raise ValueError(
                "this Perceiver has no image or video input: "
                f"{[s.name for s in self.config.inputs]}"
            )
        _, *S = _default_shape(visual[0])
        frames = S[0] if len(S) == 3 else 1
        labels = "imagenet1k" if frames == 1 and self.config.num_classes == 1000 else ""
        audio = any(s.name == "audio" and s.layout == "BS" for s in self.config.inputs)
        return DataSpec(
            S[-1],
            f"{frames}x1x1",
            IMAGENET_MEAN,
            IMAGENET_STD,
            labels=labels,
            audio_rate=48_000 if audio else 0,  # the paper's AudioSet audio
            aggregate="mean_sigmoid" if self.config.multi_label else "",
        )

    def byte_array(self, x: Tensor | dict[str, Tensor]) -> Tensor:
        """Inputs -> (B, M, C) byte array."""
        specs = self.config.inputs
        if len(specs) == 1:
            if isinstance(x, dict):
                x = x[specs[0].name]
            return specs[0].to_bytes(x)
        if not isinstance(x, dict) or set(x) != {s.name for s in specs}:
            got = sorted(x) if isinstance(x, dict) else type(x).__name__
            raise ValueError(
                f"this Perceiver takes a dict with keys {[s.name for s in specs]}, got {got}"
            )
        parts = []
        for spec in specs:
            b = spec.to_bytes(x[spec.name])
            pad = self.modality_embed[spec.name].to(b.dtype).expand(*b.shape[:2], -1)
            parts.append(torch.cat([b, pad], dim=-1))
        return torch.cat(parts, dim=1)

    def cross_attend(self, i: int) -> PerceiverBlock:
        return self.cross_attends[min(i, len(self.cross_attends) - 1)]

    def forward_features(self, x: Tensor | dict[str, Tensor]) -> Tensor:
        """Inputs -> mean of the final latents (B, D)."""
        byte_array = self.byte_array(x)  # (B, M, C)
        z = self.latents.expand(byte_array.shape[0], -1, -1)  # (B, N, D)
        cached: tuple[Tensor, Tensor] | None = None
        for i in range(self.config.num_cross_attends):
            block = self.cross_attend(i)
            if self.config.cache_cross_kv and i >= 1 and self.config.share_cross_weights:
                cached = cached or block.project_kv(
                    byte_array
                )  # the same keys/values at every shared repeat
                z = run_block(self, block, z, kv=cached)
            else:
                z = run_block(self, block, z, byte_array)
            for latent in self.latent_stacks[0 if self.config.share_latent_weights else i]:
                z = run_block(self, latent, z)
        return z.mean(1)

    def explain_input(self, x: Tensor, target: int | None, method: str) -> Relevance:
        """Which input positions the latents read, for one image or clip x (1, C, *S):
        rollout through every cross-attend and latent block, then the mean over the
        latents (the classifier pools them so). A map on the patch grid, (T', h, w) or
        (1, h, w) for images. Class-agnostic (``target`` is unused)."""
        spec = self.config.inputs[0]
        if len(self.config.inputs) > 1 or spec.layout != "BCS" or spec.num_axes not in (2, 3):
            raise ValueError("relevance maps cover one image or video input")
        with torch.no_grad(), record_attention() as records:
            logits = self(x)[0]
        cross = {id(block.attn) for block in self.cross_attends}
        steps = [("cross" if id(layer) in cross else "self", p[0].mean(0)) for layer, p in records]
        grid = [s // p for s, p in zip(x.shape[2:], spec.patch_size)]
        N, M = self.config.num_latents, math.prod(grid)
        read = latent_rollout(steps, N, M)[:, N:].mean(0)  # (M,), row-major over the grid
        return Relevance(logits, normalised(read.view(-1, *grid[-2:])), "attention rollout")


def _default_shape(spec: ByteArray) -> tuple[int, ...]:
    S = tuple(r * p for r, p in zip(spec.max_resolution, spec.patch_size))
    return {"BCS": (spec.channels, *S), "BSC": (*S, spec.channels), "BS": S}[spec.layout]


def _perceiver(base: PerceiverConfig, overrides: dict) -> Perceiver:
    return Perceiver(apply_overrides(base, overrides))


VIDEO = ByteArray(
    "video", "BCS", 3, patch_size=(2, 8, 8), num_bands=32, max_resolution=(16, 28, 28)
)
AUDIO = ByteArray("audio", "BS", 1, patch_size=(128,), num_bands=64, max_resolution=(480,))
# AudioSet: 2 cross-attends of 8 latent blocks, no sharing, 527 multi-label classes
AUDIOSET = PerceiverConfig(
    inputs=(VIDEO,),
    num_cross_attends=2,
    latent_blocks_per_cross_attend=8,
    share_cross_weights=False,
    share_latent_weights=False,
    num_classes=527,
    multi_label=True,
    num_frames=32,
)


@register_model(family="perceiver", base=True)
def perceiver_imagenet(**overrides) -> Perceiver:
    """The paper's ImageNet model: 224 px pixels + 64 Fourier bands (261 channels), 512 x 1024
    latents, 8 cross-attends (2..8 shared) each followed by 6 shared latent blocks."""
    return _perceiver(PerceiverConfig(), overrides)


@register_model(family="perceiver")
def perceiver_video(**overrides) -> Perceiver:
    """AudioSet-style video: 32 x 224 x 224 clips in 2x8x8 patches (16 x 28 x 28 = 12,544),
    32 Fourier bands over (t, h, w); 2 cross-attends of 8 latent blocks, no sharing;
    527 multi-label classes."""
    return _perceiver(AUDIOSET, overrides)


@register_model(family="perceiver")
def perceiver_audiovisual(**overrides) -> Perceiver:
    """AudioSet audio + video: the video input above and 61,440 raw samples (1.28 s at 48 kHz)
    in 480 patches of 128 with 64 Fourier bands, padded to one width by learned modality
    embeddings and concatenated; 2 cross-attends of 8 latent blocks, no sharing; 527 labels."""
    return _perceiver(replace(AUDIOSET, inputs=(VIDEO, AUDIO)), overrides)
