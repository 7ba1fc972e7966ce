"""Hugging Face model directories: ``config.json`` (the architecture and label names) and
``preprocessor_config.json`` (a video processor's test views)."""

from __future__ import annotations

import json
import logging
from os import PathLike
from pathlib import Path
from typing import Any

from ..convert import HF_CONFIGS, HFConfigReader
from ..specs import KINETICS_MEAN, KINETICS_STD, DataSpec
from .loading import CheckpointError

log = logging.getLogger(__name__)


def read_hf_config(source: str | PathLike) -> dict[str, Any] | None:
    """The ``config.json`` of a model directory, or None."""
    path = Path(source)
    config = path / "config.json" if path.is_dir() else None
    if config is None or not config.is_file():
        return None
    try:
        parsed = json.loads(config.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{config}: not JSON ({e})") from None
    if not isinstance(parsed, dict):
        raise CheckpointError(f"{config}: not a JSON object")
    return parsed


def hf_reader(directory: str | PathLike, config: dict[str, Any]) -> HFConfigReader:
    """The reader of a directory's ``model_type``; an unknown one names the known ones."""
    model_type = config.get("model_type", "")
    if model_type not in HF_CONFIGS:
        raise CheckpointError(
            f"{directory}: config.json has model_type {model_type!r}; videoformer reads "
            f"{', '.join(sorted(HF_CONFIGS))} (or name the model)"
        )
    return HF_CONFIGS[model_type]


def hf_labels(config: dict[str, Any]) -> list[str] | None:
    """Label names in index order from ``id2label`` (string or integer keys), or None."""
    id2label = config.get("id2label")
    if not id2label:
        return None
    return [id2label[str(i)] if str(i) in id2label else id2label[i] for i in range(len(id2label))]


def hf_data_config(directory: str | PathLike) -> DataSpec:
    """A Hugging Face video directory's input: ``num_frames`` and ``image_size`` from
    ``config.json``, the VideoMAE processor's resize, crop and normalisation from
    ``preprocessor_config.json`` (frames: evenly spread, as the shared goldens take them).
    Without a processor file, the official TimeSformer normalisation at the config's size."""
    directory = Path(directory)
    config = read_hf_config(directory) or {}
    model_type = config.get("model_type", "timesformer")
    if model_type in HF_CONFIGS and not HF_CONFIGS[model_type].video_processor:
        raise ValueError(f"{directory}: a {model_type} directory carries no video processor")
    frames, image = config.get("num_frames", 8), config.get("image_size", 224)
    processor_file = directory / "preprocessor_config.json"
    if not processor_file.is_file():
        log.info("%s has no preprocessor_config.json: Kinetics mean/std at %d px", directory, image)
        return DataSpec(image, f"{frames}x1x1", KINETICS_MEAN, KINETICS_STD, protocol="hf_videomae")
    p = json.loads(processor_file.read_text())
    if p.get("resample", 2) != 2 or not p.get("do_center_crop", True):
        raise ValueError(
            f"{processor_file}: only bilinear resizing and a centre crop are reproduced"
        )
    size = p.get("size", {})
    short = size.get("shortest_edge", size.get("height", image)) if isinstance(size, dict) else size
    crop = p.get("crop_size", {})
    crop = crop.get("height", short) if isinstance(crop, dict) else crop
    return DataSpec(
        crop,
        f"{frames}x1x1",
        tuple(p.get("image_mean", (0.5,) * 3)),
        tuple(p.get("image_std", (0.5,) * 3)),
        test_short_side=short,
        protocol="hf_videomae",
    )
