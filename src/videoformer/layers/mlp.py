"""Two-layer feed-forward network."""

from __future__ import annotations

from torch import Tensor, nn


class Mlp(nn.Module):
    """Linear -> GELU (exact erf form) -> dropout -> Linear -> dropout; names ``fc1``/``fc2``."""

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
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))
