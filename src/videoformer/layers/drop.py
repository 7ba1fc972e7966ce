"""Stochastic depth."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def drop_path_scale(x: Tensor, p: float, training: bool) -> Tensor | None:
    """What ``drop_path`` would multiply x by, ``mask / keep`` (B, 1, ..., 1), drawn the
    same way; None where it is the identity."""
    if p == 0.0 or not training:
        return None
    keep = 1.0 - p
    return x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep) / keep


def drop_path(x: Tensor, p: float, training: bool) -> Tensor:
    """Zero whole samples (dim 0) with probability ``p`` and rescale the rest by 1/(1-p)."""
    if p == 0.0 or not training:
        return x
    keep = 1.0 - p
    mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
    return x * mask / keep


class DropPath(nn.Module):
    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        return drop_path(x, self.p, self.training)

    def scale(self, x: Tensor) -> Tensor | None:
        """The factor ``forward(x)`` would multiply by (``drop_path_scale``)."""
        return drop_path_scale(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def drop_path_rates(drop_path_rate: float, depth: int) -> list[float]:
    """Linearly increasing per-block rates from 0 to ``drop_path_rate`` (as the official models)."""
    return torch.linspace(0, drop_path_rate, depth, device="cpu").tolist()
