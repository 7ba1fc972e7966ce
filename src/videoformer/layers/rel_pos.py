"""Relative position index and bias table for windows of any number of dims."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .cache import shape_cache


@shape_cache(maxsize=32)
def relative_position_index(window: tuple[int, ...], device: torch.device | str = "cpu") -> Tensor:
    """(N, N) index into a table of ``prod(2*w - 1)`` rows, N = prod(window), on ``device``
    (cached there: no copy per call).

    Offsets are query minus key coordinates, shifted to be non-negative, combined
    row-major: for 3D (dd+Wd-1)(2Wh-1)(2Ww-1) + (dh+Wh-1)(2Ww-1) + (dw+Ww-1).
    """
    coords = torch.stack(torch.meshgrid(*[torch.arange(w) for w in window], indexing="ij")).flatten(
        1
    )
    rel = coords[:, :, None] - coords[:, None, :]  # (ndim, N, N)
    index = torch.zeros(rel.shape[1:], dtype=torch.long)
    for d, w in enumerate(window):
        stride = math.prod([2 * v - 1 for v in window[d + 1 :]])  # a list: traceable by Dynamo
        index += (rel[d] + w - 1) * stride
    return index.to(device)


def relative_position_bias(table: Tensor, window: tuple[int, ...], num_tokens: int) -> Tensor:
    """Bias (nH, N, N) from a ``(prod(2w-1), nH)`` table for the first ``num_tokens``
    positions of ``window``.

    For a window clamped to a smaller feature size this is the top-left ``[:N, :N]``
    slice of the full window's index, as the official Video Swin does (geometrically
    exact only when the clamped dim is the slowest one).
    """
    index = relative_position_index(window, table.device)[:num_tokens, :num_tokens]
    # index_select, not table[index]: its gradient is an index_add (6x faster than the
    # accumulating index_put of advanced indexing for 24 heads over 392² positions)
    bias = table.index_select(0, index.reshape(-1)).view(num_tokens, num_tokens, -1)  # (N, N, nH)
    # contiguous: sums with it keep this layout, and the masks they make must be contiguous
    # (nH, N, N) to be flattened without a copy
    return bias.permute(2, 0, 1).contiguous()
