"""The model contract: what every model offers around its own ``forward_features``, and
what it declares so that the engine and the tools never guess from parameter names.

A family declares, as class attributes:

- ``embeddings``: learned tokens and position embeddings (parameter names, or prefixes
  of names): no weight decay, ``embed_lr_mult`` in the optimizer;
- ``stem`` and ``block_lists``: for layer-wise lr decay, parameters under ``stem`` are
  layer 0, item ``i`` of a ``block_lists`` ModuleList is layer ``i + 1``, the rest
  (final norm, head) layer ``num_layers + 1``;
- ``block_types``: the repeated blocks, which FSDP shards one by one and ``run_block``
  recomputes under gradient checkpointing;

and implements ``forward_features``, ``input_shape`` and ``default_data_config``. For the
tools it declares ``multi_label`` (views combine by sigmoid) and ``relevance_methods``
(what ``explain`` may ask of ``relevance``). Adding a family touches ``models/`` (and
``convert/`` for its checkpoints), never the engine or the tools.

A built model carries where it came from as ``source`` (a ``ModelSource``, set by
``create_model``); ``weights_spec``, ``data_spec``, ``label_names`` and ``load_report``
read it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

import torch.utils.checkpoint
from torch import Tensor, nn

from ..layers import Relevance
from ..specs import DataSpec, ModelSource
from .registry import apply_overrides


def make_head(num_features: int, num_classes: int) -> nn.Module:
    """A Linear classifier, or Identity for ``num_classes=0`` (the model returns features).
    ``init_weights`` gives it its trunc-normal start."""
    return nn.Linear(num_features, num_classes) if num_classes else nn.Identity()


def init_weights(module: nn.Module, std: float = 0.02) -> None:
    """The official init of all four families, in module order: trunc-normal(``std``)
    Linear weights with zero biases, unit LayerNorms, and ``init_own_parameters()`` of
    modules that hold parameters of their own (relative-position bias tables)."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif hasattr(m, "init_own_parameters"):
            m.init_own_parameters(std)


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


