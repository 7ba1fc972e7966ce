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
once for all four gradients. (An earlier version ran the fused backward for dq, dk, dv
and recomputed ``P`` window chunk by window chunk for the bias: two passes over the
scores, slower than the math path.)
"""

from __future__ import annotations

import torch
from torch import Tensor

_FLASH_CPU = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu.default


def trains_bias(q: Tensor, bias: Tensor | None, dropout_p: float) -> bool:
    """Whether ``biased_attention`` applies: float32 on the CPU, 4-d q and a 2-d or 4-d
    bias (what the flash kernel takes) that needs a gradient, no attention dropout, eager
    autograd (not while compiling or exporting; on CUDA, SDPA's memory-efficient kernel
    has the bias gradient itself)."""
    return (
        bias is not None
        and bias.requires_grad
        and q.dim() == 4
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
        scale = ctx.scale
        p = torch.matmul(q, k.transpose(-2, -1)).mul_(scale).add_(bias)  # (B, nH, N, N)
        p = p.sub_(lse.unsqueeze(-1)).exp_()
        d_v = torch.matmul(p.transpose(-2, -1), d_out)
        row = (d_out * out).sum(-1, keepdim=True)  # (B, nH, N, 1)
        d_scores = torch.matmul(d_out, v.transpose(-2, -1)).sub_(row).mul_(p)
        del p
        d_q = torch.matmul(d_scores, k).mul_(scale)
        d_k = torch.matmul(d_scores.transpose(-2, -1), q).mul_(scale)
        return d_q, d_k, d_v, _sum_to(d_scores, bias.shape), None


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
