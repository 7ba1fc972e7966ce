"""A LayerNorm followed by a Linear that keeps the norm's input, not its output, for
backward: the normalised tensor (as large as the input) is recomputed there.

In training, the Linear after a pre-norm would keep the LayerNorm's output for its weight
gradient while the LayerNorm keeps its own input: two tensors of the input's size where
one is enough. Here only the input and the per-token mean and 1/std are kept; backward
recomputes the norm with the same kernel, so values and gradients are those of
``linear(norm(x))`` written plainly (tests/layers/test_norm_linear.py)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def fuses_norm(norm: nn.Module | None, module: nn.Module) -> bool:
    """Whether ``module`` (training, with gradients on) takes ``norm`` into its autograd
    function: a LayerNorm over the last dim with its affine parameters."""
    return (
        isinstance(norm, nn.LayerNorm)
        and len(norm.normalized_shape) == 1
        and norm.weight is not None
        and norm.bias is not None
        and module.training
        and torch.is_grad_enabled()
    )


def normalize(x: Tensor, weight: Tensor, bias: Tensor, eps: float) -> tuple[Tensor, ...]:
    """LayerNorm over the last dim: ``(y, mean, rstd)``, mean and rstd ``(..., 1)``."""
    return torch.native_layer_norm(x, (x.shape[-1],), weight, bias, eps)


def normalize_backward(
    grad_y: Tensor,
    x: Tensor,
    mean: Tensor,
    rstd: Tensor,
    weight: Tensor,
    bias: Tensor,
    needs: tuple[bool, bool, bool],
) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
    """Gradients of ``normalize`` for ``(x, weight, bias)``, None where not needed."""
    grads = torch.ops.aten.native_layer_norm_backward(
        grad_y.to(x.dtype), x, (x.shape[-1],), mean, rstd, weight, bias, list(needs)
    )
    return tuple(g if need else None for g, need in zip(grads, needs))


class LayerNormLinearFunction(torch.autograd.Function):
    """``linear(layer_norm(x))`` saving x, mean and rstd (not the normalised x).

    Under autocast the Linear runs in the autocast dtype as it would unfused; backward
    computes in that dtype and returns each gradient in its input's dtype."""

    @staticmethod
    def forward(ctx, x, norm_weight, norm_bias, eps, weight, bias):
        y, mean, rstd = normalize(x, norm_weight, norm_bias, eps)  # (..., D)
        out = F.linear(y, weight, bias)  # (..., D_out)
        ctx.eps, ctx.dtype = eps, out.dtype
        ctx.save_for_backward(x, mean, rstd, norm_weight, norm_bias, weight)
        return out

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        x, mean, rstd, norm_weight, norm_bias, weight = ctx.saved_tensors
        need_x, need_nw, need_nb, _, need_w, need_b = ctx.needs_input_grad
        g = grad_out.to(ctx.dtype).reshape(-1, grad_out.shape[-1])  # (M, D_out)
        grad_w = grad_b = grad_x = grad_nw = grad_nb = None
        if need_w:
            y = normalize(x, norm_weight, norm_bias, ctx.eps)[0]  # recomputed
            grad_w = (g.t() @ y.to(ctx.dtype).reshape(-1, x.shape[-1])).to(weight.dtype)
        if need_b:
            grad_b = g.sum(0).to(weight.dtype)
        if need_x or need_nw or need_nb:
            grad_y = (g @ weight.to(ctx.dtype)).reshape(x.shape)
            grad_x, grad_nw, grad_nb = normalize_backward(
                grad_y, x, mean, rstd, norm_weight, norm_bias, (need_x, need_nw, need_nb)
            )
        return grad_x, grad_nw, grad_nb, None, grad_w, grad_b


def norm_linear(x: Tensor, norm: nn.Module | None, linear: nn.Linear) -> Tensor:
    """``linear(norm(x))`` (``linear(x)`` without a norm); in training through
    ``LayerNormLinearFunction`` where ``fuses_norm`` allows."""
    if norm is None:
        return linear(x)
    if not fuses_norm(norm, linear):
        return linear(norm(x))
    return LayerNormLinearFunction.apply(
        x, norm.weight, norm.bias, norm.eps, linear.weight, linear.bias
    )
