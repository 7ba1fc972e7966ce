"""N-d windowing, shift mask and relative index; windowed attention vs a dense reference."""

import itertools

import pytest
import torch

from videoformer.layers import (
    padded_size,
    relative_position_index,
    shift_mask,
    window_layout,
    window_partition,
)
from videoformer.models.swin import SwinBlock


@pytest.mark.parametrize(
    ("size", "window"), [((14, 21), (7, 7)), ((4, 6, 9), (2, 3, 3)), ((8,), (4,))]
)
def test_partition_is_a_permutation_of_the_tokens(size, window):
    x = torch.arange(2 * torch.Size(size).numel()).view(2, *size, 1)
    win = window_partition(x, window)
    assert win.shape[1:] == (torch.Size(window).numel(), 1)
    assert win.flatten().sort().values.tolist() == x.flatten().tolist()


def test_partition_enumerates_windows_row_major_and_tokens_row_major():
    x = torch.arange(4 * 6).view(1, 4, 6, 1)
    win = window_partition(x, (2, 3)).squeeze(-1)
    assert win[0].tolist() == [0, 1, 2, 6, 7, 8]
    assert win[1].tolist() == [3, 4, 5, 9, 10, 11]  # next window along W


@pytest.mark.parametrize(("size", "window"), [((14, 14), (7, 7)), ((4, 14, 14), (2, 7, 7))])
def test_unshifted_mask_is_all_zeros(size, window):
    assert not shift_mask(size, window, (0,) * len(size)).any()


def test_shift_mask_values():
    mask = shift_mask((4, 4), (2, 2), (1, 1))
    assert set(mask.unique().tolist()) == {0.0, -100.0}
    assert not mask[0].any()  # the top-left window lies in one region
    assert mask[3].ne(0).any()  # the bottom-right window mixes four regions


@pytest.mark.parametrize(
    ("size", "window", "shift"),
    [
        ((8, 12), (4, 4), (0, 0)),
        ((8, 12), (4, 4), (2, 2)),
        ((4, 6, 9), (2, 3, 3), (1, 1, 1)),
        ((4, 6, 9), (2, 3, 3), (0, 1, 1)),
    ],
)
def test_window_layout_is_the_shifted_partition_with_windows_grouped_by_mask(size, window, shift):
    dims = tuple(range(1, 1 + len(size)))
    grid = torch.arange(torch.Size(size).numel()).view(1, *size, 1)
    tokens = torch.roll(grid, [-s for s in shift], dims)  # the block's cyclic shift
    windows = window_partition(tokens, window).squeeze(-1)  # (nW, N)
    mask = shift_mask(size, window, shift)
    layout = window_layout(size, window, shift, torch.device("cpu"))
    assert window_layout(size, window, shift, torch.device("cpu")) is layout  # cached
    order = layout.order.view(-1, windows.shape[1])
    assert sum(layout.windows) == windows.shape[0]
    # the same windows, each with its own mask, in partition order within a group
    position = {tuple(w): i for i, w in enumerate(windows.tolist())}
    found = [position[tuple(w)] for w in order.tolist()]
    assert sorted(found) == list(range(windows.shape[0]))
    start = 0
    for g, count in enumerate(layout.windows):
        group = found[start : start + count]
        assert group == sorted(group)
        for i in group:
            expected = mask[i] if any(shift) else torch.zeros_like(mask[i])
            got = layout.masks[g] if layout.masks is not None else torch.zeros_like(mask[i])
            assert torch.equal(got, expected)
        start += count
    assert len(layout.windows) <= 2 ** sum(1 for s in shift if s)


@pytest.mark.parametrize("window", [(7, 7), (2, 3, 4)])
def test_relative_index_formula(window):
    coords = list(itertools.product(*[range(w) for w in window]))
    index = relative_position_index(window)
    for i, q in enumerate(coords):
        for j, k in enumerate(coords):
            expected, stride = 0, 1
            for d in reversed(range(len(window))):
                expected += (q[d] - k[d] + window[d] - 1) * stride
                stride *= 2 * window[d] - 1
            assert index[i, j] == expected


def dense_reference_block(blk: SwinBlock, x: torch.Tensor, window, shift) -> torch.Tensor:
    """The block as one dense attention over the padded grid: a token sees exactly the
    tokens of its (shifted) window and region; padded zero tokens are ordinary keys."""
    B, *S, D = x.shape
    P = padded_size(tuple(S), window)
    y = torch.zeros(B, *P, D)
    y[(slice(None), *(slice(0, s) for s in S))] = blk.norm1(x)
    coords = list(itertools.product(*[range(p) for p in P]))  # row-major over the padded grid
    rolled = [
        tuple((c - s) % p for c, s, p in zip(co, shift, P)) for co in coords
    ]  # position after roll

    def region(r):  # the three-slice labelling of the rolled grid, per dim
        return tuple(
            0
            if r[d] < P[d] - window[d]
            else (1 if r[d] < P[d] - shift[d] else 2)
            if shift[d]
            else 0
            for d in range(len(P))
        )

    win_id = [tuple(r[d] // window[d] for d in range(len(P))) for r in rolled]
    reg = [region(r) for r in rolled]
    N = len(coords)
    allowed = torch.tensor(
        [[win_id[i] == win_id[j] and reg[i] == reg[j] for j in range(N)] for i in range(N)]
    )
    table = blk.attn.relative_position_bias_table
    bias = torch.zeros(table.shape[1], N, N)
    for i in range(N):
        for j in range(N):
            if allowed[i, j]:
                idx, stride = 0, 1
                for d in reversed(range(len(P))):
                    idx += (
                        rolled[i][d] % window[d] - rolled[j][d] % window[d] + window[d] - 1
                    ) * stride
                    stride *= 2 * window[d] - 1
                bias[:, i, j] = table[idx]
    tokens = y.reshape(B, N, D)
    attn = blk.attn
    q, k, v = attn.qkv(tokens).view(B, N, 3, attn.num_heads, -1).permute(2, 0, 3, 1, 4)
    logits = (q * attn.scale) @ k.transpose(-1, -2) + bias
    out = attn.proj(
        (logits.masked_fill(~allowed, float("-inf")).softmax(-1) @ v)
        .transpose(1, 2)
        .reshape(B, N, D)
    )
    out = out.view(B, *P, D)[(slice(None), *(slice(0, s) for s in S))]
    x = x + out
    return x + blk.mlp(blk.norm2(x))


@pytest.mark.parametrize(
    ("size", "window", "shift"),
    [
        ((9, 11), (4, 4), (0, 0)),
        ((9, 11), (4, 4), (2, 2)),
        ((3, 7, 5), (2, 3, 3), (1, 1, 1)),
        ((5, 6, 7), (2, 4, 4), (0, 0, 0)),
    ],
)
def test_window_block_matches_dense_masked_reference(size, window, shift):
    torch.manual_seed(0)
    blk = SwinBlock(16, num_heads=2, window=window).eval()
    with torch.no_grad():
        blk.attn.relative_position_bias_table.normal_(0, 0.5)
        x = torch.randn(2, *size, 16)
        torch.testing.assert_close(
            blk(x, window, shift),
            dense_reference_block(blk, x, window, shift),
            atol=1e-5,
            rtol=1e-5,
        )
