"""A model family that lives only in the test suite. The engine must train it (layer
decay, FSDP, gradient checkpointing) from what it declares, with no change anywhere in
``videoformer.engine``."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import torch
from einops import rearrange
from torch import Tensor, nn

from videoformer.models import DataSpec, register_model
from videoformer.models.base import Classifier, init_weights, make_head, run_block


@dataclass(frozen=True)
class ToyConfig:
    in_chans: int = 3
    num_frames: int = 4
    img_size: int = 32
    patch_size: int = 8
    dim: int = 16
    depth: int = 3
    num_classes: int = 10


class ToyBlock(nn.Module):
    calls: ClassVar[int] = 0  # forward calls of all instances (recomputation shows here)

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        ToyBlock.calls += 1
        return x + torch.nn.functional.gelu(self.fc(self.norm(x)))


class ToyVideo(Classifier):
    """Per-frame patches, a learned frame embedding, ``stages`` of MLP blocks, mean pool."""

    family: ClassVar[str] = "toy"
    embeddings = ("frame_embed",)
    stem = ("to_tokens", "frame_embed")
    block_lists = ("stages",)
    block_types = (ToyBlock,)

    def __init__(self, config: ToyConfig) -> None:
        super().__init__()
        c = self.config = config
        self.num_features = c.dim
        self.to_tokens = nn.Linear(c.in_chans * c.patch_size**2, c.dim)
        self.frame_embed = nn.Parameter(torch.zeros(c.num_frames, 1, c.dim))
        self.stages = nn.ModuleList(ToyBlock(c.dim) for _ in range(c.depth))
        self.norm = nn.LayerNorm(c.dim)
        self.head = make_head(c.dim, c.num_classes)
        init_weights(self)
        nn.init.trunc_normal_(self.frame_embed, std=0.02)

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        c = self.config
        return (c.in_chans, c.num_frames, c.img_size, c.img_size)

    def default_data_config(self) -> DataSpec:
        c = self.config
        return DataSpec(c.img_size, f"{c.num_frames}x2x1", (0.5,) * 3, (0.25,) * 3)

    def forward_features(self, x: Tensor) -> Tensor:
        """x: (B, C, T, H, W) -> (B, D)."""
        p = self.config.patch_size
        x = rearrange(x, "b c t (h p) (w q) -> b t (h w) (c p q)", p=p, q=p)
        x = (self.to_tokens(x) + self.frame_embed).flatten(1, 2)  # (B, T*N, D)
        for block in self.stages:
            x = run_block(self, block, x)
        return self.norm(x).mean(1)


def register() -> None:
    """Register ``toy_video`` (family ``toy``); callers restore the registry afterwards."""

    @register_model(family="toy", base=True)
    def toy_video(**overrides) -> ToyVideo:
        return ToyVideo(replace(ToyConfig(), **overrides))
