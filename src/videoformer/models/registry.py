"""Model registry: ``register_model``, ``list_models``, ``get_model_entry``.

Each model file registers its variants (``timesformer_base`` ...) and names one of
them the base of its family, so ``create_model("timesformer", **fields)`` starts
from the official defaults and changes only the fields given. Pure: nothing here
reads files or loads weights (``videoformer.factory.create_model`` does, above it).
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from torch import nn

from ..fields import coerce

C = TypeVar("C")


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
KINETICS_MEAN = (0.45, 0.45, 0.45)  # the official TimeSformer (PySlowFast) normalisation
KINETICS_STD = (0.225, 0.225, 0.225)


@dataclass(frozen=True)
class DataSpec:
    """What a model's input is at test time: frames, size, normalisation, label set.

    ``clip`` is ``"{clip_len}x{frame_interval}x{num_clips}"`` (``"1x1x1"`` for images);
    frames are resized to ``test_short_side`` (None: ``size``) on the short side, then
    cropped to ``size`` squared.
    """

    size: int
    clip: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    sampler: str = "dense"  # "dense" (clips of a frame interval) or "segment" (TSN)
    labels: str = ""  # shipped label set, e.g. "kinetics400"; "" for none
    test_short_side: int | None = None


@dataclass(frozen=True)
class WeightsSpec:
    """Where a variant's official weights come from and the input they were tested on."""

    url: str
    layout: str  # the converter ``load_checkpoint`` detects for these files
    license: str
    data: DataSpec


@dataclass(frozen=True)
class ModelEntry:
    name: str
    family: str
    build: Callable[..., nn.Module]
    weights: WeightsSpec | None = None


_MODELS: dict[str, ModelEntry] = {}
_FAMILY_BASE: dict[str, str] = {}


def register_model(
    *, family: str, base: bool = False, weights: WeightsSpec | None = None
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register a variant builder ``fn(**overrides) -> nn.Module`` under its function name."""

    def wrap(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if fn.__name__ in _MODELS:
            raise ValueError(f"model {fn.__name__!r} is registered twice")
        _MODELS[fn.__name__] = ModelEntry(fn.__name__, family, fn, weights)
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


def list_models(pattern: str = "*") -> list[str]:
    """Registered variant names matching a shell-style pattern, sorted."""
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
