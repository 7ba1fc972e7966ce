"""Patch embeddings: a strided convolution per frame (2D)."""

from __future__ import annotations

from torch import Tensor, nn


class PatchEmbed2d(nn.Module):
    """Non-overlapping ``patch_size`` x ``patch_size`` patches -> tokens (official name ``proj``)."""

    def __init__(self, patch_size: int, in_chans: int, embed_dim: int) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: Tensor) -> tuple[Tensor, int, int]:
        """x: (B, C, H, W) -> tokens (B, h*w, D) row-major over (h, w), and the grid (h, w)."""
        x = self.proj(x)  # (B, D, h, w)
        h, w = x.shape[-2:]
        return x.flatten(2).transpose(1, 2), h, w
