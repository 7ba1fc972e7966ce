"""Multi-head self-attention through ``scaled_dot_product_attention`` (written out for
short sequences on the CPU, where that is faster), and a way to see its weights
(``record_attention``) without leaving the fused kernels otherwise."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .biased_attention import MIN_TOKENS, biased_attention, trains_bias
from .in_place import may_overwrite
from .norm_linear import norm_linear

# the open ``record_attention`` contexts (records, keep_graph), innermost last (one thread)
_RECORDING: list[tuple[list[tuple[nn.Module | None, Tensor]], bool]] = []


@contextmanager
def record_attention(
    keep_graph: bool = False,
) -> Iterator[list[tuple[nn.Module | None, Tensor]]]:
    """Inside, every attention layer computes softmax(q kᵀ · scale + mask) explicitly and
    appends ``(layer, probabilities)`` to the yielded list, in call order; probabilities
    are ``(*B, nH, Nq, Nk)``, detached, or with ``keep_graph`` part of the graph and
    keeping their ``.grad`` after a backward. Outside, ``dot_product_attention`` is SDPA,
    untouched."""
    records: list[tuple[nn.Module | None, Tensor]] = []
    _RECORDING.append((records, keep_graph))
    try:
        yield records
    finally:
        _RECORDING.pop()


def writes_out(q: Tensor, k: Tensor, attn_mask: Tensor | None, dropout_p: float) -> bool:
    """Whether attention written out (``probabilities(...) @ v``) beats SDPA: float32 on
    the CPU with fewer than ``MIN_TOKENS`` keys, no dropout, an additive mask or none,
    and either no gradient wanted or a mask that trains (where SDPA takes its math path).

    SDPA's flash CPU kernel works in blocks with a fixed cost each; for short sequences
    (TimeSformer's 8-frame temporal step, Swin's 7x7 windows) that cost dominates. One
    process, AMD EPYC, 2 threads, (B*N/L, nH, L, hd) as in a batch-2 block, flash / written
    out: L = 8, hd 64: 2.8-3.1x inference, 2.7x forward + backward; L = 49, hd 32: 1.55x,
    1.79x; L = 64, hd 64: 1.10x, 1.28x; L = 128: 0.96-1.16x; L = 197: 0.40-0.90x. Training
    without a trained mask keeps the flash kernel all the same: written out, TimeSformer-B's
    step was 2% faster but its peak RSS 0.3 GiB higher (the temporaries of 8-token
    attention fragment the heap; docs/performance.md)."""
    trains_mask = attn_mask is not None and attn_mask.requires_grad
    wants_grad = torch.is_grad_enabled() and (trains_mask or q.requires_grad or k.requires_grad)
    return (
        k.shape[-2] < MIN_TOKENS
        and dropout_p == 0.0
        and q.device.type == "cpu"
        and q.dtype == torch.float32
        and (attn_mask is None or attn_mask.is_floating_point())
        and (trains_mask or not wants_grad)
    )


def probabilities(q: Tensor, k: Tensor, attn_mask: Tensor | None, scale: float) -> Tensor:
    """softmax(q kᵀ · scale + mask): ``(*B, nH, Nq, Nk)``. Without autograd the scaling,
    the mask and the softmax overwrite the scores (the same values, one tensor)."""
    scores = q @ k.transpose(-2, -1)  # (*B, nH, Nq, Nk)
    in_place = may_overwrite() and (
        attn_mask is None
        or (
            attn_mask.dtype == scores.dtype
            and torch.broadcast_shapes(scores.shape, attn_mask.shape) == scores.shape
        )
    )
    if not in_place:
        scores = scores * scale
        return (scores if attn_mask is None else scores + attn_mask).softmax(-1)
    scores.mul_(scale)
    if attn_mask is not None:
        scores.add_(attn_mask)
    return torch.softmax(scores, -1, out=scores)


def dot_product_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    attn_mask: Tensor | None = None,
    dropout_p: float = 0.0,
    scale: float | None = None,
    owner: nn.Module | None = None,
) -> Tensor:
    """``scaled_dot_product_attention``; written out where ``writes_out`` says it is
    faster, and while ``record_attention`` is open, its probabilities recorded under
    ``owner``. A mask that is trained (a relative-position bias) takes
    ``biased_attention`` on the CPU, which keeps SDPA's fused forward where SDPA itself
    would fall back to its math path."""
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    if not _RECORDING:
        if writes_out(q, k, attn_mask, dropout_p):
            return probabilities(q, k, attn_mask, scale) @ v
        if trains_bias(q, attn_mask, dropout_p):
            return biased_attention(q, k, v, attn_mask, scale)
        return F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, dropout_p=dropout_p, scale=scale
        )
    probs = probabilities(q, k, attn_mask, scale)
    records, keep_graph = _RECORDING[-1]
    if keep_graph and probs.requires_grad:
        probs.retain_grad()
        records.append((owner, probs))
    else:
        records.append((owner, probs.detach()))
    return F.dropout(probs, dropout_p) @ v


def split_heads(x: Tensor, num_heads: int) -> Tensor:
    """(*B, N, nH*hd) -> (*B, nH, N, hd)."""
    return x.unflatten(-1, (num_heads, -1)).transpose(-2, -3)


def merge_heads(x: Tensor) -> Tensor:
    """(*B, nH, N, hd) -> (*B, N, nH*hd)."""
    return x.transpose(-2, -3).flatten(-2)


class Attention(nn.Module):
    """Self-attention with one fused ``qkv`` Linear and an output ``proj`` (ViT/Swin layout).

    Args:
        dim: token width D.
        num_heads: nH; the head dim is D // nH and logits are scaled by hd**-0.5.
        qkv_bias: bias on the qkv projection.
        attn_drop: dropout on the attention probabilities (training only).
        proj_drop: dropout after the output projection.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        qkv_bias: bool = True,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = attn_drop
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def heads(self, x: Tensor, norm: nn.Module | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """x: (*B, N, D) -> q, k, v, each (*B, nH, N, hd); of ``norm(x)`` when given (in
        training without keeping the normalised x: ``norm_linear``)."""
        qkv = norm_linear(x, norm, self.qkv)  # (*B, N, 3D)
        return tuple(split_heads(t, self.num_heads) for t in qkv.chunk(3, dim=-1))

    def attend(self, q: Tensor, k: Tensor, v: Tensor, attn_mask: Tensor | None = None) -> Tensor:
        """Scaled dot-product attention (dropout on the probabilities in training)."""
        dropout = self.attn_drop if self.training else 0.0
        return dot_product_attention(q, k, v, attn_mask, dropout, self.scale, owner=self)

    def output(self, x: Tensor) -> Tensor:
        """(*B, nH, N, hd) -> (*B, N, D): heads merged, projected."""
        return self.proj_drop(self.proj(merge_heads(x)))

    def forward(
        self, x: Tensor, attn_mask: Tensor | None = None, norm: nn.Module | None = None
    ) -> Tensor:
        """x: (*B, N, D) with any leading batch dims; attn_mask: additive, broadcastable to
        (*B, nH, N, N); ``attn(x, norm=norm)`` is ``attn(norm(x))``. Returns (*B, N, D)."""
        return self.output(self.attend(*self.heads(x, norm), attn_mask))
