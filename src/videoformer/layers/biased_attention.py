"""Attention with an additive bias that is learned (Swin's relative-position bias), fast to
train on the CPU.

SDPA's fused CPU kernel has no gradient for ``attn_mask``: when the mask requires grad,
SDPA takes its math path, which keeps the softmax probabilities of every window for
backward (``B·nH·N²`` floats a block) and runs the unfused forward. Here the forward is
the fused flash kernel, which also returns each row's log-sum-exp; backward recomputes
the probabilities from it in one pass and derives every gradient from them:

    P  = exp(scale·Q Kᵀ + bias − lse)          dV = Pᵀ dO
    dS = P ⊙ (dO Vᵀ − rowsum(dO ⊙ O))          dQ = scale·dS K,  dK = scale·dSᵀ Q
    dbias = dS summed over the dims bias was broadcast along

Nothing ``N²``-sized is kept between forward and backward, and backward computes ``P``
once for all four gradients, in as few passes over the ``N²`` scores as eager ops allow
(the row terms ride along in the GEMMs as one extra column), chunk by chunk. An earlier version ran
the fused backward for dq, dk, dv and recomputed ``P`` window chunk by window chunk for
the bias: two passes over the scores, slower than the math path. FlexAttention, the
other way to a learned bias, has no CPU backward in torch 2.13 ("FlexAttention does not
support backward on CPU").
"""

from __future__ import annotations

import torch
from torch import Tensor

_FLASH_CPU = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu.default


# Below this many tokens a window's scores stay in cache and the math path is as fast or
# faster (Swin's 7x7 windows: 0.79-0.95x of it; 98 tokens 0.95-1.15x, 392 tokens 1.9-2.1x).
MIN_TOKENS = 64
SUBNORMAL_EXPONENT = -87.0  # exp(-87) = 1.6e-38, just above float32's smallest normal
# backward works on chunks of (batch, heads) of at most this many scores (4 MiB): the
# allocator reuses them instead of faulting in fresh pages for each N² tensor, and they
# stay in cache between passes (Video Swin-T's first stage, unshifted: 1.5x faster than
# unchunked; shifted: level)
CHUNK_SCORES = 1 << 20


def trains_bias(q: Tensor, bias: Tensor | None, dropout_p: float) -> bool:
    """Whether ``biased_attention`` pays and applies: float32 on the CPU, 4-d q with at
    least ``MIN_TOKENS`` tokens and a 2-d or 4-d bias (what the flash kernel takes) that
    needs a gradient, no attention dropout, eager autograd (not while compiling or
    exporting; on CUDA, SDPA's memory-efficient kernel has the bias gradient itself)."""
    return (
        bias is not None
        and bias.requires_grad
        and q.dim() == 4
        and q.shape[-2] >= MIN_TOKENS
        and bias.dim() in (2, 4)
        and torch.is_grad_enabled()
        and dropout_p == 0.0
        and q.device.type == "cpu"
        and q.dtype == torch.float32
        and bias.dtype == torch.float32
        and not torch.compiler.is_compiling()
        and not torch.onnx.is_in_onnx_export()
    )


class _BiasedAttention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q: Tensor, k: Tensor, v: Tensor, bias: Tensor, scale: float) -> Tensor:
        out, lse = _FLASH_CPU(q, k, v, attn_mask=bias, scale=scale)  # lse: (B, nH, N)
        ctx.save_for_backward(q, k, v, bias, out, lse)
        ctx.scale = scale
        return out

    @staticmethod
    def backward(ctx, d_out: Tensor):
        q, k, v, bias, out, lse = ctx.saved_tensors
        B, H, N, _ = q.shape
        bias4 = bias if bias.dim() == 4 else bias[None, None]  # (1|B, 1|nH, N, N)
        heads = H if H * N * N <= CHUNK_SCORES else max(1, CHUNK_SCORES // (N * N))
        batch = max(1, CHUNK_SCORES // (heads * N * N))
        d_q, d_k, d_v = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)
        d_bias = torch.zeros_like(bias4)
        for b in range(0, B, batch):
            for h in range(0, H, heads):
                at = (slice(b, b + batch), slice(h, h + heads))
                at_bias = tuple(s if n > 1 else slice(None) for s, n in zip(at, bias4.shape))
                grads = _chunk_gradients(
                    *(t[at] for t in (q, k, v, out, lse, d_out)), bias4[at_bias], ctx.scale
                )
                d_q[at], d_k[at], d_v[at] = grads[:3]
                d_bias[at_bias] += _sum_to(grads[3], bias4[at_bias].shape)
        return d_q, d_k, d_v, d_bias.view(bias.shape), None


def _chunk_gradients(q, k, v, out, lse, d_out, bias, scale: float):
    """dq, dk, dv and d_scores of one chunk of (batch, heads)."""
    ones = q.new_ones(*q.shape[:-1], 1)
    # one GEMM gives scale·q kᵀ − lse (q and k carry one more column), one pass adds the
    # bias; exponents below -87 give float32 subnormals, 15x slower to make (the shift
    # mask's -100): clamped there, such a probability is 1.6e-38 instead of smaller
    q_lse = torch.cat([q * scale, -lse.unsqueeze(-1)], -1)  # (b, h, N, hd+1)
    p = torch.matmul(q_lse, torch.cat([k, ones], -1).transpose(-2, -1))  # (b, h, N, N)
    p = p.add_(bias).clamp_min_(SUBNORMAL_EXPONENT).exp_()
    d_v = torch.matmul(p.transpose(-2, -1), d_out)
    row = (d_out * out).sum(-1, keepdim=True)  # (b, h, N, 1)
    # the same for dO Vᵀ − rowsum(dO ⊙ O), then one pass multiplies by P
    d_out_row = torch.cat([d_out, -row], -1)
    d_scores = torch.matmul(d_out_row, torch.cat([v, ones], -1).transpose(-2, -1)).mul_(p)
    del p
    d_q = torch.matmul(d_scores, k).mul_(scale)
    d_k = torch.matmul(d_scores.transpose(-2, -1), q).mul_(scale)
    return d_q, d_k, d_v, d_scores


def _sum_to(grad: Tensor, shape: torch.Size) -> Tensor:
    """``grad`` summed over the dims a tensor of ``shape`` was broadcast along."""
    lead = grad.dim() - len(shape)
    dims = [*range(lead)] + [
        lead + i for i, n in enumerate(shape) if n == 1 != grad.shape[lead + i]
    ]
    return grad.sum(dims, keepdim=True).view(shape) if dims else grad


def biased_attention(q: Tensor, k: Tensor, v: Tensor, bias: Tensor, scale: float) -> Tensor:
    """softmax(scale·q kᵀ + bias) v with the gradients of q, k, v and ``bias``.

    q, k, v: (B, nH, N, hd); bias: additive, (N, N) or broadcastable (B, nH, N, N). Only where
    ``trains_bias`` holds; the result equals SDPA's."""
    return _BiasedAttention.apply(q, k, v, bias, scale)
