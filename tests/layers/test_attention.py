"""Attention over fewer than 64 keys is written out on the CPU (faster there than SDPA's
flash kernel, docs/performance.md): the same values and gradients as SDPA, and SDPA
everywhere else."""

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


@pytest.mark.parametrize("tokens, masked", [(8, False), (49, True), (63, True)])
def test_short_sequences_are_written_out_with_sdpas_values_and_gradients(
    monkeypatch, tokens, masked
):
    torch.manual_seed(0)
    q, k, v = (torch.randn(3, 4, tokens, 16, requires_grad=True) for _ in range(3))
    bias = torch.randn(1, 4, tokens, tokens, requires_grad=True) if masked else None

    def run(attend):
        out = attend(q, k, v, bias)
        grads = torch.autograd.grad(out.square().sum(), [q, k, v, *([bias] if masked else [])])
        return out, grads

    reference = run(lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m))
    calls = sdpa_calls(monkeypatch)
    ours = run(lambda q, k, v, m: dot_product_attention(q, k, v, m))
    assert calls == []  # written out
    torch.testing.assert_close(ours[0], reference[0], rtol=0, atol=1e-5)
    for got, want in zip(ours[1], reference[1], strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-4)


@pytest.mark.parametrize(
    "tokens, dtype, dropout",
    [(64, torch.float32, 0.0), (8, torch.float64, 0.0), (8, torch.float32, 0.1)],
)
def test_sdpa_everywhere_else(monkeypatch, tokens, dtype, dropout):
    """From 64 keys, in float64, and with attention dropout (its random stream stays
    SDPA's)."""
    q = k = v = torch.randn(2, 2, tokens, 8, dtype=dtype)
    calls = sdpa_calls(monkeypatch)
    dot_product_attention(q, k, v, dropout_p=dropout)
    assert calls == [tokens]
