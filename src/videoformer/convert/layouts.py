"""The tables the converters fill in: checkpoint layouts, resizers, HF config readers.

A layout says, from a state dict's keys alone, whether the dict is in its format
(``detect``), and maps it onto videoformer's keys for a target config (``convert``).
The detectors of one family are mutually exclusive, so what a file is never depends
on the order converters register in; ``claiming_layouts`` lists every layout that
claims a dict and ``videoformer.weights.loading`` refuses a dict two layouts claim.
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


@dataclass(frozen=True)
class HFConfigReader:
    """How a Hugging Face directory of ``model_type`` becomes a model of ``family``:
    ``read(config.json) -> our config fields``; ``video_processor``: its
    ``preprocessor_config.json`` is a VideoMAE processor that gives its test views."""

    model_type: str
    family: str
    read: Callable[[Mapping[str, Any]], dict[str, Any]]
    video_processor: bool = False


LAYOUTS: list[Layout] = []
# family -> fn(state_dict, config) -> state_dict resampled to the config's shapes
RESIZERS: dict[str, Callable[[Mapping[str, Tensor], Any], StateDict]] = {}
# config.json model_type -> its reader
HF_CONFIGS: dict[str, HFConfigReader] = {}
# family -> fn(state dict in our keys) -> the config fields its shapes determine
CONFIG_FROM_SHAPES: dict[str, Callable[[Mapping[str, Tensor]], dict[str, Any]]] = {}


def register_hf_config(reader: HFConfigReader) -> HFConfigReader:
    if reader.model_type in HF_CONFIGS:
        raise ValueError(f"HF model_type {reader.model_type!r} is registered twice")
    HF_CONFIGS[reader.model_type] = reader
    return reader


def hf_reader_for(family: str) -> HFConfigReader | None:
    """The HF config reader of a family, if it reads HF directories."""
    return next((r for r in HF_CONFIGS.values() if r.family == family), None)


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
