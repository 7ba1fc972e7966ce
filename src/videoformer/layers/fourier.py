"""Fourier position features over any number of positional axes (Perceiver).

For positions x_d in [-1, 1] (a linspace per axis, meshgrid 'ij', flattened
row-major) and K frequencies f_k = linspace(1, max_resolution_d / 2, K) per axis:

    [x_1 .. x_d] (if concat_pos), sin(pi * x_d * f_k) for d, k (axis-major), cos(... same)

The argument is computed as pi * (x * f) in float32, product first, as the
official/HF code does. Channels: d * (2K + 1) with concat_pos and cosines.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .cache import shape_cache


def linear_positions(index_dims: tuple[int, ...], device: torch.device | None = None) -> Tensor:
    """(prod(index_dims), d) positions, each axis a float32 linspace over [-1, 1]."""
    axes = [torch.linspace(-1.0, 1.0, n, dtype=torch.float32, device=device) for n in index_dims]
    return torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, len(index_dims))


def fourier_features(
    positions: Tensor,
    num_bands: int,
    max_resolution: tuple[int, ...],
    concat_pos: bool = True,
    sine_only: bool = False,
) -> Tensor:
    """positions: (M, d) in [-1, 1] -> features (M, d * (2 * num_bands + concat_pos))
    (cos dropped if sine_only)."""
    if positions.shape[-1] != len(max_resolution):
        raise ValueError(
            f"positions have {positions.shape[-1]} axes but max_resolution {max_resolution} has "
            f"{len(max_resolution)}"
        )
    freqs = torch.stack(
        [
            torch.linspace(1.0, res / 2, num_bands, dtype=torch.float32, device=positions.device)
            for res in max_resolution
        ]
    )  # (d, K)
    per_axis = (positions[:, :, None] * freqs[None]).flatten(1)  # (M, d*K), axis-major
    parts = (
        [torch.sin(math.pi * per_axis)]
        if sine_only
        else [torch.sin(math.pi * per_axis), torch.cos(math.pi * per_axis)]
    )
    if concat_pos:
        parts.insert(0, positions)
    return torch.cat(parts, dim=-1)


def fourier_channels(
    num_axes: int, num_bands: int, concat_pos: bool = True, sine_only: bool = False
) -> int:
    return num_axes * ((1 if sine_only else 2) * num_bands + int(concat_pos))


@shape_cache(maxsize=32)
def grid_fourier_features(
    index_dims: tuple[int, ...],
    num_bands: int,
    max_resolution: tuple[int, ...],
    device: torch.device,
    concat_pos: bool = True,
) -> Tensor:
    """Fourier features of a regular grid, (prod(index_dims), C); built once per arguments."""
    return fourier_features(
        linear_positions(index_dims, device), num_bands, max_resolution, concat_pos
    )
