"""Swin Transformer (2D) and the windowed-attention blocks Video Swin reuses.

Paper: https://arxiv.org/abs/2103.14030 (Liu et al., ICCV 2021).

The block, stage and patch merging work for any number of spatial dims: features
are channels-last ``(B, *S, D)`` and windows are tuples, ``(Wh, Ww)`` here and
``(Wt, Wh, Ww)`` in ``video_swin.py``. Inside a block, as the official Video Swin:
norm1, zero-pad the end of each dim to a multiple of the window (padded tokens are
keys and values like any other, not masked), cyclic shift, window attention with a
relative-position bias (and the shift mask), reverse shift, crop, residual, MLP.

Swin 2D at the resolution it was built for matches the official code exactly: a
stage whose resolution is not larger than the window uses a window of that size,
no shift, and a bias table built for it. Other resolutions are accepted too (the
official code asserts the built size): the patch embedding and merging pad odd
sizes, each block pads to the window and clamps the window per dim as Video Swin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..layers import (
    Attention,
    DropPath,
    Mlp,
    PatchEmbedNd,
    Relevance,
    add_residual,
    drop_path_rates,
    effective_window,
    grad_cam,
    normalised,
    padded_size,
    relative_position_bias,
    window_layout,
)
from ..specs import IMAGENET_MEAN, IMAGENET_STD, DataSpec, WeightsSpec, reported
from .base import Classifier, init_weights, make_head, run_block
from .registry import apply_overrides, register_model


class WindowAttention(Attention):
    """Self-attention inside windows plus a learned relative-position bias per head."""

    def __init__(
        self,
        dim: int,
        window: tuple[int, ...],
        num_heads: int,
        qkv_bias: bool = True,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
    ) -> None:
        super().__init__(dim, num_heads, qkv_bias, attn_drop, proj_drop)
        self.window = tuple(window)
        rows = 1
        for w in self.window:
            rows *= 2 * w - 1
        self.relative_position_bias_table = nn.Parameter(torch.zeros(rows, num_heads))

    def forward(
        self, x: Tensor, groups: tuple[int, ...] | None = None, masks: Tensor | None = None
    ) -> Tensor:
        """x: (M, N, D), M windows in groups of ``groups`` windows (default: one group);
        masks: (G, N, N) additive shift mask of each group, or None. Returns (M, N, D).

        Each group attends with one (1, nH, N, N) bias (+ its mask) broadcast over its
        windows: 4-d tensors with a 4-d mask, which SDPA's fused CPU kernel takes (it
        refuses a 3-d mask and falls back to the math path; the ONNX exporter wants 4-d
        too)."""
        N = x.shape[1]
        bias = relative_position_bias(self.relative_position_bias_table, self.window, N)
        bias = bias.to(x.dtype)  # (nH, N, N)
        groups = groups or (x.shape[0],)
        # split, not sliced: a slice's gradient is a zero-filled (M, nH, N, hd) tensor per
        # group (Video Swin-T's first stage: 8 groups x q, k, v x 19 MB filled per step)
        qs, ks, vs = (t.split(groups) for t in self.heads(x))  # each (M, nH, N, hd)
        outs = []
        for g, (q, k, v) in enumerate(zip(qs, ks, vs)):
            mask = bias if masks is None else bias + masks[g].to(x.dtype)
            outs.append(self.attend(q, k, v, mask[None]))
        return self.output(outs[0] if len(outs) == 1 else torch.cat(outs))  # (M, N, D)

    def init_own_parameters(self, std: float) -> None:
        """The bias table starts trunc-normal, as the official init (see ``init_weights``)."""
        nn.init.trunc_normal_(self.relative_position_bias_table, std=std)


class SwinBlock(nn.Module):
    """(Shifted-)window attention block for channels-last features ``(B, *S, D)``."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        window: tuple[int, ...],
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        proj_drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window, num_heads, qkv_bias, attn_drop, proj_drop)
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=proj_drop)

    def forward(self, x: Tensor, window: tuple[int, ...], shift: tuple[int, ...]) -> Tensor:
        """x: (B, *S, D); window/shift: effective for S. Returns (B, *S, D)."""
        B, *S, D = x.shape
        padded = padded_size(tuple(S), window)
        y = self.norm1(x)
        pad = [0, 0]
        for s, p in zip(reversed(S), reversed(padded)):
            pad += [0, p - s]
        if any(pad):
            y = F.pad(y, pad)  # zeros after norm1, at the end of each dim
        # one gather does the cyclic shift and the partition (windows grouped by mask)
        layout = window_layout(padded, window, shift, x.device)
        rows = layout.rows(B)  # (B * L,)
        win = y.reshape(-1, D).index_select(0, rows).view(-1, math.prod(window), D)
        win = self.attn(win, tuple(B * n for n in layout.windows), layout.masks)
        y = win.new_empty(rows.shape[0], D).index_copy_(0, rows, win.flatten(0, 1))
        y = y.view(B, *padded, D)[(slice(None), *(slice(0, s) for s in S))]
        x = add_residual(x, y, self.drop_path)
        return add_residual(x, self.mlp(x, self.norm2), self.drop_path, self.mlp)


