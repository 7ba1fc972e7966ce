"""The training MLP recomputes its GELU in backward: same values and gradients as the
plain Linear -> GELU -> Linear, fewer bytes kept for backward."""

import pytest
import torch
import torch.nn.functional as F

from tests.conftest import assert_bf16_autocast_matches, saved_bytes
from videoformer.layers import Mlp
from videoformer.layers.mlp import GeluMlpFunction


def plain(mlp: Mlp, x: torch.Tensor) -> torch.Tensor:
    return mlp.fc2(F.gelu(mlp.fc1(x)))


def grads(mlp: Mlp, x: torch.Tensor, forward) -> tuple[torch.Tensor, list[torch.Tensor]]:
    x = x.detach().requires_grad_()
    mlp.zero_grad(set_to_none=True)
    out = forward(mlp, x)
    (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
    return out.detach(), [x.grad] + [p.grad for p in mlp.parameters()]


def test_same_output_and_gradients_as_the_plain_path():
    torch.manual_seed(0)
    mlp = Mlp(16, 64).train()
    x = torch.randn(2, 5, 16)
    out, ours = grads(mlp, x, lambda m, x: m(x))
    ref_out, ref = grads(mlp, x, plain)
    torch.testing.assert_close(out, ref_out, rtol=0, atol=0)  # the same forward ops
    for got, want in zip(ours, ref, strict=True):  # docs/performance.md: bit-identical
        torch.testing.assert_close(got, want, rtol=0, atol=0)


@pytest.mark.parametrize("normed", [False, True])
def test_gradcheck_in_float64(normed):
    torch.manual_seed(0)

    def arg(*shape):
        return torch.randn(*shape, dtype=torch.float64, requires_grad=True)

    norm = (arg(4), arg(4), 1e-5) if normed else (None, None, 0.0)
    args = [arg(3, 4), *norm, arg(6, 4), arg(6), arg(4, 6), arg(4)]
    assert torch.autograd.gradcheck(GeluMlpFunction.apply, args)


def test_the_gelu_output_is_not_kept_for_backward():
    mlp = Mlp(32, 128).train()
    x = torch.randn(4, 10, 32, requires_grad=True)
    ours, reference = saved_bytes(lambda: mlp(x))[0], saved_bytes(lambda: plain(mlp, x))[0]
    hidden = 4 * 10 * 128 * 4  # one (B, N, H) float32 tensor
    assert reference - ours >= hidden, (ours, reference)
    # kept: the input, fc1's output and the two weights
    assert ours == x.numel() * 4 + hidden + (mlp.fc1.weight.numel() + mlp.fc2.weight.numel()) * 4


def test_autocast_bfloat16_matches_the_plain_path():
    torch.manual_seed(0)
    mlp = Mlp(16, 64).train()
    x = torch.randn(8, 16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ours = grads(mlp, x, lambda m, x: m(x))
        reference = grads(mlp, x, plain)
    assert_bf16_autocast_matches(ours, reference)


def test_frozen_weights_get_no_gradient():
    mlp = Mlp(8, 32).train().requires_grad_(False)
    x = torch.randn(3, 8, requires_grad=True)
    mlp(x).sum().backward()
    assert x.grad is not None and all(p.grad is None for p in mlp.parameters())
    expected = torch.autograd.grad(plain(mlp, x).sum(), x)[0]
    torch.testing.assert_close(x.grad, expected)


def graph_nodes(out: torch.Tensor) -> set[str]:
    seen, stack = set(), [out.grad_fn]
    while stack:
        node = stack.pop()
        if node is not None and node.name() not in seen:
            seen.add(node.name())
            stack += [n for n, _ in node.next_functions]
    return seen


@pytest.mark.parametrize(
    "training, drop, fused", [(True, 0.0, True), (False, 0.0, False), (True, 0.1, False)]
)
def test_only_training_without_dropout_takes_the_fused_path(training, drop, fused):
    mlp = Mlp(8, 32, drop=drop).train(training)
    out = mlp(torch.randn(3, 8, requires_grad=True))
    assert any("GeluMlpFunction" in n for n in graph_nodes(out)) == fused
