"""Window partition/reverse, cyclic-shift mask and effective window, for any number of dims.

``x`` is channels-last ``(B, *S, D)`` and ``window`` a tuple with ``len(S)`` entries:
Swin passes ``(Wh, Ww)``, Video Swin ``(Wt, Wh, Ww)``. Windows are enumerated in
(b, s1, s2, ...) order and tokens inside a window row-major, as the official code does.
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import Tensor

from .cache import shape_cache


def window_partition(x: Tensor, window: tuple[int, ...]) -> Tensor:
    """(B, *S, D) -> (B*nW, prod(window), D); every S[i] must be a multiple of window[i]."""
    B, *S, D = x.shape
    n = len(S)
    split = [B]
    for s, w in zip(S, window):
        split += [s // w, w]
    x = x.view(*split, D)
    # (B, n1, w1, n2, w2, ..., D) -> (B, n1, n2, ..., w1, w2, ..., D)
    perm = [0] + [1 + 2 * i for i in range(n)] + [2 + 2 * i for i in range(n)] + [2 * n + 1]
    return x.permute(perm).reshape(-1, math.prod(window), D)


def window_reverse(windows: Tensor, window: tuple[int, ...], spatial: tuple[int, ...]) -> Tensor:
    """(B*nW, prod(window), D) -> (B, *spatial, D), the inverse of ``window_partition``."""
    n = len(spatial)
    counts = [s // w for s, w in zip(spatial, window)]
    D = windows.shape[-1]
    x = windows.view(-1, *counts, *window, D)
    # (B, n1, n2, ..., w1, w2, ..., D) -> (B, n1, w1, n2, w2, ..., D)
    perm = [0]
    for i in range(n):
        perm += [1 + i, 1 + n + i]
    return x.permute(*perm, 2 * n + 1).reshape(-1, *spatial, D)


def effective_window(
    size: tuple[int, ...], window: tuple[int, ...], shift: tuple[int, ...]
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Clamp the window to the feature size: where ``size[i] <= window[i]`` the window is
    ``size[i]`` and that dim is not shifted (the official Video Swin rule)."""
    win = tuple(min(s, w) for s, w in zip(size, window))
    sh = tuple(0 if s <= w else h for s, w, h in zip(size, window, shift))
    return win, sh


def padded_size(size: tuple[int, ...], window: tuple[int, ...]) -> tuple[int, ...]:
    """Each dim rounded up to a multiple of the window."""
    return tuple(-(-s // w) * w for s, w in zip(size, window))


@shape_cache(maxsize=64)
def _shift_mask_cpu(
    size: tuple[int, ...], window: tuple[int, ...], shift: tuple[int, ...]
) -> Tensor:
    labels = torch.zeros(size, dtype=torch.long)
    region = 0
    # three regions per dim: [:-w], [-w:-s], [-s:]; with s = 0 they collapse into one
    slices_per_dim = [(slice(0, -w), slice(-w, -s), slice(-s, None)) for w, s in zip(window, shift)]
    for idx in itertools.product(range(3), repeat=len(size)):  # plain ints: exportable
        labels[tuple(slices_per_dim[d][i] for d, i in enumerate(idx))] = region
        region += 1
    win_labels = window_partition(labels[None, ..., None], window).squeeze(-1)  # (nW, N)
    diff = win_labels[:, :, None] != win_labels[:, None, :]
    return torch.zeros(diff.shape).masked_fill_(diff, -100.0)


def shift_mask(
    size: tuple[int, ...],
    window: tuple[int, ...],
    shift: tuple[int, ...],
    device: torch.device | None = None,
) -> Tensor:
    """Additive mask (nW, N, N) for shifted windows on a (padded) grid ``size``: 0 within a
    region, -100.0 across regions (as official). Built once per arguments and cached."""
    return _shift_mask_on(size, window, shift, torch.device("cpu") if device is None else device)


@shape_cache(maxsize=64)
def _shift_mask_on(size, window, shift, device: torch.device) -> Tensor:
    return _shift_mask_cpu(size, window, shift).to(device)
