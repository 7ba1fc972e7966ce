"""Model registry: ``register_model``, ``list_models``, ``get_model_entry``.

Each model file registers its variants (``timesformer_base`` ...) and names one of
them the base of its family, so ``create_model("timesformer", **fields)`` starts
from the official defaults and changes only the fields given. Pure: nothing here
reads files or loads weights (``videoformer.weights.factory.create_model`` does, above
it).
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from torch import nn

from ..fields import coerce
from ..specs import DataSpec, WeightsSpec  # noqa: F401  (DataSpec re-exported)

C = TypeVar("C")


@dataclass(frozen=True)
class ModelEntry:
    name: str
    family: str
    build: Callable[..., nn.Module]
    weights: tuple[WeightsSpec, ...] = ()  # the first is the default tag

    def weights_for(self, tag: str | None) -> WeightsSpec:
        """The weights of ``tag`` (None: the default tag); unknown tags list the known ones."""
        if not self.weights:
            raise ValueError(f"{self.name} has no released weights; pass a checkpoint file instead")
        if tag is None:
            return self.weights[0]
        for w in self.weights:
            if w.tag == tag:
                return w
        known = [w.tag for w in self.weights]
        close = difflib.get_close_matches(tag, known, n=3, cutoff=0.3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ValueError(
            f"{self.name} has no weights tagged {tag!r}{hint}; tags: {', '.join(known)}"
        )


_MODELS: dict[str, ModelEntry] = {}
_FAMILY_BASE: dict[str, str] = {}


def register_model(
    *, family: str, base: bool = False, weights: Sequence[WeightsSpec] = ()
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register a variant builder ``fn(**overrides) -> nn.Module`` under its function name,
    with its released weights (the first is the default tag)."""

    def wrap(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if fn.__name__ in _MODELS:
            raise ValueError(f"model {fn.__name__!r} is registered twice")
        tags = [w.tag for w in weights]
        if len(set(tags)) != len(tags):
            raise ValueError(f"model {fn.__name__!r} has a weights tag twice: {tags}")
        _MODELS[fn.__name__] = ModelEntry(fn.__name__, family, fn, tuple(weights))
        if base:
            _FAMILY_BASE[family] = fn.__name__
        return fn

    return wrap


def apply_overrides(config: C, overrides: dict[str, Any]) -> C:
    """``dataclasses.replace`` that names the valid fields when a key is unknown and turns
    plain values (lists, dicts from YAML or JSON) into the fields' types."""
    fields = [f.name for f in dataclasses.fields(config)]
    unknown = sorted(set(overrides) - set(fields))
    if unknown:
        raise ValueError(
            f"unknown {type(config).__name__} field(s) {unknown}; valid fields: {', '.join(fields)}"
        )
    hints = typing.get_type_hints(type(config))
    name = type(config).__name__
    return dataclasses.replace(
        config, **{k: coerce(v, hints[k], f"{name}.{k}") for k, v in overrides.items()}
    )


def list_models(pattern: str = "*", pretrained: bool = False) -> list[str]:
    """Registered variant names matching a shell-style pattern, sorted; with
    ``pretrained=True`` the ``variant.tag`` names of released weights instead."""
    if pretrained:
        names = [f"{e.name}.{w.tag}" for e in _MODELS.values() for w in e.weights]
        return sorted(
            n
            for n in names
            if fnmatch.fnmatch(n, pattern) or fnmatch.fnmatch(n.split(".")[0], pattern)
        )
    return sorted(n for n in _MODELS if fnmatch.fnmatch(n, pattern))


def list_families() -> dict[str, str]:
    """Family name -> its base variant."""
    return dict(_FAMILY_BASE)


def get_model_entry(name: str) -> ModelEntry:
    """The entry of a variant or family name; unknown names list the closest ones."""
    name = _FAMILY_BASE.get(name, name)
    if name not in _MODELS:
        known = list(_MODELS) + list(_FAMILY_BASE)
        close = difflib.get_close_matches(name, known, n=5, cutoff=0.4)
        hint = f"; closest: {', '.join(close)}" if close else ""
        raise ValueError(f"unknown model {name!r}{hint} (videoformer list-models shows all)")
    return _MODELS[name]


def split_tag(name: str) -> tuple[str, str | None]:
    """``"timesformer_base.k400"`` -> ("timesformer_base", "k400"); no tag -> None."""
    variant, _, tag = name.partition(".")
    return variant, tag or None


def resolve_weights(name: str) -> tuple[ModelEntry, WeightsSpec | None]:
    """The entry of ``variant[.tag]`` and the weights the tag names (None without a tag)."""
    variant, tag = split_tag(name)
    entry = get_model_entry(variant)
    return entry, entry.weights_for(tag) if tag else None


def is_registered(name: str) -> bool:
    """Whether ``name`` is a registered ``variant[.tag]`` or family."""
    try:
        resolve_weights(name)
    except ValueError:
        return False
    return True
