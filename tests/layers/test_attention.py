"""Attention over fewer than 64 keys is written out on the CPU (faster there than SDPA's
flash kernel, docs/performance.md) in inference and where a mask trains: the same values
and gradients as SDPA, and SDPA everywhere else."""

import pytest
import torch
import torch.nn.functional as F

from videoformer.layers import attention as attention_module
from videoformer.layers.attention import dot_product_attention


def sdpa_calls(monkeypatch) -> list[int]:
    calls = []
    real = F.scaled_dot_product_attention

    def counted(q, *args, **kwargs):
        calls.append(q.shape[-2])
        return real(q, *args, **kwargs)

    monkeypatch.setattr(attention_module.F, "scaled_dot_product_attention", counted)
    return calls


@pytest.mark.parametrize("tokens", [8, 49, 63])
def test_short_sequences_are_written_out_in_inference(monkeypatch, tokens):
    torch.manual_seed(0)
    q, k, v = (torch.randn(3, 4, tokens, 16) for _ in range(3))
    mask = torch.randn(1, 4, tokens, tokens)
    calls = sdpa_calls(monkeypatch)
    for m in (None, mask):
        ours = dot_product_attention(q, k, v, m)
        reference = F.scaled_dot_product_attention(q, k, v, attn_mask=m)
        torch.testing.assert_close(ours, reference, rtol=0, atol=1e-5)
    assert calls == [tokens, tokens]  # only the two references


@pytest.mark.parametrize("tokens", [8, 49, 63])
def test_a_trained_bias_over_short_windows_is_written_out_with_sdpas_gradients(monkeypatch, tokens):
    """Where SDPA would take its math path (the mask needs a gradient)."""
    torch.manual_seed(0)
    q, k, v = (torch.randn(3, 4, tokens, 16, requires_grad=True) for _ in range(3))
    bias = torch.randn(1, 4, tokens, tokens, requires_grad=True)

    def run(attend):
        out = attend(q, k, v, bias)
        return out, torch.autograd.grad(out.square().sum(), [q, k, v, bias])

    reference = run(lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m))
    calls = sdpa_calls(monkeypatch)
    ours = run(lambda q, k, v, m: dot_product_attention(q, k, v, m))
    assert calls == []  # written out
    torch.testing.assert_close(ours[0], reference[0], rtol=0, atol=1e-5)
    for got, want in zip(ours[1], reference[1], strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-4)


@pytest.mark.parametrize(
    "tokens, dtype, dropout, grad",
    [
        (64, torch.float32, 0.0, False),
        (8, torch.float64, 0.0, False),
        (8, torch.float32, 0.1, False),
        (8, torch.float32, 0.0, True),
    ],
)
def test_sdpa_everywhere_else(monkeypatch, tokens, dtype, dropout, grad):
    """From 64 keys, in float64, with attention dropout (its random stream stays SDPA's),
    and in training without a trained mask (the flash kernel keeps less memory)."""
    q = k = v = torch.randn(2, 2, tokens, 8, dtype=dtype, requires_grad=grad)
    calls = sdpa_calls(monkeypatch)
    dot_product_attention(q, k, v, dropout_p=dropout)
    assert calls == [tokens]
