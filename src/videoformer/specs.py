"""What a model's input is and where its weights come from, as plain data: ``DataSpec``,
``WeightsSpec``, and the closed sets they name (test protocols, view aggregations).

The lowest layer of the package besides ``fields`` and ``seeding``: models declare their
``DataSpec``, the data pipeline builds a spec's protocol, the tools carry it with a model.
Each closed set has one table here; the CLI's choices, the validation and the dispatch
read it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import Tensor

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
KINETICS_MEAN = (0.45, 0.45, 0.45)  # the official TimeSformer (PySlowFast) normalisation
KINETICS_STD = (0.225, 0.225, 0.225)

# How the scores of a video's views combine into the video's: the sum of logits (the
# official TimeSformer test), the mean of softmax (mmaction2, HF, this library's recipes),
# the mean of sigmoid (multi-label models).
AGGREGATES = ("sum_logits", "mean_softmax", "mean_sigmoid")

# Test protocol -> how its views combine unless a spec says otherwise
# (``videoformer.data.protocols`` implements each).
PROTOCOL_AGGREGATES: dict[str, str] = {
    "videoformer": "mean_softmax",
    "timesformer": "sum_logits",
    "timesformer_ssv2": "sum_logits",
    "mmaction": "mean_softmax",
    "hf_videomae": "mean_softmax",
}


@dataclass(frozen=True)
class DataSpec:
    """What a model's input is at test time: frames, size, normalisation, crops, label set,
    the ``protocol`` that builds the views (``videoformer.data.protocols``) and how the
    views' scores combine (``aggregate``; empty: the protocol's own).

    ``clip`` is ``"{clip_len}x{frame_interval}x{num_clips}"`` (``"1x1x1"`` for images);
    frames are resized to ``test_short_side`` (None: ``size``) on the short side, then
    ``num_crops`` crops of ``size`` squared are taken.
    """

    size: int
    clip: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    sampler: str = "dense"  # "dense" (clips of a frame interval) or "segment" (TSN)
    labels: str = ""  # shipped label set, e.g. "kinetics400"; "" for none
    test_short_side: int | None = None
    protocol: str = "videoformer"
    num_crops: int = 1
    audio_rate: int = 0  # sample rate of a raw-audio input ("audio"); 0: the model takes none
    aggregate: str = ""  # one of AGGREGATES; "" becomes the protocol's

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOL_AGGREGATES:
            raise ValueError(
                f"protocol {self.protocol!r} is not one of {', '.join(PROTOCOL_AGGREGATES)}"
            )
        if not self.aggregate:
            object.__setattr__(self, "aggregate", PROTOCOL_AGGREGATES[self.protocol])
        if self.aggregate not in AGGREGATES:
            raise ValueError(f"aggregate {self.aggregate!r} is not one of {', '.join(AGGREGATES)}")


@dataclass(frozen=True)
class WeightsSpec:
    """One released set of weights of a variant (``variant.tag``): where the file is, where
    that address is published, its license, the config it needs and the input it was
    tested on."""

    tag: str
    url: str  # the file itself (http(s)://); a Hugging Face repo as hf://org/name
    source: str  # the page that lists it (official README or model zoo)
    layout: str  # the converter ``load_checkpoint`` detects for this file
    license: str
    data: DataSpec
    num_classes: int
    sha256: str = ""  # hex digest or its first characters (OpenMMLab file names); "" unknown
    config: dict[str, Any] = field(default_factory=dict)  # config fields the weights need
    # the accuracy ``source`` reports for these weights under ``data``'s protocol (%), and
    # what it is measured on; None where the release reports none for these weights
    top1: float | None = None
    top5: float | None = None
    reported_on: str = ""

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z0-9_]+", self.tag):
            raise ValueError(f"weights tag {self.tag!r}: lower-case letters, digits and _ only")


def reported(spec: WeightsSpec, top1: float, top5: float | None, on: str) -> WeightsSpec:
    """``spec`` with the accuracy its release page reports (``spec.source``)."""
    return replace(spec, top1=top1, top5=top5, reported_on=on)


def combine_views(logits: Tensor, how: str) -> Tensor:
    """One video's scores from its views' logits (V, K) -> (K,): ``how`` is one of
    ``AGGREGATES`` (summed logits, or probabilities averaged over the views)."""
    logits = logits.float()
    if how == "sum_logits":
        return logits.sum(0)
    if how == "mean_softmax":
        return logits.softmax(-1).mean(0)
    if how == "mean_sigmoid":
        return logits.sigmoid().mean(0)
    raise ValueError(f"aggregate {how!r} is not one of {', '.join(AGGREGATES)}")


def view_probabilities(logits: Tensor, how: str) -> Tensor:
    """Per-class probabilities of a video from its views' logits (V, K): the views
    combined as ``how`` says; summed logits become the softmax of their mean (the same
    ranking as their sum, shown as probabilities)."""
    if how == "sum_logits":
        return torch.softmax(logits.float().mean(0), -1)
    return combine_views(logits, how)


# What a model source is (``videoformer.weights.source.resolve_source`` decides it once):
SOURCE_KINDS = {
    "variant": "a registered variant or family: its architecture (weights: its default tag)",
    "tag": "released weights, variant.tag",
    "model_file": "a model videoformer saved (.safetensors with metadata, or its folder)",
    "training": "a training checkpoint.pt (metadata beside the model's state dict)",
    "hf": "a Hugging Face model directory (config.json), local or from the hub",
    "foreign": "a checkpoint without metadata: the variant must be named",
    "model": "a model object built in this process",
}


@dataclass(frozen=True)
class ModelSource:
    """Where a model comes from and what comes with it, decided once from what the user
    gave (timm's ``pretrained_cfg`` plays this part). Built by ``resolve_source``; every
    entry point takes it, and the model it builds carries it as ``model.source``."""

    text: str  # what was given: a name, a path, a URL, a hub id
    kind: str  # one of SOURCE_KINDS
    variant: str | None = None  # the registered variant or family to build; None: not named
    weights: WeightsSpec | None = None  # the released weights meant (a tag)
    path: Any = None  # the local file or folder (Path) or the state dict to load; None: none yet
    config: dict[str, Any] = field(default_factory=dict)  # config fields the source sets
    data: DataSpec | None = None  # its test input; None: the model's own default
    labels: tuple[str, ...] | None = None  # class names, when the source carries them
    load_report: Any = None  # what loading the weights did (``LoadReport``), once loaded

    def __post_init__(self) -> None:
        if self.kind not in SOURCE_KINDS:
            raise ValueError(f"source kind {self.kind!r} is not one of {', '.join(SOURCE_KINDS)}")
