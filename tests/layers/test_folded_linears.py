"""Two Linears folded into one product: the values and every gradient of the plain pair
within float rounding, the first Linear's output not kept, drop path's masks the same."""

import pytest
import torch
from torch import nn

from tests.conftest import grads, saved_bytes
from videoformer.layers import DropPath, folded_linears
from videoformer.layers.folded_linears import FoldedLinearsFunction, folding_pays


def linears(d=32, seed=0):
    torch.manual_seed(seed)
    first, second = nn.Linear(d, d), nn.Linear(d, d)
    with torch.no_grad():  # biases large enough that a dropped bias term shows
        for p in (*first.parameters(), *second.parameters()):
            p.normal_(0, 0.5)
    return first, second


def assert_near(got, want, tol=1e-5):
    """Within float32 rounding of sums over many rows: ``tol`` of the largest value."""
    torch.testing.assert_close(got, want, rtol=0, atol=tol * want.abs().max().item())


@pytest.mark.parametrize("drop", [0.0, 0.5])
def test_forward_and_every_gradient_match_the_plain_pair(drop):
    first, second = linears()
    a = torch.randn(6, 20, 32)
    assert folding_pays(a.numel() // 32, first, second)
    dropper = DropPath(drop).train()
    torch.manual_seed(1)
    out, ours = grads((first, second), a, lambda a: folded_linears(a, first, second, dropper))
    torch.manual_seed(1)  # the same mask: drawn as drop path draws it on first(a)
    ref_out, ref = grads((first, second), a, lambda a: second(dropper(first(a))))
    if drop:
        assert (ref_out == second.bias).all(-1).any(), "no sample dropped: the test is blind"
    assert_near(out, ref_out)
    for got, want in zip(ours, ref, strict=True):
        assert_near(got, want)


def test_without_gradients_the_fold_gives_the_pairs_values():
    first, second = linears()
    a = torch.randn(4, 50, 32)
    with torch.no_grad():
        assert_near(folded_linears(a, first, second), second(first(a)))


def test_gradcheck_in_float64():
    first, second = linears(d=5)
    a = torch.randn(3, 4, 5, dtype=torch.float64, requires_grad=True)
    params = [p.detach().double().requires_grad_() for p in (*first.parameters(),)]
    params += [p.detach().double().requires_grad_() for p in (*second.parameters(),)]
    scale = torch.tensor([0.0, 2.0, 2.0], dtype=torch.float64).view(3, 1, 1)
    for s in (None, scale):
        assert torch.autograd.gradcheck(
            lambda a, *p, s=s: FoldedLinearsFunction.apply(a, *p, s), (a, *params)
        )


def test_the_first_linears_output_is_not_kept():
    first, second = linears()
    a = torch.randn(4, 50, 32, requires_grad=True)
    ours = saved_bytes(lambda: folded_linears(a, first, second))[0]
    plain = saved_bytes(lambda: second(first(a)))[0]
    fold = (32 * 32 + 32) * 4  # the folded weight and the inner bias
    assert plain - ours >= a.numel() * 4 - fold, (ours, plain)


def test_few_rows_run_the_two_linears():
    first, second = linears()
    a = torch.randn(1, 8, 32, requires_grad=True)  # 8 rows < 32: folding costs more
    assert not folding_pays(8, first, second)
    out = folded_linears(a, first, second)
    assert out.grad_fn.name() == "ViewBackward0"  # second's own addmm, not the fold
    torch.testing.assert_close(out, second(first(a)), rtol=0, atol=0)


def test_frozen_linears_pass_only_the_inputs_gradient():
    first, second = linears()
    first.requires_grad_(False)
    second.requires_grad_(False)
    a = torch.randn(4, 50, 32, requires_grad=True)
    folded_linears(a, first, second).sum().backward()
    assert all(p.grad is None for p in (*first.parameters(), *second.parameters()))
    expected = torch.autograd.grad(second(first(a)).sum(), a)[0]
    assert_near(a.grad, expected)


def test_autocast_bfloat16_is_as_near_float32_as_the_pair_is():
    """bf16 rounds differently in one product than in two: each value and gradient is
    compared with float32's, and the fold may be at most twice as far off as the pair."""
    first, second = linears()
    a = torch.randn(4, 50, 32)
    exact = grads((first, second), a, lambda a: second(first(a)))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ours = grads((first, second), a, lambda a: folded_linears(a, first, second))
        pair = grads((first, second), a, lambda a: second(first(a)))
    assert ours[0].dtype == torch.bfloat16
    assert all(g.dtype == torch.float32 for g in ours[1])
    for got, plain, want in zip([ours[0], *ours[1]], [pair[0], *pair[1]], [exact[0], *exact[1]]):
        scale = want.abs().max()
        error = ((got.float() - want) / scale).abs().max()
        assert error <= 2 * ((plain.float() - want) / scale).abs().max() + 1e-3, error
