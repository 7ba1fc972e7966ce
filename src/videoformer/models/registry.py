"""Model registry: ``register_model``, ``create_model``, ``list_models``.

Each model file registers its variants (``timesformer_base`` ...) and names one of
them the base of its family, so ``create_model("timesformer", **fields)`` starts
from the official defaults and changes only the fields given.
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import logging
import typing
from collections.abc import Callable
from dataclasses import dataclass
from os import PathLike
from typing import Any, TypeVar

from torch import nn

from ..fields import coerce

log = logging.getLogger(__name__)

C = TypeVar("C")


@dataclass(frozen=True)
class WeightsSpec:
    """Where a variant's official weights come from and how they expect their input."""

    url: str
    layout: str  # the converter ``load_checkpoint`` detects for these files
    license: str
    mean: tuple[float, float, float] = (0.45, 0.45, 0.45)
    std: tuple[float, float, float] = (0.225, 0.225, 0.225)
    clip: str = ""  # clip spec "{clip_len}x{frame_interval}x{num_clips}"
    labels: str = ""  # label set, e.g. "kinetics400"


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
    return dataclasses.replace(config, **{k: coerce(v, hints[k], f"{name}.{k}") for k, v in overrides.items()})


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


def create_model(
    name: str, pretrained: str | PathLike | dict | None = None, **overrides: Any
) -> nn.Module:
    """Build a registered variant (or a family's base variant) with config overrides.

    Args:
        name: a variant (``timesformer_base``) or family (``timesformer``) name.
        pretrained: a checkpoint in any layout ``load_checkpoint`` reads. A Hugging Face
            model directory also supplies config fields from its ``config.json``; explicit
            ``overrides`` win. Without a ``num_classes`` override the model takes the
            checkpoint's classifier size (a Kinetics-600 file gives a 600-way head); with
            one that differs, the classifier keeps its fresh initialisation (fine-tuning;
            the load report says so).
        overrides: config fields; an unknown field raises ``ValueError``.
    """
    from ..checkpoint import config_from_checkpoint_dir, load_checkpoint

    entry = get_model_entry(name)
    classes_given = "num_classes" in overrides
    if pretrained is not None and not isinstance(pretrained, dict):
        overrides = {**config_from_checkpoint_dir(pretrained, entry.family), **overrides}
    model = entry.build(**overrides)
    if pretrained is not None:
        report = load_checkpoint(model, pretrained, classifier="reinit" if classes_given else "adopt")
        log.info("%s: %s", entry.name, report)
        model.load_report = report
    return model
