"""What every model offers around its own ``forward_features``: the classifier head."""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor, nn

from .registry import apply_overrides


def make_head(num_features: int, num_classes: int) -> nn.Module:
    """A trunc-normal(0.02) Linear classifier, or Identity for ``num_classes=0`` (features)."""
    if not num_classes:
        return nn.Identity()
    head = nn.Linear(num_features, num_classes)
    nn.init.trunc_normal_(head.weight, std=0.02)
    nn.init.zeros_(head.bias)
    return head


class Classifier(nn.Module):
    """Subclasses set ``family``, ``config`` (with ``num_classes``), ``num_features``,
    ``head`` and implement ``forward_features(x) -> (B, num_features)``."""

    family: ClassVar[str]
    classifier_name: ClassVar[str] = "head"

    def forward_features(self, x) -> Tensor:
        raise NotImplementedError

    def forward_head(self, features: Tensor) -> Tensor:
        """features: (B, D) -> logits (B, num_classes)."""
        return self.head(features)

    def forward(self, x) -> Tensor:
        return self.forward_head(self.forward_features(x))

    def reset_classifier(self, num_classes: int) -> None:
        """A fresh classifier for ``num_classes`` (0: the model returns pooled features)."""
        self.config = apply_overrides(self.config, {"num_classes": num_classes})
        self.head = make_head(self.num_features, num_classes)

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        raise NotImplementedError(f"gradient checkpointing is not implemented for {type(self).__name__}")
