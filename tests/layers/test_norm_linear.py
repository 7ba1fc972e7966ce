"""A pre-norm fused into the Linear (or the MLP) after it keeps the norm's input, not its
output: the same values and gradients as ``linear(norm(x))`` written plainly, one
input-sized tensor fewer kept for backward."""

import pytest
import torch
from torch import nn

from tests.conftest import assert_bf16_autocast_matches, grads, saved_bytes
from videoformer import create_model
from videoformer.layers import Mlp
from videoformer.layers.norm_linear import LayerNormLinearFunction, norm_linear


def pair(dim=16, out=48):
    torch.manual_seed(0)
    norm, linear = nn.LayerNorm(dim), nn.Linear(dim, out)
    with torch.no_grad():  # not the identity affine of a fresh norm
        norm.weight.normal_(1, 0.5)
        norm.bias.normal_(0, 0.5)
    return norm, linear


def test_same_output_and_gradients_as_the_plain_path():
    norm, linear = pair()
    x = torch.randn(2, 7, 16) * 3 + 1
    out, ours = grads((norm, linear), x, lambda x: norm_linear(x, norm, linear))
    ref_out, ref = grads((norm, linear), x, lambda x: linear(norm(x)))
    torch.testing.assert_close(out, ref_out, rtol=0, atol=0)  # the same forward ops
    for got, want in zip(ours, ref, strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_mlp_with_its_norm_matches_the_plain_path():
    norm, _ = pair()
    mlp = Mlp(16, 64).train()
    x = torch.randn(3, 5, 16) * 2
    out, ours = grads((norm, mlp), x, lambda x: mlp(x, norm))
    ref_out, ref = grads((norm, mlp), x, lambda x: mlp.fc2(mlp.act(mlp.fc1(norm(x)))))
    torch.testing.assert_close(out, ref_out, rtol=0, atol=0)
    for got, want in zip(ours, ref, strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_gradcheck_in_float64():
    torch.manual_seed(0)

    def arg(*shape):
        return torch.randn(*shape, dtype=torch.float64, requires_grad=True)

    args = [arg(3, 2, 5), arg(5), arg(5), 1e-5, arg(7, 5), arg(7)]
    assert torch.autograd.gradcheck(LayerNormLinearFunction.apply, args)


def test_the_normalised_input_is_not_kept():
    norm, linear = pair()
    x = torch.randn(4, 10, 16, requires_grad=True)
    ours = saved_bytes(lambda: norm_linear(x, norm, linear))[0]
    reference = saved_bytes(lambda: linear(norm(x)))[0]
    assert reference - ours == x.numel() * 4, (ours, reference)  # one (B, N, D) float32


def test_mlp_keeps_one_input_sized_tensor_fewer_with_its_norm():
    norm, _ = pair()
    mlp = Mlp(16, 64).train()
    x = torch.randn(4, 10, 16, requires_grad=True)
    ours = saved_bytes(lambda: mlp(x, norm))[0]
    reference = saved_bytes(lambda: mlp(norm(x)))[0]
    assert reference - ours == x.numel() * 4, (ours, reference)


def test_autocast_bfloat16_matches_the_plain_path():
    norm, linear = pair()
    x = torch.randn(8, 16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ours = grads((norm, linear), x, lambda x: norm_linear(x, norm, linear))
        reference = grads((norm, linear), x, lambda x: linear(norm(x)))
    assert_bf16_autocast_matches(ours, reference)


def test_frozen_norm_and_linear_pass_only_the_inputs_gradient():
    norm, linear = pair()
    norm.requires_grad_(False)
    linear.requires_grad_(False)
    x = torch.randn(3, 16, requires_grad=True)
    norm_linear(x, norm, linear).sum().backward()
    assert all(p.grad is None for p in (*norm.parameters(), *linear.parameters()))
    expected = torch.autograd.grad(linear(norm(x)).sum(), x)[0]
    torch.testing.assert_close(x.grad, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("training, grad, fused", [(True, True, True), (False, True, False)])
def test_only_training_takes_the_fused_path(training, grad, fused):
    norm, linear = pair()
    linear.train(training)
    x = torch.randn(3, 16, requires_grad=True)
    with torch.set_grad_enabled(grad):
        out = norm_linear(x, norm, linear)
    assert (out.grad_fn.name() == "LayerNormLinearFunctionBackward") == fused


def test_timesformer_training_gradients_are_the_plain_paths():
    """Train mode fuses the three pre-norms of a divided block; eval mode (no dropout, no
    drop path, so the same function) runs them plainly."""
    torch.manual_seed(0)
    model = create_model(
        "timesformer_base",
        img_size=32,
        num_frames=4,
        depth=2,
        embed_dim=48,
        num_heads=4,
        num_classes=5,
        drop_path_rate=0.0,
    )
    for p in model.parameters():  # no zero-initialised step: every path carries gradient
        p.data.normal_(0, 0.1)
    x = torch.randn(2, 3, 4, 32, 32)
    fused_bytes, out = saved_bytes(lambda: model.train()(x))
    out.square().sum().backward()
    fused = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    plain_bytes, out = saved_bytes(lambda: model.eval()(x))
    out.square().sum().backward()
    for name, p in model.named_parameters():
        torch.testing.assert_close(fused[name], p.grad, rtol=0, atol=0, msg=name)
    tokens = 2 * (1 + 4 * 2 * 2) * 48 * 4  # (B, 1 + T*h*w, D) float32
    # per block the normalised inputs of temporal qkv, spatial qkv (+1 cls per frame), fc1
    assert plain_bytes - fused_bytes >= 2 * 3 * tokens * 0.95, (plain_bytes, fused_bytes)