class PatchMerging(nn.Module):
    """2x2 spatial merging on ``(..., H, W, D)`` -> ``(..., ceil(H/2), ceil(W/2), 2D)``.

    Time (or any leading dim) goes through untouched. Odd H, W are zero-padded at the end.
    Channel order: (even h, even w), (odd h, even w), (even h, odd w), (odd h, odd w).
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(4 * dim)
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        H, W = x.shape[-3:-1]
        if H % 2 or W % 2:
            x = F.pad(x, (0, 0, 0, W % 2, 0, H % 2))
        x = torch.cat(
            [
                x[..., 0::2, 0::2, :],
                x[..., 1::2, 0::2, :],
                x[..., 0::2, 1::2, :],
                x[..., 1::2, 1::2, :],
            ],
            dim=-1,
        )
        return self.reduction(self.norm(x))


class SwinStage(nn.Module):
    """Blocks alternating unshifted and shifted windows, then an optional PatchMerging."""

    def __init__(
        self,
        dim: int,
        depth: int,
        num_heads: int,
        window: tuple[int, ...],
        shift: tuple[int, ...],
        mlp_ratio: float,
        qkv_bias: bool,
        proj_drop: float,
        attn_drop: float,
        drop_path: list[float],
        downsample: bool,
    ) -> None:
        super().__init__()
        self.window, self.shift = tuple(window), tuple(shift)
        self.blocks = nn.ModuleList(
            SwinBlock(
                dim, num_heads, self.window, mlp_ratio, qkv_bias, proj_drop, attn_drop, drop_path[i]
            )
            for i in range(depth)
        )
        self.downsample = PatchMerging(dim) if downsample else None
        self.grad_checkpointing = False

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, *S, D) -> (B, *S, D) (before merging; call ``downsample`` after)."""
        S = tuple(x.shape[1:-1])
        window, shift = effective_window(S, self.window, self.shift)
        no_shift = (0,) * len(S)
        for i, blk in enumerate(self.blocks):
            x = run_block(self, blk, x, window, shift if i % 2 else no_shift)
        return x


