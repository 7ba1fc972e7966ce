"""A learned attention bias trains through the fused forward: forward and every gradient
(q, k, v, the bias and so Swin's bias table) against attention written out in float64,
within 1e-5; nothing N²-sized is kept for backward; Swin and Video Swin take this path
in training and get the math path's gradients."""

import pytest
import torch

from videoformer import create_model
from videoformer.layers import attention as attention_module
from videoformer.layers import biased_attention as biased_attention_module
from videoformer.layers.biased_attention import biased_attention, trains_bias

SHAPES = {  # q's shape, bias's shape
    "unshifted 2d windows": ((8, 3, 64, 16), (1, 3, 64, 64)),
    "a bias per head and window": ((2, 4 * 3, 64, 16), (1, 4 * 3, 64, 64)),
    "3d windows": ((4, 2, 98, 32), (1, 2, 98, 98)),
    "one bias for every head": ((3, 2, 70, 8), (70, 70)),
    "a bias per sample": ((3, 2, 70, 8), (3, 2, 70, 70)),
}


def _explicit(q, k, v, bias, scale):
    return ((q @ k.transpose(-2, -1)) * scale + bias).softmax(-1) @ v


@pytest.mark.parametrize("chunk", [None, 64 * 64, 3 * 64 * 64])  # one chunk; 1 head; 3 heads
@pytest.mark.parametrize("name", SHAPES)
def test_forward_and_every_gradient_match_attention_written_out(name, chunk, monkeypatch):
    if chunk:  # backward in chunks of (batch, heads): the bias gradient summed across them
        monkeypatch.setattr(biased_attention_module, "CHUNK_SCORES", chunk)
    q_shape, bias_shape = SHAPES[name]
    torch.manual_seed(0)
    q, k, v = (torch.randn(q_shape, requires_grad=True) for _ in range(3))
    bias = torch.randn(bias_shape) * 2
    bias[..., ::3, 1::2] = -100.0  # the shift mask's value
    bias.requires_grad_()
    d_out = torch.randn(q_shape)
    scale = q_shape[-1] ** -0.5
    assert trains_bias(q, bias, 0.0)
    out = biased_attention(q, k, v, bias, scale)
    grads = torch.autograd.grad(out, (q, k, v, bias), d_out)
    ref_inputs = [t.detach().double().requires_grad_() for t in (q, k, v, bias)]
    ref = _explicit(*ref_inputs, scale)
    ref_grads = torch.autograd.grad(ref, ref_inputs, d_out.double())
    assert (out.double() - ref).abs().max() < 1e-5
    for got, want, what in zip(grads, ref_grads, "q k v bias".split()):
        assert got.shape == want.shape, what
        assert (got.double() - want).abs().max() < 1e-5, what


def test_nothing_n_squared_is_kept_for_backward():
    torch.manual_seed(0)
    B, H, N, hd = 16, 3, 64, 16
    q, k, v = (torch.randn(B, H, N, hd, requires_grad=True) for _ in range(3))
    bias = torch.randn(1, H, N, N, requires_grad=True)
    kept: dict[str, int] = {}
    for path in ("biased", "math"):
        kept[path] = 0

        def pack(t, path=path):
            kept[path] += t.numel() * t.element_size()
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            if path == "biased":
                biased_attention(q, k, v, bias, hd**-0.5)
            else:
                torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=bias)
    probabilities = B * H * N * N * 4
    assert kept["biased"] < 4 * B * H * N * hd * 4 + bias.numel() * 4 + B * H * N * 4 + 1
    assert kept["math"] - kept["biased"] >= probabilities


@pytest.mark.parametrize("dropout, grad", [(0.1, True), (0.0, False)])
def test_the_other_cases_stay_on_sdpa(dropout, grad):
    q = torch.randn(2, 2, 64, 4)
    bias = torch.randn(1, 2, 64, 64, requires_grad=grad)
    assert not trains_bias(q, bias, dropout)
    assert not trains_bias(q.double(), bias.double().requires_grad_(), 0.0)
    assert not trains_bias(q, bias[0].detach().requires_grad_(), 0.0)  # 3-d: the kernel refuses
    assert not trains_bias(q[:, :, :49], bias[..., :49, :49].detach().requires_grad_(), 0.0)
    with torch.no_grad():
        assert not trains_bias(q, bias.detach().requires_grad_(), 0.0)


@pytest.mark.parametrize(
    "name, shape",
    [
        (
            "swin",
            dict(img_size=64, patch_size=4, embed_dim=16, depths=(2, 2), num_heads=(1, 2),
                 window_size=8, num_classes=5),
        ),
        (
            "video_swin",
            dict(patch_size=(2, 4, 4), embed_dim=16, depths=(2, 2), num_heads=(1, 2),
                 window_size=(2, 7, 7), num_classes=5),
        ),
    ],
)  # fmt: skip
def test_swin_trains_on_it_with_the_math_paths_gradients(name, shape, monkeypatch):
    torch.manual_seed(0)
    model = create_model(name, drop_path_rate=0.0, **shape).train()
    x = torch.randn(2, 3, 64, 64) if name == "swin" else torch.randn(2, 3, 4, 56, 56)
    calls = []
    real = attention_module.biased_attention
    monkeypatch.setattr(
        attention_module, "biased_attention", lambda *a: calls.append(1) or real(*a)
    )

    def gradients():
        torch.manual_seed(1)  # Video Swin's head dropout
        model.zero_grad()
        model(x).square().sum().backward()
        return {n: p.grad.clone() for n, p in model.named_parameters()}

    fused = gradients()
    # every block, shifted and unshifted (Swin's 8x8, Video Swin's 2x7x7): the first stage's
    # 2x2 windows attend in one group unshifted and in 4 shifted (each its own mask), the
    # second stage's one window (no shift) in one group per block
    assert len(calls) == 7
    monkeypatch.setattr(attention_module, "trains_bias", lambda *a: False)
    math = gradients()
    assert len(calls) == 7
    assert any("relative_position_bias_table" in n for n in fused)
    for n in fused:
        assert (fused[n] - math[n]).abs().max() < 1e-5, n
