"""Window partition and layout, cyclic-shift mask and effective window, for any number of
dims.

``x`` is channels-last ``(B, *S, D)`` and ``window`` a tuple with ``len(S)`` entries:
Swin passes ``(Wh, Ww)``, Video Swin ``(Wt, Wh, Ww)``. Windows are enumerated in
(b, s1, s2, ...) order and tokens inside a window row-major, as the official code does.
"""

from __future__ import annotations

import itertools
import math
from typing import NamedTuple

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


def shift_mask(size: tuple[int, ...], window: tuple[int, ...], shift: tuple[int, ...]) -> Tensor:
    """Additive mask (nW, N, N) for shifted windows on a (padded) grid ``size``: 0 within a
    region, -100.0 across regions (as official), windows in ``window_partition``'s order."""
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


class WindowLayout(NamedTuple):
    """Where the tokens of a (padded) grid go for (shifted-)window attention.

    ``order[i]`` is the grid token (row-major over the grid) at window position ``i``
    after the cyclic shift by ``-shift``; windows are ``window_partition``'s, reordered
    so that those with the same shift mask come together: ``windows[g]`` of them in group
    g, whose additive mask is ``masks[g]`` (``masks`` is None unshifted: one group). Each
    group then attends with one (nH, N, N) bias + mask broadcast over its windows instead
    of a (nW, nH, N, N) one made for every call (236 MB in Video Swin-T's first stage).
    A grid shifted along k dims has at most ``2**k`` groups: along each shifted dim a
    window is the last one (holding the tokens that wrapped around) or not. A NamedTuple,
    not a dataclass: torch.compile takes it as a constant of the graph (``shape_cache``).
    """

    order: Tensor  # (L,) int64
    windows: tuple[int, ...]  # windows per group
    masks: Tensor | None  # (G, N, N)

    def rows(self, batch: int) -> Tensor:
        """(batch * L,) rows of the flattened ``(batch * L, D)`` tokens in window order:
        by group, then sample, then window, then token within the window."""
        L = self.order.numel()
        N = L // sum(self.windows)
        offsets = torch.arange(batch, device=self.order.device)[:, None] * L  # (batch, 1)
        parts = self.order.split([n * N for n in self.windows])
        return torch.cat([(offsets + part).flatten() for part in parts])


@shape_cache(maxsize=64)
def window_layout(
    size: tuple[int, ...],
    window: tuple[int, ...],
    shift: tuple[int, ...],
    device: torch.device,
) -> WindowLayout:
    """The ``WindowLayout`` of a (padded) grid ``size``; built once per arguments (and
    from plain ints where tensors could be traced: exportable)."""
    tokens = torch.arange(math.prod(size)).view(1, *size, 1)
    if any(shift):
        tokens = torch.roll(tokens, [-s for s in shift], tuple(range(1, 1 + len(size))))
    order = window_partition(tokens, window).squeeze(-1)  # (nW, N)
    if not any(shift):
        return WindowLayout(order.flatten().to(device), (order.shape[0],), None)
    # a window's mask depends only on whether it is the last along each shifted dim
    per_dim = [s // w for s, w in zip(size, window)]
    groups: dict[tuple[bool, ...], list[int]] = {}
    for i, at in enumerate(itertools.product(*(range(n) for n in per_dim))):
        key = tuple(bool(s) and a == n - 1 for a, n, s in zip(at, per_dim, shift))
        groups.setdefault(key, []).append(i)
    keys = sorted(groups)  # interior windows (no mask) first
    grouped = [i for key in keys for i in groups[key]]
    masks = shift_mask(size, window, shift)[[groups[key][0] for key in keys]]  # (G, N, N)
    return WindowLayout(
        order[grouped].flatten().to(device),
        tuple(len(groups[key]) for key in keys),
        masks.to(device),
    )