class SwinBackbone(Classifier):
    """What Swin and Video Swin share: stages, final norm, pooling, freezing, intermediates.

    Subclasses build ``patch_embed``, ``layers`` (SwinStage), ``norm`` and ``head``.
    A stage counts as one layer for layer-wise lr decay.
    """

    stem = ("patch_embed", "absolute_pos_embed")
    block_lists = ("layers",)
    block_types = (SwinBlock,)
    relevance_methods = ("grad_cam",)

    def no_weight_decay(self) -> set[str]:
        """Embeddings and the relative-position bias tables."""
        tables = {
            n for n, _ in self.named_parameters() if n.endswith(".relative_position_bias_table")
        }
        return super().no_weight_decay() | tables

    def _build_stages(
        self, c, windows: list[tuple[int, ...]], shifts: list[tuple[int, ...]]
    ) -> None:
        rates = drop_path_rates(c.drop_path_rate, sum(c.depths))
        self.layers = nn.ModuleList()
        for i, depth in enumerate(c.depths):
            start = sum(c.depths[:i])
            self.layers.append(
                SwinStage(
                    c.embed_dim * 2**i,
                    depth,
                    c.num_heads[i],
                    windows[i],
                    shifts[i],
                    c.mlp_ratio,
                    c.qkv_bias,
                    c.drop_rate,
                    c.attn_drop_rate,
                    rates[start : start + depth],
                    downsample=i < len(c.depths) - 1,
                )
            )
        self.num_features = c.embed_dim * 2 ** (len(c.depths) - 1)
        self.norm = nn.LayerNorm(self.num_features)
        self.pos_drop = nn.Dropout(c.drop_rate)

    def embed(self, x: Tensor) -> Tensor:
        """Input -> channels-last tokens (B, *S, D)."""
        raise NotImplementedError

    def forward_intermediates(self, x: Tensor) -> list[Tensor]:
        """Each stage's output before merging, channels-first ``(B, C_i, *S_i)``; the last
        one after the final norm (what ``forward_features`` pools)."""
        x = self.embed(x)
        outs = []
        for layer in self.layers:
            x = layer(x)
            outs.append(x)
            if layer.downsample is not None:
                x = layer.downsample(x)
        outs[-1] = self.norm(outs[-1])
        return [o.movedim(-1, 1) for o in outs]

    def forward_features(self, x: Tensor) -> Tensor:
        """Input -> pooled features (B, D): final norm, then the mean over all positions."""
        x = self.embed(x)
        for layer in self.layers:
            x = layer(x)
            if layer.downsample is not None:
                x = layer.downsample(x)
        return self.norm(x).flatten(1, -2).mean(1)

    def forward_head(self, features: Tensor) -> Tensor:
        return self.head(self.head_drop(features))

    def explain_input(self, x: Tensor, target: int | None, method: str) -> Relevance:
        """Grad-CAM of the last stage for one input x (1, C, H, W) or (1, C, T, H, W) and
        class ``target`` (default: the predicted one): a map (1, h, w) or (T', h, w) on the
        last stage's grid. (Attention rollout is not defined across shifted windows.)"""
        stage: dict[str, Tensor] = {}

        def keep(module, inputs, output):  # a leaf that needs grad when the weights do not
            output = output if output.requires_grad else output.detach().requires_grad_()
            stage["out"] = output
            return output

        handle = self.layers[-1].register_forward_hook(keep)
        try:
            with torch.enable_grad():
                logits = self(x)[0]
                target = int(logits.argmax()) if target is None else target
                (grad,) = torch.autograd.grad(logits[target], stage["out"])
        finally:
            handle.remove()
        cam = grad_cam(stage["out"][0].detach(), grad[0])  # (*S)
        cam = cam if cam.ndim == 3 else cam[None]
        return Relevance(logits.detach(), normalised(cam), f"Grad-CAM of stage {len(self.layers)}")

    def _frozen_modules(self) -> list[nn.Module]:
        n = self.config.frozen_stages
        if n < 0:
            return []
        return [self.patch_embed, *self.layers[:n]]

    def train(self, mode: bool = True):
        """Frozen stages (``frozen_stages``) stay in eval mode and without gradients."""
        super().train(mode)
        for m in self._frozen_modules():
            m.eval()
            for p in m.parameters():
                p.requires_grad_(False)
        return self


