"""Two Linears in a row, ``second(scale * first(a))``, as one product with the folded
weight ``W2 @ W1``.

TimeSformer's extra attention steps end in the attention's output projection followed by
the step's own Linear (``temporal_fc``), with only drop path (a per-sample scale) between
them. Both are linear, so for N rows of width D the two (N, D) x (D, D) products can be
one, after a (D, D) x (D, D) fold: 2·N·D² multiply-adds become D³ + N·D². In training
the backward is reassociated the same way: with ``gs = g * scale``, ``m = gsᵀ a`` is the
one product over the rows, and both weight gradients follow from it at D³ each
(``dW1 = W2ᵀ m``, ``dW2 = m W1ᵀ + Σgs ⊗ b1``), so the first Linear's output, which the
second would keep for its weight gradient, is neither kept nor recomputed.

Values differ from the two Linears only by float rounding (tests/layers/
test_folded_linears.py: forward and every gradient against the plain pair)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .drop import DropPath

# open ``as_written`` contexts (one thread): while any is open nothing is folded
_AS_WRITTEN: list[None] = []


@contextmanager
def as_written() -> Iterator[None]:
    """Inside, ``folded_linears`` runs its two Linears as written: the FLOP counter counts
    the model, not the shortcut (``flops.count_flops``)."""
    _AS_WRITTEN.append(None)
    try:
        yield
    finally:
        _AS_WRITTEN.pop()


def folding_pays(rows: int, first: nn.Linear, second: nn.Linear) -> bool:
    """Whether the fold (D2·D1·D0, once per call) plus one product over the rows costs fewer
    multiply-adds than the two products over the rows (and no ``as_written`` is open)."""
    if _AS_WRITTEN:
        return False
    d0, d1, d2 = first.in_features, first.out_features, second.out_features
    return d2 * d1 * d0 + rows * d0 * d2 < rows * d1 * (d0 + d2)


def fold(w1: Tensor, b1: Tensor, w2: Tensor) -> tuple[Tensor, Tensor]:
    """``(W2 W1, W2 b1)``: ``second(s * first(a)) = s * (a (W2 W1)ᵀ + W2 b1) + b2``."""
    return w2 @ w1, w2 @ b1


def apply_folded(a: Tensor, w: Tensor, inner_bias: Tensor, b2: Tensor, scale: Tensor | None):
    """(..., D0) -> (..., D2); ``scale`` broadcasts against the output (drop path's
    per-sample ``mask / keep``), or None."""
    if scale is None:
        return F.linear(a, w, inner_bias + b2)
    return torch.addcmul(b2, F.linear(a, w, inner_bias), scale)


class FoldedLinearsFunction(torch.autograd.Function):
    """``second(scale * first(a))`` keeping only ``a`` (and the folded weight) for backward.

    Under autocast the products run in the autocast dtype as the two Linears would;
    backward computes in the output's dtype and returns each gradient in its input's."""

    @staticmethod
    def forward(ctx, a, w1, b1, w2, b2, scale):
        w, inner_bias = fold(w1, b1, w2)  # (D2, D0), (D2,)
        out = apply_folded(a, w, inner_bias, b2, scale)  # (..., D2)
        ctx.dtype = out.dtype
        ctx.save_for_backward(a, w1, b1, w2, w, scale)
        return out

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        a, w1, b1, w2, w, scale = ctx.saved_tensors
        need_a, need_w1, need_b1, need_w2, need_b2, _ = ctx.needs_input_grad
        dtype = ctx.dtype
        g = grad_out.to(dtype)
        gs = g if scale is None else g * scale.to(dtype)  # (..., D2)
        gs2 = gs.reshape(-1, gs.shape[-1])  # (N, D2)
        grad_a = grad_w1 = grad_b1 = grad_w2 = grad_b2 = None
        if need_a:
            grad_a = (gs @ w.to(dtype)).to(a.dtype)  # (..., D0)
        if need_b2:
            grad_b2 = g.reshape(-1, g.shape[-1]).sum(0).to(w2.dtype)
        if need_w1 or need_w2:
            m = gs2.t() @ a.reshape(-1, a.shape[-1]).to(dtype)  # (D2, D0), the one row product
            if need_w1:
                grad_w1 = (w2.to(dtype).t() @ m).to(w1.dtype)
            if need_w2:
                grad_w2 = m @ w1.to(dtype).t()
        if need_b1 or need_w2:
            gsum = gs2.sum(0)  # (D2,)
            if need_b1:
                grad_b1 = (w2.to(dtype).t() @ gsum).to(b1.dtype)
            if need_w2:
                grad_w2 = (grad_w2 + torch.outer(gsum, b1.to(dtype))).to(w2.dtype)
        return grad_a, grad_w1, grad_b1, grad_w2, grad_b2, None


def folded_linears(
    a: Tensor, first: nn.Linear, second: nn.Linear, drop: DropPath | None = None
) -> Tensor:
    """``second(drop(first(a)))`` for a: (B, ..., D0), folded where ``folding_pays`` for
    a's rows (both Linears need a bias), else run as written. Drop path draws its mask
    as it would on ``first(a)``."""
    if not folding_pays(a.numel() // a.shape[-1], first, second):
        y = first(a)
        return second(y if drop is None else drop(y))
    scale = None if drop is None else drop.scale(a)  # (B, 1, ..., 1) or None
    w1, b1, w2, b2 = first.weight, first.bias, second.weight, second.bias
    if torch.is_grad_enabled():
        return FoldedLinearsFunction.apply(a, w1, b1, w2, b2, scale)
    return apply_folded(a, *fold(w1, b1, w2), b2, scale)
