"""Two-layer feed-forward network."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class Mlp(nn.Module):
    """Linear -> GELU (exact erf form) -> dropout -> Linear -> dropout; names ``fc1``/``fc2``.

    When training without dropout, the three run as one autograd function that keeps only
    the block's input and fc1's output for backward and recomputes the GELU there: the
    GELU's output (hidden_dim floats per token, the largest tensor a transformer block
    keeps) is not stored. Forward values are the same ops as the plain path."""

    def __init__(
        self, dim: int, hidden_dim: int, out_dim: int | None = None, drop: float = 0.0
    ) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, out_dim or dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: Tensor) -> Tensor:
        """x: (..., D) -> (..., out_dim)."""
        if torch.is_grad_enabled() and self.training and self.drop.p == 0.0:
            return GeluMlpFunction.apply(
                x, self.fc1.weight, self.fc1.bias, self.fc2.weight, self.fc2.bias
            )
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class GeluMlpFunction(torch.autograd.Function):
    """fc2(gelu(fc1(x))) saving x and fc1's output, not the GELU's output.

    Under autocast the forward's linears run in the autocast dtype; backward computes in
    the dtype of what was saved and returns each gradient in its input's dtype."""

    @staticmethod
    def forward(ctx, x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor) -> Tensor:
        hidden = F.linear(x, w1, b1)  # (..., H)
        out = F.linear(F.gelu(hidden), w2, b2)  # (..., D_out)
        ctx.save_for_backward(x, hidden, w1, w2)
        return out

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        x, hidden, w1, w2 = ctx.saved_tensors
        need_x, need_w1, need_b1, need_w2, need_b2 = ctx.needs_input_grad
        dtype = hidden.dtype
        g = grad_out.to(dtype).reshape(-1, grad_out.shape[-1])  # (M, D_out)
        h = hidden.reshape(-1, hidden.shape[-1])  # (M, H)
        grad_x = grad_w1 = grad_b1 = grad_w2 = grad_b2 = None
        if need_w2:
            grad_w2 = (g.t() @ F.gelu(h)).to(w2.dtype)  # the GELU recomputed
        if need_b2:
            grad_b2 = g.sum(0).to(w2.dtype)  # a Linear's bias has its weight's dtype
        if need_x or need_w1 or need_b1:
            grad_h = torch.ops.aten.gelu_backward(g @ w2.to(dtype), h)  # (M, H)
            if need_w1:
                grad_w1 = (grad_h.t() @ x.reshape(-1, x.shape[-1]).to(dtype)).to(w1.dtype)
            if need_b1:
                grad_b1 = grad_h.sum(0).to(w1.dtype)
            if need_x:
                grad_x = (grad_h @ w1.to(dtype)).to(x.dtype).reshape(x.shape)
        return grad_x, grad_w1, grad_b1, grad_w2, grad_b2
