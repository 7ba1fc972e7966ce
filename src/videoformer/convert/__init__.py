"""Pure state-dict converters, one module per official release, and the layout table.

A converter takes a state dict in a foreign layout plus the *target config* and
returns a state dict with videoformer's keys. A family's resizer then resamples
tensors whose shape depends on the config (position embeddings, bias tables).
No I/O happens here; ``videoformer.checkpoint`` reads files and picks the layout.
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

    ``detect(state_dict, config)`` says whether a state dict is in this layout for a
    model of ``family``; ``convert(state_dict, config)`` maps it onto our keys.
    """

    name: str
    family: str
    detect: Callable[[Mapping[str, Tensor], Any], bool]
    convert: Callable[[Mapping[str, Tensor], Any], StateDict]
    description: str


LAYOUTS: list[Layout] = []
# family -> fn(state_dict, config) -> state_dict resampled to the config's shapes
RESIZERS: dict[str, Callable[[Mapping[str, Tensor], Any], StateDict]] = {}
# family -> fn(HF config.json dict) -> our config fields (raises for another model_type)
HF_CONFIG_READERS: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {}


def register_layout(layout: Layout) -> Layout:
    LAYOUTS.append(layout)
    return layout


def layouts_for(family: str) -> list[Layout]:
    """Layouts of a family, most specific first (registration order)."""
    return [lay for lay in LAYOUTS if lay.family == family]


from . import (  # noqa: E402,F401  (register layouts)
    perceiver_hf,
    swin_official,
    timesformer_hf,
    timesformer_official,
    video_swin_official,
    vit_imagenet,
)
from .timesformer_official import resize_timesformer_embeddings  # noqa: E402
from .video_swin_official import inflate_swin_2d_to_3d  # noqa: E402

__all__ = [
    "HF_CONFIG_READERS",
    "LAYOUTS",
    "RESIZERS",
    "Layout",
    "StateDict",
    "inflate_swin_2d_to_3d",
    "layouts_for",
    "register_layout",
    "resize_timesformer_embeddings",
]
