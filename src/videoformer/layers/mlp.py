"""Two-layer feed-forward network, optionally after its block's LayerNorm."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .in_place import may_overwrite
from .norm_linear import fuses_norm, normalize, normalize_backward


class Mlp(nn.Module):
    """Linear -> GELU (exact erf form) -> dropout -> Linear -> dropout; names ``fc1``/``fc2``.

    When training without dropout, the three (and the block's LayerNorm before them, when
    passed as ``norm``) run as one autograd function that keeps only the block's input
    and fc1's output for backward and recomputes the GELU (and the norm) there: neither
    the GELU's output (hidden_dim floats per token, the largest tensor a transformer
    block keeps) nor the normalised input is stored. Forward values are the same ops as
    the plain path."""

    def __init__(
        self, dim: int, hidden_dim: int, out_dim: int | None = None, drop: float = 0.0
    ) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, out_dim or dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: Tensor, norm: nn.Module | None = None) -> Tensor:
        """x: (..., D) -> (..., out_dim); ``mlp(x, norm)`` is ``mlp(norm(x))``."""
        if torch.is_grad_enabled() and self.training and self.drop.p == 0.0:
            fused = fuses_norm(norm, self)
            if norm is not None and not fused:
                x = norm(x)
            return GeluMlpFunction.apply(
                x,
                norm.weight if fused else None,
                norm.bias if fused else None,
                norm.eps if fused else 0.0,
                self.fc1.weight,
                self.fc1.bias,
                self.fc2.weight,
                self.fc2.bias,
            )
        if norm is not None:
            x = norm(x)
        hidden = self.fc1(x)  # (..., H); without autograd the GELU overwrites it
        hidden = torch.ops.aten.gelu_(hidden) if may_overwrite(self.fc1) else self.act(hidden)
        return self.drop(self.fc2(self.drop(hidden)))


class GeluMlpFunction(torch.autograd.Function):
    """fc2(gelu(fc1(x))), or fc2(gelu(fc1(layer_norm(x)))) when ``norm_weight`` is given,
    saving x (with the norm's mean and rstd) and fc1's output.

    Under autocast the forward's linears run in the autocast dtype; backward computes in
    the dtype of what was saved and returns each gradient in its input's dtype."""

    @staticmethod
    def forward(ctx, x, norm_weight, norm_bias, eps, w1, b1, w2, b2):
        y, mean, rstd = x, None, None
        if norm_weight is not None:
            y, mean, rstd = normalize(x, norm_weight, norm_bias, eps)  # (..., D)
        hidden = F.linear(y, w1, b1)  # (..., H)
        out = F.linear(F.gelu(hidden), w2, b2)  # (..., D_out)
        ctx.eps = eps
        ctx.save_for_backward(x, hidden, w1, w2, mean, rstd, norm_weight, norm_bias)
        return out

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        x, hidden, w1, w2, mean, rstd, norm_weight, norm_bias = ctx.saved_tensors
        normed = norm_weight is not None
        need_x, need_nw, need_nb, _, need_w1, need_b1, need_w2, need_b2 = ctx.needs_input_grad
        dtype = hidden.dtype
        g = grad_out.to(dtype).reshape(-1, grad_out.shape[-1])  # (M, D_out)
        h = hidden.reshape(-1, hidden.shape[-1])  # (M, H)
        grad_x = grad_nw = grad_nb = grad_w1 = grad_b1 = grad_w2 = grad_b2 = None
        if need_w2:
            grad_w2 = (g.t() @ F.gelu(h)).to(w2.dtype)  # the GELU recomputed
        if need_b2:
            grad_b2 = g.sum(0).to(w2.dtype)  # a Linear's bias has its weight's dtype
        if not (need_x or need_nw or need_nb or need_w1 or need_b1):
            return grad_x, grad_nw, grad_nb, None, grad_w1, grad_b1, grad_w2, grad_b2
        grad_h = g @ w2.to(dtype)  # (M, H), then through the GELU in place (one buffer)
        torch.ops.aten.gelu_backward.grad_input(grad_h, h, grad_input=grad_h)
        if need_w1:
            y = normalize(x, norm_weight, norm_bias, ctx.eps)[0] if normed else x  # recomputed
            grad_w1 = (grad_h.t() @ y.reshape(-1, x.shape[-1]).to(dtype)).to(w1.dtype)
        if need_b1:
            grad_b1 = grad_h.sum(0).to(w1.dtype)
        if need_x or need_nw or need_nb:
            grad_y = (grad_h @ w1.to(dtype)).reshape(x.shape)
            if normed:
                grad_x, grad_nw, grad_nb = normalize_backward(
                    grad_y, x, mean, rstd, norm_weight, norm_bias, (need_x, need_nw, need_nb)
                )
            elif need_x:
                grad_x = grad_y.to(x.dtype)
        return grad_x, grad_nw, grad_nb, None, grad_w1, grad_b1, grad_w2, grad_b2