class Classifier(nn.Module):
    """Subclasses set ``family``, ``config`` (with ``num_classes``), ``num_features``,
    ``head`` and implement ``forward_features(x) -> (B, num_features)``."""

    family: ClassVar[str]
    classifier_name: ClassVar[str] = "head"
    embeddings: ClassVar[tuple[str, ...]] = ()
    stem: ClassVar[tuple[str, ...]] = ()
    block_lists: ClassVar[tuple[str, ...]] = ()
    block_types: ClassVar[tuple[type[nn.Module], ...]] = ()
    relevance_methods: ClassVar[tuple[str, ...]] = ()  # layers.attribution.METHODS; 1st default
    grad_checkpointing: bool = False  # see set_grad_checkpointing
    source: ModelSource | None = None  # where the model came from (create_model sets it)

    def forward_features(self, x) -> Tensor:
        raise NotImplementedError

    def forward_head(self, features: Tensor) -> Tensor:
        """features: (B, D) -> logits (B, num_classes)."""
        return self.head(features)

    def forward(self, x) -> Tensor:
        return self.forward_head(self.forward_features(x))

    def relevance(
        self, x: Tensor, target: int | None = None, method: str | None = None
    ) -> Relevance:
        """Where the model looks for one input x (batch 1): its logits and a map on its
        token grid (T', h, w) summing to 1; ``target`` is the class for gradient-based
        maps (default: the predicted one), ``method`` one of ``relevance_methods`` (None:
        the first). Families that can explain implement ``explain_input``."""
        if not self.relevance_methods:
            raise NotImplementedError(f"{type(self).__name__} has no relevance maps")
        method = method or self.relevance_methods[0]
        if method not in self.relevance_methods:
            raise ValueError(
                f"{type(self).__name__} relevance methods: {', '.join(self.relevance_methods)}; "
                f"got {method!r}"
            )
        batch = next(iter(x.values())).shape[0] if isinstance(x, dict) else x.shape[0]
        if batch != 1:
            raise ValueError(f"relevance takes one input (batch 1), got a batch of {batch}")
        return self.explain_input(x, target, method)

    def explain_input(self, x: Tensor, target: int | None, method: str) -> Relevance:
        """``relevance`` of the family, for a checked ``method`` and batch 1."""
        raise NotImplementedError

    @property
    def multi_label(self) -> bool:
        """Whether classes are independent (sigmoid scores, views averaged by sigmoid)."""
        return False

    # --- where the model came from (its ``source``) -------------------------------------

    def _with_source(self, **fields: Any) -> None:
        self.source = replace(self.source or ModelSource("<model>", "model"), **fields)

    @property
    def weights_spec(self):
        """The released weights (``WeightsSpec``) the model was built for, or None."""
        return self.source.weights if self.source else None

    @property
    def load_report(self):
        """What loading the weights did (``LoadReport``), or None."""
        return self.source.load_report if self.source else None

    @property
    def data_spec(self) -> DataSpec | None:
        """The test input its source gives (None: ``default_data_config()``)."""
        return self.source.data if self.source else None

    @data_spec.setter
    def data_spec(self, spec: DataSpec | None) -> None:
        self._with_source(data=spec)

    @property
    def label_names(self) -> list[str] | None:
        labels = self.source.labels if self.source else None
        return list(labels) if labels else None

    @label_names.setter
    def label_names(self, labels: list[str] | None) -> None:
        self._with_source(labels=tuple(labels) if labels else None)

    @property
    def input_shape(self) -> tuple[int, ...] | dict[str, tuple[int, ...]]:
        """Default per-sample input shape (a dict of shapes for several inputs)."""
        raise NotImplementedError

    def default_data_config(self) -> DataSpec:
        """The input this model expects when no released weights say otherwise: size and
        frames from the config, the family's normalisation and label set."""
        raise NotImplementedError

    def reset_classifier(self, num_classes: int) -> None:
        """A fresh classifier for ``num_classes`` (0: the model returns pooled features)."""
        self.config = apply_overrides(self.config, {"num_classes": num_classes})
        self.head = make_head(self.num_features, num_classes)
        init_weights(self.head)

    # --- what the optimizer reads ---------------------------------------------------

    def learned_embeddings(self) -> set[str]:
        """Names of the learned tokens and position embeddings (``embed_lr_mult``)."""
        return {n for n, _ in self.named_parameters() if _under(n, self.embeddings)}

    def no_weight_decay(self) -> set[str]:
        """Names of parameters without weight decay besides norms and biases (which the
        optimizer recognises by their single dimension)."""
        return self.learned_embeddings()

    @property
    def num_layers(self) -> int:
        """Layers for layer-wise lr decay: the longest of the ``block_lists``."""
        return max((len(getattr(self, name)) for name in self.block_lists), default=0)

    def layer_id(self, name: str) -> int:
        """0 for the stem, ``i + 1`` for block ``i``, ``num_layers + 1`` for the rest."""
        first, _, rest = name.partition(".")
        if first in self.block_lists:
            return int(rest.split(".", 1)[0]) + 1
        if _under(name, self.stem):
            return 0
        return self.num_layers + 1

    # --- memory ----------------------------------------------------------------------

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute each block's activations during backward: less memory, one more forward."""
        for module in self.modules():
            if hasattr(module, "grad_checkpointing"):
                module.grad_checkpointing = enable


def run_block(owner: nn.Module, block: nn.Module, *args: Any, **kwargs: Any) -> Any:
    """``block(*args, **kwargs)``, checkpointed when ``owner.grad_checkpointing`` is on in
    training."""
    if owner.grad_checkpointing and owner.training:
        return torch.utils.checkpoint.checkpoint(block, *args, use_reentrant=False, **kwargs)
    return block(*args, **kwargs)


def unwrap_model(model: nn.Module) -> nn.Module:
    """The model itself under ``torch.compile`` and DDP wrappers (whose state-dict keys
    carry ``_orig_mod.`` / ``module.`` prefixes that must never reach a checkpoint)."""
    while True:
        inner = getattr(model, "_orig_mod", None) or (
            model.module if isinstance(model, nn.parallel.DistributedDataParallel) else None
        )
        if inner is None:
            return model
        model = inner


def compile_model(model: nn.Module, **options: Any) -> nn.Module:
    """``torch.compile(model, **options)``: the same outputs, faster after the first call
    (which compiles: seconds to minutes). Save ``unwrap_model(compiled)`` or the original;
    ``save_model`` and the trainer do."""
    return torch.compile(model, **options)