def swin_2d_windows(
    grid: tuple[int, int], window_size: int, num_stages: int
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The official 2D rule per stage: a stage no larger than the window (its short side)
    takes a square window of that side and no shift; otherwise ``window_size`` shifted by
    half. Stage i has ``ceil(grid / 2**i)`` tokens per side (merging pads odd sizes)."""
    windows, shifts = [], []
    for i in range(num_stages):
        side = min(-(-g // 2**i) for g in grid)
        w = min(window_size, side)
        windows.append((w, w))
        shifts.append((0, 0) if side <= window_size else (w // 2, w // 2))
    return windows, shifts


@dataclass(frozen=True)
class SwinConfig:
    img_size: int = 224
    patch_size: int = 4
    in_chans: int = 3
    num_classes: int = 1000
    embed_dim: int = 96
    depths: tuple[int, ...] = (2, 2, 6, 2)
    num_heads: tuple[int, ...] = (3, 6, 12, 24)
    window_size: int = 7
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    drop_rate: float = 0.0
    attn_drop_rate: float = 0.0
    drop_path_rate: float = 0.1
    ape: bool = False
    patch_norm: bool = True
    frozen_stages: int = -1

    def __post_init__(self) -> None:
        if len(self.depths) != len(self.num_heads):
            raise ValueError(
                f"depths {self.depths} and num_heads {self.num_heads} differ in length"
            )


class Swin(SwinBackbone):
    """Swin Transformer image classifier. Input ``(B, C, H, W)``, logits ``(B, num_classes)``."""

    family: ClassVar[str] = "swin"
    embeddings = ("absolute_pos_embed",)

    def __init__(self, config: SwinConfig) -> None:
        super().__init__()
        c = self.config = config
        self.patch_embed = PatchEmbedNd((c.patch_size,) * 2, c.in_chans, c.embed_dim, c.patch_norm)
        grid = -(-c.img_size // c.patch_size)
        if c.ape:
            self.absolute_pos_embed = nn.Parameter(torch.zeros(1, grid * grid, c.embed_dim))
        self._build_stages(c, *swin_2d_windows((grid, grid), c.window_size, len(c.depths)))
        self._checked_grids: set[tuple[int, int]] = {(grid, grid)}
        self.head_drop = nn.Identity()
        self.head = make_head(self.num_features, c.num_classes)
        init_weights(self)
        if c.ape:
            nn.init.trunc_normal_(self.absolute_pos_embed, std=0.02)
        self.train()

    @property
    def input_shape(self) -> tuple[int, int, int]:
        c = self.config
        return (c.in_chans, c.img_size, c.img_size)

    def _check_grid(self, grid: tuple[int, int], image: tuple[int, int]) -> None:
        """Other input sizes run only where every stage keeps the window and shift the model
        was built with, so they compute exactly what a model built at that size computes;
        elsewhere the official rule would pick other windows (and bias tables resampled for
        them), which only a model built at that size has."""
        if grid in self._checked_grids:
            return
        windows, shifts = swin_2d_windows(grid, self.config.window_size, len(self.layers))
        changed = [
            f"stage {i}: window {w} shift {s} (built {layer.window} shift {layer.shift})"
            for i, (w, s, layer) in enumerate(zip(windows, shifts, self.layers))
            if (w, s) != (layer.window, layer.shift)
        ]
        if changed:
            c = self.config
            raise ValueError(
                f"Swin built for {c.img_size}x{c.img_size} inputs got {image[0]}x{image[1]}, whose "
                f"stages need other windows ({'; '.join(changed)}); build the model at that size "
                f"(square img_size; create_model(..., img_size=N, pretrained=...) resamples the "
                f"bias tables as the official loader does)"
            )
        self._checked_grids.add(grid)

    def default_data_config(self) -> DataSpec:
        return DataSpec(
            self.config.img_size, "1x1x1", IMAGENET_MEAN, IMAGENET_STD, labels="imagenet1k"
        )

    def embed(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != self.config.in_chans:
            raise ValueError(
                f"Swin expects (B, {self.config.in_chans}, H, W) images, got {tuple(x.shape)}"
            )
        image = tuple(x.shape[-2:])
        x = self.patch_embed(x)  # (B, H', W', D)
        self._check_grid(tuple(x.shape[1:3]), image)
        if self.config.ape:
            B, H, W, D = x.shape
            if H * W != self.absolute_pos_embed.shape[1]:
                raise ValueError(
                    f"ape=True needs img_size {self.config.img_size}, got {tuple(x.shape)}"
                )
            x = x + self.absolute_pos_embed.view(1, H, W, D)
        return self.pos_drop(x)


def _swin(base: SwinConfig, overrides: dict) -> Swin:
    return Swin(apply_overrides(base, overrides))


MODELHUB = "https://github.com/microsoft/Swin-Transformer/blob/main/MODELHUB.md"
RELEASES = "https://github.com/SwinTransformer/storage/releases/download"
IN1K = "ImageNet-1K val, 224 px, top-1/top-5 of MODELHUB.md"
IN1K_FT = "ImageNet-1K val after the 22K-to-1K fine-tune, 224 px, top-1/top-5 of MODELHUB.md"


def _swin_weights(tag: str, path: str) -> WeightsSpec:
    """microsoft/Swin-Transformer's release files, as MODELHUB.md links them
    (``in22k``: the ImageNet-22K classifier, 21,841 classes)."""
    classes = 21841 if tag == "in22k" else 1000
    return WeightsSpec(
        tag=tag,
        url=f"{RELEASES}/{path}",
        source=MODELHUB,
        layout="swin_official",
        license="MIT",
        data=DataSpec(
            224,
            "1x1x1",
            IMAGENET_MEAN,
            IMAGENET_STD,
            labels="imagenet1k" if classes == 1000 else "",
            test_short_side=256,
        ),
        num_classes=classes,
        config={"num_classes": classes},
    )


@register_model(
    family="swin",
    base=True,
    weights=(
        reported(
            _swin_weights("in1k", "v1.0.0/swin_tiny_patch4_window7_224.pth"), 81.2, 95.5, IN1K
        ),
        reported(
            _swin_weights(
                "in22k_ft_in1k", "v1.0.8/swin_tiny_patch4_window7_224_22kto1k_finetune.pth"
            ),
            80.9,
            96.0,
            IN1K_FT,
        ),
        _swin_weights("in22k", "v1.0.8/swin_tiny_patch4_window7_224_22k.pth"),
    ),
)
def swin_tiny(**overrides) -> Swin:
    """Swin-T: 96, depths (2, 2, 6, 2), 224 px, window 7."""
    return _swin(SwinConfig(drop_path_rate=0.2), overrides)


@register_model(
    family="swin",
    weights=(
        reported(
            _swin_weights("in1k", "v1.0.0/swin_small_patch4_window7_224.pth"), 83.2, 96.2, IN1K
        ),
        reported(
            _swin_weights(
                "in22k_ft_in1k", "v1.0.8/swin_small_patch4_window7_224_22kto1k_finetune.pth"
            ),
            83.2,
            97.0,
            IN1K_FT,
        ),
        _swin_weights("in22k", "v1.0.8/swin_small_patch4_window7_224_22k.pth"),
    ),
)
def swin_small(**overrides) -> Swin:
    """Swin-S: 96, depths (2, 2, 18, 2)."""
    return _swin(SwinConfig(depths=(2, 2, 18, 2), drop_path_rate=0.3), overrides)


@register_model(
    family="swin",
    weights=(
        reported(
            _swin_weights("in22k_ft_in1k", "v1.0.0/swin_base_patch4_window7_224_22kto1k.pth"),
            85.2,
            97.5,
            IN1K_FT,
        ),
        reported(
            _swin_weights("in1k", "v1.0.0/swin_base_patch4_window7_224.pth"), 83.5, 96.5, IN1K
        ),
        _swin_weights("in22k", "v1.0.0/swin_base_patch4_window7_224_22k.pth"),
    ),
)
def swin_base(**overrides) -> Swin:
    """Swin-B: 128, depths (2, 2, 18, 2), heads (4, 8, 16, 32)."""
    config = SwinConfig(
        embed_dim=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32), drop_path_rate=0.5
    )
    return _swin(config, overrides)


@register_model(
    family="swin",
    weights=(
        reported(
            _swin_weights("in22k_ft_in1k", "v1.0.0/swin_large_patch4_window7_224_22kto1k.pth"),
            86.3,
            97.9,
            IN1K_FT,
        ),
        _swin_weights("in22k", "v1.0.0/swin_large_patch4_window7_224_22k.pth"),
    ),
)
def swin_large(**overrides) -> Swin:
    """Swin-L: 192, depths (2, 2, 18, 2), heads (6, 12, 24, 48)."""
    config = SwinConfig(
        embed_dim=192, depths=(2, 2, 18, 2), num_heads=(6, 12, 24, 48), drop_path_rate=0.2
    )
    return _swin(config, overrides)
