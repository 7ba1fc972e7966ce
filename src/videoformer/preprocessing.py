"""What a model's test input is, wherever the model comes from, and ``test_views``.

A model's ``DataSpec`` (size, clip spec, mean/std, crops, label set, test protocol) comes
from the first of: the released weights' tag (``timesformer_base.k400``, or a variant's
default tag), the metadata videoformer writes into its checkpoints, a Hugging Face
directory's ``preprocessor_config.json`` and ``config.json``, or the model class's
``default_data_config()``. ``test_views`` runs the protocol the spec names
(``videoformer.data.protocols``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from os import PathLike
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .checkpoint import read_hf_config, read_metadata
from .data.protocols import build_protocol, parse_views
from .data.sampling import ClipSampler
from .factory import weights_source
from .models.registry import KINETICS_MEAN, KINETICS_STD, DataSpec, is_registered, resolve_weights

log = logging.getLogger(__name__)

# DataSpec fields as videoformer's checkpoint metadata names them (flat, beside the labels)
METADATA_KEYS = {
    "size": "size", "clip": "clip", "mean": "mean", "std": "std", "sampler": "sampler",
    "labels": "label_set", "test_short_side": "test_short_side", "protocol": "protocol",
    "num_crops": "num_crops", "audio_rate": "audio_rate",
}


def spec_to_metadata(spec: DataSpec) -> dict[str, Any]:
    meta = {key: getattr(spec, name) for name, key in METADATA_KEYS.items()}
    return {**meta, "mean": list(spec.mean), "std": list(spec.std)}


def spec_from_metadata(meta: dict[str, Any]) -> DataSpec:
    """The DataSpec of checkpoint metadata (older files lack protocol and crops)."""
    fields = {name: meta[key] for name, key in METADATA_KEYS.items() if key in meta}
    fields["mean"], fields["std"] = tuple(fields["mean"]), tuple(fields["std"])
    return DataSpec(**fields)


def hf_data_config(directory: str | PathLike) -> DataSpec:
    """A Hugging Face TimeSformer directory's input: ``num_frames`` and ``image_size`` from
    ``config.json``, the VideoMAE processor's resize, crop and normalisation from
    ``preprocessor_config.json`` (frames: evenly spread, as the shared goldens take them).
    Without a processor file, the official TimeSformer normalisation at the config's size."""
    directory = Path(directory)
    config = read_hf_config(directory) or {}
    if config.get("model_type", "timesformer") != "timesformer":
        raise ValueError(f"{directory}: only TimeSformer directories carry a video processor")
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


def with_views(spec: DataSpec, views: str | None) -> DataSpec:
    """The spec with ``"CLIPSxCROPS"`` test views instead of its own counts."""
    if not views:
        return spec
    clips, crops = parse_views(views)
    sampler = ClipSampler.parse(spec.clip)
    return replace(
        spec, clip=f"{sampler.clip_len}x{sampler.frame_interval}x{clips}", num_crops=crops
    )


def fit_to_model(spec: DataSpec, model: nn.Module) -> DataSpec:
    """The spec at the model's own input size and clip length, where a config override
    changed them (the official protocol was made for the released size)."""
    own = model.default_data_config()
    own_len, sampler = ClipSampler.parse(own.clip).clip_len, ClipSampler.parse(spec.clip)
    if (own.size, own_len) == (spec.size, sampler.clip_len):
        return spec
    log.warning(
        "the model takes %d frames of %d px, the weights' test protocol %d of %d px: "
        "the model's own wins",
        own_len,
        own.size,
        sampler.clip_len,
        spec.size,
    )
    clip = f"{own_len}x{sampler.frame_interval}x{sampler.num_clips}"
    return replace(spec, size=own.size, clip=clip, test_short_side=None)


def data_config(model: str | PathLike | nn.Module) -> DataSpec:
    """The test input of a model object, a ``variant[.tag]`` name, or a checkpoint (file,
    model directory, URL, Hugging Face id)."""
    if isinstance(model, nn.Module):
        spec = getattr(model, "weights_spec", None)
        return (
            spec.data if spec else getattr(model, "data_spec", None) or model.default_data_config()
        )
    text = str(model)
    if not Path(text).exists() and is_registered(text):
        entry, spec = resolve_weights(text)
        spec = spec or (entry.weights[0] if entry.weights else None)
        if spec is not None:
            return spec.data
        with torch.device("meta"):
            return entry.build().default_data_config()
    path = weights_source(text)
    if path.is_dir() and (path / "config.json").is_file():
        return hf_data_config(path)
    meta, _ = read_metadata(path)
    if meta is None:
        raise ValueError(
            f"{path} carries no preprocessing (not a videoformer checkpoint): name its variant "
            "or tag instead, e.g. timesformer_base.k400"
        )
    return spec_from_metadata(meta)


def test_views(
    video: str | PathLike | Tensor,
    model: str | PathLike | nn.Module,
    views: str | None = None,
    fps: float | None = None,
) -> Tensor:
    """The test views of ``video`` exactly as the official test code of ``model``'s weights
    builds them: float32 ``(V, C, T, H, W)``, V = clips x crops, clip-major.

    Args:
        video: a video file, or uint8 frames ``(T, H, W, C)`` shown at ``fps`` (default 30).
        model: a tag (``timesformer_base.k400``), a variant (its default tag), a checkpoint
            (videoformer file, HF directory or id, URL) or a model object.
        views: ``"CLIPSxCROPS"`` instead of the protocol's own counts, e.g. ``"4x3"``.
    """
    return build_protocol(data_config(model), views).views(video, fps)


__all__ = [
    "data_config",
    "fit_to_model",
    "hf_data_config",
    "spec_from_metadata",
    "spec_to_metadata",
    "test_views",
    "with_views",
]
