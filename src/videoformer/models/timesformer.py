"""TimeSformer: divided space-time attention and the paper's ablation variants.

Paper: https://arxiv.org/abs/2102.05095 (Bertasius, Wang, Torresani, ICML 2021).

Every attention type is one block class. A block runs a few *steps*; a step
regroups the video's tokens into independent sequences and attends within each:

    time    b (h w t) d -> (b h w) t d      per patch location, over frames
    space   b (h w t) d -> (b t) (h w) d    per frame, over patches
    ...

All steps but the last attend over patch tokens only and are followed by their
own linear layer (``temporal_fc`` in the official code), run as one product with the
attention's output projection (``layers/folded_linears.py``). The last step prepends
the block's input cls token to every group and averages the cls outputs over the
groups, as the official divided block does. Tokens are laid out (h, w, t) with
time fastest, as in the official code, so official weights load unchanged.

| attention_type        | steps (last one carries cls)                    |
|-----------------------|-------------------------------------------------|
| divided_space_time    | temporal: time; space                           |
| sparse_local_global   | local: F x H/2 x W/2 blocks; global: stride 2   |
| axial                 | temporal: time; width: rows; height: columns    |
| joint_space_time      | one group of all tokens (a plain ViT)           |
| space_only            | one group per frame, one cls per frame          |

Each extra step's parameters are named after the step, so a block's state-dict names
per attention type are (besides ``norm2`` and ``mlp``; tests/models/test_timesformer.py
checks them, and the official keys for the first three):

| attention_type        | block parameters                                               |
|-----------------------|----------------------------------------------------------------|
| divided_space_time    | temporal_norm1, temporal_attn, temporal_fc, norm1, attn        |
| joint_space_time      | norm1, attn                                                    |
| space_only            | norm1, attn                                                    |
| sparse_local_global   | local_norm1, local_attn, local_fc, norm1, attn                 |
| axial                 | temporal_norm1, temporal_attn, temporal_fc, width_norm1,       |
|                       | width_attn, width_fc, norm1, attn                              |

The paper leaves the sparse and axial details open. We read "local" as the four
non-overlapping F x H/2 x W/2 blocks and "global" as the eight sets of tokens with
equal (t, h, w) mod 2 (so T and the patch grid must be even), each extra step with
its own norm, attention and linear layer. That gives the paper's Table 1 sizes
(121.4M and 156.8M within 0.5%).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
from einops import rearrange
from torch import Tensor, nn

from ..layers import (
    Attention,
    AttentionGraph,
    DropPath,
    Mlp,
    PatchEmbedNd,
    Relevance,
    add_residual,
    drop_path_rates,
    folded_linears,
    grouped_rollout,
    merge_heads,
    resample_pos_embed,
    resample_time_embed,
    sincos_2d,
)
from ..specs import KINETICS_MEAN, KINETICS_STD, DataSpec, WeightsSpec, reported
from .base import Classifier, init_weights, make_head, run_block
from .registry import apply_overrides, register_model

ATTENTION_TYPES = (
    "divided_space_time",
    "space_only",
    "joint_space_time",
    "sparse_local_global",
    "axial",
)


@dataclass(frozen=True)
class Grouping:
    """A regrouping of a video's patch tokens ``(B, h*w*t, D)`` into ``(B*G, L, D)`` sequences.

    ``pattern`` is an einops pattern whose axes ``t, h, w`` are the sizes *inside* a
    group; ``halves`` names the grid dims split into 2 (blocks or strides), whose halves
    are the axes ``t2, h2, w2``.
    """

    pattern: str
    halves: tuple[str, ...] = ()  # grid dims ("t", "h", "w") split into two

    def _sizes(self, T: int, H: int, W: int) -> dict[str, int]:
        sizes = {"t": T, "h": H, "w": W}
        for dim in self.halves:
            if sizes[dim] % 2:
                raise ValueError(
                    "this attention splits "
                    f"{dict(t='frames', h='patch rows', w='patch columns')[dim]} "
                    f"in two, but the clip has {sizes[dim]} (an even number is needed)"
                )
            sizes[dim] //= 2
            sizes[dim + "2"] = 2
        lhs = self.pattern.split("->")[0]
        return {
            k: v for k, v in sizes.items() if k in lhs.replace("(", " ").replace(")", " ").split()
        }

    def split(self, x: Tensor, T: int, H: int, W: int) -> Tensor:
        """(B, h*w*t, D) -> (B*G, L, D)."""
        return rearrange(x, self.pattern, **self._sizes(T, H, W))

    def merge(self, x: Tensor, T: int, H: int, W: int) -> Tensor:
        """(B*G, L, D) -> (B, h*w*t, D), the inverse of ``split``."""
        lhs, rhs = self.pattern.split("->")
        return rearrange(x, f"{rhs} -> {lhs}", **self._sizes(T, H, W))


GROUPINGS = {
    "time": Grouping("b (h w t) d -> (b h w) t d"),
    "space": Grouping("b (h w t) d -> (b t) (h w) d"),
    "width": Grouping("b (h w t) d -> (b h t) w d"),
    "height": Grouping("b (h w t) d -> (b w t) h d"),
    # four blocks of (all frames) x H/2 x W/2: h2, w2 index the block
    "local": Grouping("b (h2 h w2 w t) d -> (b h2 w2) (t h w) d", halves=("h", "w")),
    # eight sets of tokens with equal (t, h, w) mod 2: h2, w2, t2 are the parities
    "global": Grouping("b (h h2 w w2 t t2) d -> (b h2 w2 t2) (t h w) d", halves=("t", "h", "w")),
    "joint": Grouping("b n d -> b n d"),
}

# attention_type -> ((name, grouping) for each step); the last step's name is "" (norm1/attn).
STEPS: dict[str, tuple[tuple[str, str], ...]] = {
    "divided_space_time": (("temporal", "time"), ("", "space")),
    "sparse_local_global": (("local", "local"), ("", "global")),
    "axial": (("temporal", "time"), ("width", "width"), ("", "height")),
    "joint_space_time": (("", "joint"),),
    "space_only": (("", "joint"),),  # run on (B*T) per-frame sequences
}


@dataclass(frozen=True)
class TimeSformerConfig:
    img_size: int = 224
    patch_size: int = 16
    in_chans: int = 3
    num_frames: int = 8
    embed_dim: int = 768
    depth: int = 12
    num_heads: int = 12
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    attention_type: str = "divided_space_time"
    num_classes: int = 400
    drop_rate: float = 0.0
    attn_drop_rate: float = 0.0
    drop_path_rate: float = 0.1
    layer_norm_eps: float = field(default=1e-6, repr=False)
    # std of the time embedding's normal init; 0 = zeros, as the official init (made for
    # fine-tuning ImageNet ViT weights). From scratch on classes that only frame order
    # tells apart, zeros start the model order-blind at a saddle it leaves slowly
    # (docs/timesformer.md); the demo recipe uses 1.0.
    time_embed_init_std: float = 0.0
    # "trunc_normal" (official: std 0.02, no geometry to start from) or "sincos" (2D sin-cos
    # of the patch grid, still learned; the cls position stays trunc-normal)
    pos_embed_init: str = "trunc_normal"

    def __post_init__(self) -> None:
        if self.pos_embed_init not in ("trunc_normal", "sincos"):
            raise ValueError(
                f"pos_embed_init {self.pos_embed_init!r} is not 'trunc_normal' or 'sincos'"
            )
        if self.attention_type not in ATTENTION_TYPES:
            raise ValueError(
                f"attention_type {self.attention_type!r} is not one of {', '.join(ATTENTION_TYPES)}"
            )
        if self.img_size % self.patch_size:
            raise ValueError(
                f"img_size {self.img_size} is not a multiple of patch_size {self.patch_size}"
            )
        if self.embed_dim % self.num_heads:
            raise ValueError(
                f"embed_dim {self.embed_dim} is not divisible by num_heads {self.num_heads}"
            )

    @property
    def grid(self) -> int:
        return self.img_size // self.patch_size


class TimeSformerBlock(nn.Module):
    """Pre-norm transformer block whose attention runs the steps of one attention type.

    Args:
        steps: ``(name, grouping)`` pairs (see ``STEPS``); every step but the last owns
            ``{name}_norm1``, ``{name}_attn`` and ``{name}_fc``; the last uses ``norm1``/``attn``.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        steps: tuple[tuple[str, str], ...],
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        proj_drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        eps: float = 1e-6,
    ) -> None:
        super().__init__()
        self.pre_steps = [(name, GROUPINGS[g]) for name, g in steps[:-1]]
        self.cls_grouping = GROUPINGS[steps[-1][1]]
        for name, _ in self.pre_steps:
            setattr(self, f"{name}_norm1", nn.LayerNorm(dim, eps=eps))
            setattr(self, f"{name}_attn", Attention(dim, num_heads, qkv_bias, attn_drop, proj_drop))
            setattr(self, f"{name}_fc", nn.Linear(dim, dim))
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, num_heads, qkv_bias, attn_drop, proj_drop)
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=proj_drop)

    def forward(self, x: Tensor, grid: tuple[int, int, int]) -> Tensor:
        """x: (B, 1 + h*w*t, D), cls first, tokens (h, w, t) time fastest; grid: (t, h, w)."""
        B, _, D = x.shape
        cls, tokens = x[:, :1], x[:, 1:]
        for name, grouping in self.pre_steps:
            norm, attn, fc = (getattr(self, f"{name}_{part}") for part in ("norm1", "attn", "fc"))
            heads = attn.attend(*attn.heads(grouping.split(tokens, *grid), norm=norm))
            if attn.proj_drop.p and self.training:
                res = fc(self.drop_path(attn.output(heads)))  # (B*G, L, D)
            else:  # fc(drop_path(proj(.))), one product (fc is per token: merge commutes)
                res = folded_linears(merge_heads(heads), attn.proj, fc, self.drop_path)
            tokens = add_residual(tokens, grouping.merge(res, *grid), producer=fc)
        groups = self.cls_grouping.split(tokens, *grid)  # (B*G, L, D)
        G = groups.shape[0] // B
        groups = torch.cat([cls.repeat_interleave(G, dim=0), groups], dim=1)  # (B*G, 1+L, D)
        res = self.drop_path(self.attn(groups, norm=self.norm1))
        cls_res = res[:, :1].view(B, G, 1, D).mean(1)  # cls outputs averaged over the groups
        res = self.cls_grouping.merge(res[:, 1:], *grid)
        x = add_residual(torch.cat([cls, tokens], dim=1), torch.cat([cls_res, res], dim=1))
        return add_residual(x, self.mlp(x, self.norm2), self.drop_path, self.mlp)


