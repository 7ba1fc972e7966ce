"""Position and time embeddings: a 2D sin-cos init, and resampling to a new grid or
frame count.

Resampling follows the official TimeSformer rule: legacy ``nearest`` interpolation
(source index = floor(dst * in / out)), which differs from ``nearest-exact``,
bilinear and bicubic.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def sincos_2d(grid: tuple[int, int], dim: int, temperature: float = 10_000.0) -> Tensor:
    """Fixed 2D sin-cos position features ``(h*w, dim)``, rows in row-major (h, w) order.

    Each axis takes half the channels: ``sin(pos * w_i)`` then ``cos(pos * w_i)`` with
    ``w_i = temperature ** (-i / (dim / 4))`` (the MAE / MoCo v3 layout); ``dim`` must be
    a multiple of 4.
    """
    if dim % 4:
        raise ValueError(f"sin-cos position features need a dim divisible by 4, got {dim}")
    omega = temperature ** (-torch.arange(dim // 4, dtype=torch.float64) / (dim // 4))  # (dim/4,)
    ys, xs = torch.meshgrid(
        torch.arange(grid[0], dtype=torch.float64),
        torch.arange(grid[1], dtype=torch.float64),
        indexing="ij",
    )
    parts = []
    for pos in (ys.flatten(), xs.flatten()):
        angle = pos[:, None] * omega[None]  # (h*w, dim/4)
        parts += [angle.sin(), angle.cos()]
    return torch.cat(parts, dim=1).float()


def resample_pos_embed(pos_embed: Tensor, grid: tuple[int, int]) -> Tensor:
    """Resize a ``(1, 1 + P*P, D)`` embedding (cls first, square P x P grid) to ``(1, 1 + h*w, D)``.

    The cls position is kept; the spatial part is resized with legacy nearest.
    """
    cls_pos, spatial = pos_embed[:, :1], pos_embed[:, 1:]
    P = math.isqrt(spatial.shape[1])
    if P * P != spatial.shape[1]:
        raise ValueError(f"pos_embed has {spatial.shape[1]} spatial positions, not a square grid")
    if (P, P) == tuple(grid):
        return pos_embed
    D = spatial.shape[2]
    spatial = spatial.transpose(1, 2).reshape(1, D, P, P)
    spatial = F.interpolate(spatial, size=grid, mode="nearest")  # (1, D, h, w)
    return torch.cat([cls_pos, spatial.flatten(2).transpose(1, 2)], dim=1)


def resample_time_embed(time_embed: Tensor, num_frames: int) -> Tensor:
    """Resize a ``(1, T, D)`` embedding to ``(1, num_frames, D)`` with legacy nearest."""
    if time_embed.shape[1] == num_frames:
        return time_embed
    return F.interpolate(time_embed.transpose(1, 2), size=num_frames, mode="nearest").transpose(
        1, 2
    )
