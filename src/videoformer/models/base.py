"""What every model offers around its own ``forward_features``: the classifier head."""

from __future__ import annotations

from typing import Any, ClassVar

import torch.utils.checkpoint
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
    grad_checkpointing: bool = False  # see set_grad_checkpointing

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
        """Recompute each block's activations during backward: less memory, one more forward."""
        for module in self.modules():
            if hasattr(module, "grad_checkpointing"):
                module.grad_checkpointing = enable


def run_block(owner: nn.Module, block: nn.Module, *args: Any, **kwargs: Any) -> Any:
    """``block(*args, **kwargs)``, checkpointed when ``owner.grad_checkpointing`` is on in training."""
    if owner.grad_checkpointing and owner.training:
        return torch.utils.checkpoint.checkpoint(block, *args, use_reentrant=False, **kwargs)
    return block(*args, **kwargs)
