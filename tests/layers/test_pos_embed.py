"""Sin-cos position features and the legacy-nearest resampling rule."""

import math

import pytest
import torch

from videoformer.layers import resample_time_embed, sincos_2d


def test_sincos_2d_matches_the_formula():
    grid, dim = (3, 5), 16
    pe = sincos_2d(grid, dim)
    assert pe.shape == (15, 16)
    y, x, i = 2, 3, 1  # row-major position index 2 * 5 + 3; second frequency
    w = 10_000 ** (-i / 4)
    row = pe[y * 5 + x]
    expected = [math.sin(y * w), math.cos(y * w), math.sin(x * w), math.cos(x * w)]
    got = [row[i], row[4 + i], row[8 + i], row[12 + i]]
    torch.testing.assert_close(torch.tensor(got), torch.tensor(expected, dtype=torch.float32))
    assert len({tuple(r.tolist()) for r in pe}) == 15  # every position distinct
    with pytest.raises(ValueError, match="divisible by 4"):
        sincos_2d(grid, 6)


def test_resample_time_embed_is_legacy_nearest():
    te = torch.arange(4.0).view(1, 4, 1)
    assert resample_time_embed(te, 8).flatten().tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert resample_time_embed(te, 3).flatten().tolist() == [0, 1, 2]  # floor(dst * 4 / 3)
