"""Patch embeddings: strided convolutions over frames (2D) or tubelets (3D)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class PatchEmbedNd(nn.Module):
    """Non-overlapping patches (2D) or tubelets (3D) -> channels-last ``(B, *S, D)``.

    The input is zero-padded at the end of each spatial dim to a multiple of the patch
    (the official Video Swin rule, last dim first), then a strided Conv and an optional
    LayerNorm over channels (``patch_norm``). Official names ``proj`` and ``norm``.
    """

    def __init__(
        self, patch_size: tuple[int, ...], in_chans: int, embed_dim: int, norm: bool = True
    ) -> None:
        super().__init__()
        conv = {2: nn.Conv2d, 3: nn.Conv3d}[len(patch_size)]
        self.patch_size = tuple(patch_size)
        self.proj = conv(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)
        self.norm = nn.LayerNorm(embed_dim) if norm else None

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, C, *S) -> (B, *S', D) with S' = ceil(S / patch)."""
        pad = []
        for size, p in zip(reversed(x.shape[2:]), reversed(self.patch_size)):
            pad += [0, -size % p]
        if any(pad):
            x = F.pad(x, pad)
        x = self.proj(x).movedim(1, -1)  # (B, *S', D)
        return self.norm(x) if self.norm is not None else x
