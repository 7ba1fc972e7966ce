"""The table of checkpoint layouts, resizers and HF config readers the converters fill in.

A layout says, from a state dict's keys alone, whether the dict is in its format
(``detect``), and maps it onto videoformer's keys for a target config (``convert``).
The detectors of one family are mutually exclusive, so what a file is never depends
on the order converters register in; ``claiming_layouts`` lists every layout that
claims a dict and ``videoformer.checkpoint`` refuses a dict two layouts claim.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from torch import Tensor

StateDict = dict[str, Tensor]


@dataclass(frozen=True)
class Layout:
    """A checkpoint layout ``load_checkpoint`` can detect and convert.

    ``detect(state_dict)`` says whether a state dict is in this layout (keys and shapes
    only); ``convert(state_dict, config)`` maps it onto the keys of a ``family`` model
    built from ``config``.
    """

    name: str
    family: str
    detect: Callable[[Mapping[str, Tensor]], bool]
    convert: Callable[[Mapping[str, Tensor], Any], StateDict]
    description: str


LAYOUTS: list[Layout] = []
# family -> fn(state_dict, config) -> state_dict resampled to the config's shapes
RESIZERS: dict[str, Callable[[Mapping[str, Tensor], Any], StateDict]] = {}
# family -> fn(HF config.json dict) -> our config fields (raises for another model_type)
HF_CONFIG_READERS: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {}


def register_layout(layout: Layout) -> Layout:
    if any(lay.name == layout.name for lay in LAYOUTS):
        raise ValueError(f"checkpoint layout {layout.name!r} is registered twice")
    LAYOUTS.append(layout)
    return layout


def layouts_for(family: str) -> list[Layout]:
    """The layouts a model of ``family`` reads."""
    return [lay for lay in LAYOUTS if lay.family == family]


def claiming_layouts(sd: Mapping[str, Tensor], family: str | None = None) -> list[Layout]:
    """Every layout (of ``family``, or of any family) whose detector claims ``sd``."""
    return [lay for lay in LAYOUTS if (family is None or lay.family == family) and lay.detect(sd)]