class TimeSformer(Classifier):
    """TimeSformer video classifier. Input ``(B, C, T, H, W)``, logits ``(B, num_classes)``.

    Clips whose frame count or size differ from the config are accepted: the position
    and time embeddings are resampled with legacy nearest, as in the official forward.
    """

    family: ClassVar[str] = "timesformer"
    embeddings = ("cls_token", "pos_embed", "time_embed")
    stem = ("patch_embed", *embeddings)
    block_lists = ("blocks",)
    block_types = (TimeSformerBlock,)
    relevance_methods = ("gradient_rollout", "rollout")

    def __init__(self, config: TimeSformerConfig) -> None:
        super().__init__()
        c = self.config = config
        self.num_features = c.embed_dim
        self.space_only = c.attention_type == "space_only"
        self.patch_embed = PatchEmbedNd(
            (c.patch_size, c.patch_size), c.in_chans, c.embed_dim, norm=False
        )
        self.cls_token = nn.Parameter(torch.zeros(1, 1, c.embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + c.grid**2, c.embed_dim))
        self.pos_drop = nn.Dropout(c.drop_rate)
        if not self.space_only:
            self.time_embed = nn.Parameter(torch.zeros(1, c.num_frames, c.embed_dim))
            self.time_drop = nn.Dropout(c.drop_rate)
        rates = drop_path_rates(c.drop_path_rate, c.depth)
        self.blocks = nn.ModuleList(
            TimeSformerBlock(
                c.embed_dim,
                c.num_heads,
                STEPS[c.attention_type],
                c.mlp_ratio,
                c.qkv_bias,
                proj_drop=c.drop_rate,
                attn_drop=c.attn_drop_rate,
                drop_path=rates[i],
                eps=c.layer_norm_eps,
            )
            for i in range(c.depth)
        )
        self.norm = nn.LayerNorm(c.embed_dim, eps=c.layer_norm_eps)
        self.head = make_head(c.embed_dim, c.num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        """Official init: trunc-normal(0.02) for Linear and embeddings, zero time embedding,
        and zero extra-step linear layers so every block starts as its spatial (ViT) part.
        ``time_embed_init_std`` and ``pos_embed_init`` change the two embeddings."""
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        if self.config.pos_embed_init == "sincos":
            with torch.no_grad():
                self.pos_embed[0, 1:] = sincos_2d(
                    (self.config.grid, self.config.grid), self.config.embed_dim
                )
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        if not self.space_only and self.config.time_embed_init_std:
            nn.init.normal_(self.time_embed, std=self.config.time_embed_init_std)
        init_weights(self)
        for blk in self.blocks:
            for name, _ in blk.pre_steps:
                fc = getattr(blk, f"{name}_fc")
                nn.init.zeros_(fc.weight)
                nn.init.zeros_(fc.bias)

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        """Default per-sample input ``(C, T, H, W)``."""
        c = self.config
        return (c.in_chans, c.num_frames, c.img_size, c.img_size)

    def default_data_config(self) -> DataSpec:
        """Kinetics normalisation; clips spanning 256 frames (8x32 and 16x16 as the official
        base and HR models)."""
        c = self.config
        return DataSpec(
            c.img_size,
            f"{c.num_frames}x{max(1, 256 // c.num_frames)}x1",
            KINETICS_MEAN,
            KINETICS_STD,
            labels="kinetics400",
        )

    def _check_input(self, x: Tensor) -> None:
        c = self.config
        if x.ndim != 5:
            raise ValueError(
                f"TimeSformer expects (B, C, T, H, W), got a {x.ndim}-d tensor {tuple(x.shape)}"
            )
        if x.shape[1] != c.in_chans:
            raise ValueError(
                f"expected {c.in_chans} channels at dim 1 of (B, C, T, H, W), got {tuple(x.shape)}"
            )
        H, W = x.shape[-2:]
        if H % c.patch_size or W % c.patch_size:
            raise ValueError(f"frame size {H}x{W} is not a multiple of patch_size {c.patch_size}")

    def forward_features(self, x: Tensor) -> Tensor:
        """x: (B, C, T, H, W) -> pooled cls features (B, D)."""
        self._check_input(x)
        B, _, T, _, _ = x.shape
        x = self.patch_embed(rearrange(x, "b c t h w -> (b t) c h w"))  # (B*T, h, w, D), per frame
        h, w = x.shape[1:3]
        x = x.flatten(1, 2)  # (B*T, h*w, D), row-major over (h, w)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = self.pos_drop(x + resample_pos_embed(self.pos_embed, (h, w)))
        if self.space_only:
            grid = (1, h, w)  # B*T independent frames, each with its own cls token
        else:
            cls = x[:B, :1]  # every row holds the same cls + pos_embed[0]
            x = rearrange(x[:, 1:], "(b t) n d -> (b n) t d", b=B)
            x = self.time_drop(x + resample_time_embed(self.time_embed, T))
            x = torch.cat([cls, rearrange(x, "(b n) t d -> b (n t) d", b=B)], dim=1)
            grid = (T, h, w)
        for blk in self.blocks:
            x = run_block(self, blk, x, grid)
        if self.space_only:
            x = x.view(B, T, *x.shape[1:]).mean(1)  # average frames before the final norm
        return self.norm(x)[:, 0]

    def attention_graph(self, T: int, h: int, w: int) -> AttentionGraph:
        """Every attention step of every block for a clip of T frames of h x w patches, as
        one token set (``layers.attribution``): a step within groups (frames, patches over
        time, windows) lists each group's tokens. Tokens: 0 is the cls token, then (h, w,
        t) time fastest; space-only has a cls token per frame, frames apart."""
        if self.space_only:
            n = T * (1 + h * w)
            index = torch.arange(n).view(T, 1 + h * w)  # one group per frame, cls first
            layers = [(blk.attn, index) for blk in self.blocks]
            return AttentionGraph(n, layers, index[:, 0], index[:, 1:].reshape(T, h, w))
        n = h * w * T
        tokens = torch.arange(1, n + 1).view(1, n, 1)  # global ids of the patch tokens
        layers = []
        for blk in self.blocks:
            for name, grouping in blk.pre_steps:  # groups without the cls token
                index = grouping.split(tokens, T, h, w)[..., 0]  # (G, L)
                layers.append((getattr(blk, f"{name}_attn"), index))
            index = blk.cls_grouping.split(tokens, T, h, w)[..., 0]  # (G, L)
            layers.append((blk.attn, torch.cat([torch.zeros_like(index[:, :1]), index], dim=1)))
        grid = rearrange(tokens[0, :, 0], "(h w t) -> t h w", h=h, w=w, t=T)
        return AttentionGraph(1 + n, layers, torch.zeros(1, dtype=torch.long), grid)

    def explain_input(self, x: Tensor, target: int | None, method: str) -> Relevance:
        """Where the cls token's information comes from, for one clip x (1, C, T, H, W): a
        map (T, h, w) over the patches. "gradient_rollout": attention weighted by its
        gradient for ``target`` (default: the predicted class, Chefer et al.);
        "rollout": plain attention rollout, class-agnostic."""
        p = self.config.patch_size
        graph = self.attention_graph(x.shape[2], x.shape[3] // p, x.shape[4] // p)
        gradient = method == "gradient_rollout"
        logits, grid = grouped_rollout(self, x, graph, target, gradient)
        name = "gradient-weighted attention rollout" if gradient else "attention rollout"
        return Relevance(logits, grid, name)


README = "https://github.com/facebookresearch/TimeSformer/blob/main/README.md"
# What the README's accuracy is measured on (its model zoo tables; the weights were
# re-trained with a slightly different implementation than the paper's)
K400 = "Kinetics-400 val, 1 clip x 3 crops, top-1/top-5 of the official README"
K600 = "Kinetics-600 val, 1 clip x 3 crops, top-1/top-5 of the official README"
SSV2 = "Something-Something v2 val, 1 clip x 3 crops, top-1/top-5 of the official README"
MMACTION_K400 = "Kinetics-400 val, 1 clip x 3 crops, top-1/top-5 of mmaction2's README"


def _official(
    tag: str,
    path: str,
    clip: str,
    size: int = 224,
    short_side: int = 256,
    config: dict | None = None,
) -> WeightsSpec:
    """facebookresearch/TimeSformer's released ``.pyth`` (its README's model zoo links,
    Dropbox; ``dl=1`` fetches the file). Test protocol of its ``*_TEST.yaml`` configs: 1
    clip x 3 crops at ``size``; one crop resizes the short side to ``short_side``
    (``TRAIN_JITTER_SCALES[0]``). SSv2: segment frames, BGR, 174 classes."""
    ssv2 = tag == "ssv2"
    data = DataSpec(
        size,
        clip,
        KINETICS_MEAN,
        KINETICS_STD,
        sampler="segment" if ssv2 else "dense",
        labels={"k400": "kinetics400", "k600": "kinetics600", "ssv2": "ssv2"}[tag],
        test_short_side=short_side,
        protocol="timesformer_ssv2" if ssv2 else "timesformer",
        num_crops=3,
    )
    classes = {"k400": 400, "k600": 600, "ssv2": 174}[tag]
    return WeightsSpec(
        tag=tag,
        url=f"https://www.dropbox.com/s/{path}?dl=1",
        source=README,
        layout="timesformer_official",
        license="CC BY-NC 4.0",
        data=data,
        num_classes=classes,
        config={"num_classes": classes, **(config or {})},
    )


MMACTION = (
    "https://github.com/open-mmlab/mmaction2/blob/main/configs/recognition/timesformer/README.md"
)


def _mmaction(tag: str, name: str, stamp: str, attention_type: str) -> WeightsSpec:
    """mmaction2's K400 TimeSformers (ImageNet-21K ViT start; mean/std 127.5): its test
    pipeline, 1 clip of 8 frames 32 apart x 3 crops, mean of softmax. Its file names end
    in the first 8 hex digits of the sha256."""
    url = (
        f"https://download.openmmlab.com/mmaction/v1.0/recognition/timesformer/{name}/"
        f"{name}_{stamp}.pth"
    )
    data = DataSpec(
        224,
        "8x32x1",
        (0.5,) * 3,
        (0.5,) * 3,
        labels="kinetics400",
        test_short_side=224,
        protocol="mmaction",
        num_crops=3,
    )
    return WeightsSpec(
        tag=tag,
        url=url,
        source=MMACTION,
        layout="timesformer_mmaction",
        license="Apache-2.0",
        data=data,
        num_classes=400,
        sha256=stamp.split("-")[1],
        config={"num_classes": 400, "attention_type": attention_type},
    )


def _build(base: TimeSformerConfig, overrides: dict) -> TimeSformer:
    return TimeSformer(apply_overrides(base, overrides))


@register_model(
    family="timesformer",
    base=True,
    weights=(
        reported(
            _official("k400", "g5t24we9gl5yk88/TimeSformer_divST_8x32_224_K400.pyth", "8x32x1"),
            77.9,
            93.2,
            K400,
        ),
        reported(
            _official("k600", "4h2qt41m2z3aqrb/TimeSformer_divST_8x32_224_K600.pyth", "8x32x1"),
            79.1,
            94.4,
            K600,
        ),
        reported(
            _official("ssv2", "tybhuml57y24wpm/TimeSformer_divST_8_224_SSv2.pyth", "8x1x1"),
            59.1,
            85.6,
            SSV2,
        ),
        reported(
            _mmaction(
                "mmaction_k400",
                "timesformer_divST_8xb8-8x32x1-15e_kinetics400-rgb",
                "20220815-a4d0d01f",
                "divided_space_time",
            ),
            77.69,
            93.45,
            MMACTION_K400,
        ),
        reported(
            _mmaction(
                "mmaction_k400_joint",
                "timesformer_jointST_8xb8-8x32x1-15e_kinetics400-rgb",
                "20220815-8022d1c0",
                "joint_space_time",
            ),
            76.95,
            93.28,
            MMACTION_K400,
        ),
        reported(
            _mmaction(
                "mmaction_k400_space_only",
                "timesformer_spaceOnly_8xb8-8x32x1-15e_kinetics400-rgb",
                "20220815-78f05367",
                "space_only",
            ),
            76.93,
            92.88,
            MMACTION_K400,
        ),
    ),
)
def timesformer_base(**overrides) -> TimeSformer:
    """ViT-B/16, divided space-time attention, 8 frames at 224 px."""
    return _build(TimeSformerConfig(), overrides)


@register_model(
    family="timesformer",
    weights=(
        reported(
            _official(
                "k400", "6f0x172lpqy3oxt/TimeSformer_divST_16x16_448_K400.pyth", "16x16x1", 448, 448
            ),
            79.6,
            94.0,
            K400,
        ),
        reported(
            _official(
                "k600", "ft1e92g2vhvxecv/TimeSformer_divST_16x16_448_K600.pyth", "16x16x1", 448, 448
            ),
            81.8,
            95.8,
            K600,
        ),
        reported(
            _official(
                "ssv2", "9t68uzk8w2fpfnv/TimeSformer_divST_16_448_SSv2.pyth", "16x1x1", 448, 448
            ),
            61.8,
            86.9,
            SSV2,
        ),
    ),
)
def timesformer_hr(**overrides) -> TimeSformer:
    """TimeSformer-HR: ViT-B/16, divided, 16 frames at 448 px."""
    return _build(TimeSformerConfig(img_size=448, num_frames=16), overrides)


@register_model(
    family="timesformer",
    weights=(
        reported(
            _official("k400", "r1iuxahif3sgimo/TimeSformer_divST_96x4_224_K400.pyth", "96x4x1"),
            80.6,
            94.7,
            K400,
        ),
        reported(
            _official("k600", "857rx6xeclxfhdg/TimeSformer_divST_96x4_224_K600.pyth", "96x4x1"),
            82.2,
            95.6,
            K600,
        ),
        reported(
            _official(
                "ssv2",
                "3f1rm2al8mhprwa/TimeSformer_divST_64_224_SSv2.pyth",
                "64x1x1",
                config={"num_frames": 64},
            ),
            62.0,
            87.5,
            SSV2,
        ),
    ),
)
def timesformer_large(**overrides) -> TimeSformer:
    """TimeSformer-L: ViT-B/16, divided, 96 frames at 224 px ('L' is for long clips)."""
    return _build(TimeSformerConfig(num_frames=96), overrides)
