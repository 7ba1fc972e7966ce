"""A model family that lives only in the test suite. The engine must train it (layer
decay, FSDP, gradient checkpointing) and the tools save, load, predict, explain, convert
and export it from what it declares (its model class and its checkpoint layouts), with no
change anywhere outside ``models/`` and ``convert/``."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import torch
from einops import rearrange
from torch import Tensor, nn

from videoformer.convert import Layout, register_layout
from videoformer.layers import Relevance, grad_cam, normalised
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
    relevance_methods = ("grad_cam",)

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

    def tokens(self, x: Tensor) -> Tensor:
        """x: (B, C, T, H, W) -> the last block's tokens (B, T*N, D), (t, h, w) order."""
        p = self.config.patch_size
        x = rearrange(x, "b c t (h p) (w q) -> b t (h w) (c p q)", p=p, q=p)
        x = (self.to_tokens(x) + self.frame_embed).flatten(1, 2)  # (B, T*N, D)
        for block in self.stages:
            x = run_block(self, block, x)
        return x

    def forward_features(self, x: Tensor) -> Tensor:
        """x: (B, C, T, H, W) -> (B, D)."""
        return self.norm(self.tokens(x)).mean(1)

    def explain_input(self, x: Tensor, target: int | None, method: str) -> Relevance:
        """Grad-CAM of the last block's tokens: a map (T, h, w)."""
        p = self.config.patch_size
        T, h, w = x.shape[2], x.shape[3] // p, x.shape[4] // p
        with torch.enable_grad():
            tokens = self.tokens(x)
            logits = self.forward_head(self.norm(tokens).mean(1))[0]
            target = int(logits.argmax()) if target is None else target
            (grad,) = torch.autograd.grad(logits[target], tokens)
        cam = grad_cam(tokens[0].detach().view(T, h, w, -1), grad[0].view(T, h, w, -1))
        return Relevance(logits.detach(), normalised(cam), "Grad-CAM of the last block")


# A foreign layout of the toy family: its keys under "backbone.", the classifier "fc."
FOREIGN_PREFIXES = (("backbone.", ""), ("fc.", "head."))


def to_foreign(sd: dict[str, Tensor]) -> dict[str, Tensor]:
    return {("fc." + k[5:] if k.startswith("head.") else "backbone." + k): v for k, v in sd.items()}


def _from_foreign(sd, config) -> dict[str, Tensor]:
    out = {}
    for key, value in sd.items():
        for theirs, ours in FOREIGN_PREFIXES:
            if key.startswith(theirs):
                out[ours + key.removeprefix(theirs)] = value
    return out


def register() -> None:
    """Register ``toy_video`` (family ``toy``) and its two checkpoint layouts; callers
    restore the registry and the layout table afterwards."""

    @register_model(family="toy", base=True)
    def toy_video(**overrides) -> ToyVideo:
        return ToyVideo(replace(ToyConfig(), **overrides))

    register_layout(
        Layout(
            "toy_videoformer",
            "toy",
            lambda sd: "to_tokens.weight" in sd,
            lambda sd, config: dict(sd),
            "the toy family's own keys",
        )
    )
    register_layout(
        Layout(
            "toy_foreign",
            "toy",
            lambda sd: "backbone.to_tokens.weight" in sd,
            _from_foreign,
            "the toy family under backbone. and fc.",
        )
    )
