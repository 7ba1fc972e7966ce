"""What a model's test input is, wherever the model comes from, and ``test_views``.

A model's ``DataSpec`` (size, clip spec, mean/std, crops, label set, test protocol, how
views combine) is what its source gives (``videoformer.weights.source``): the released
weights' tag (``timesformer_base.k400``, or a variant's default tag), the metadata
videoformer writes into its checkpoints, a Hugging Face directory's
``preprocessor_config.json`` and ``config.json``; or else the model class's
``default_data_config()``. ``test_views`` runs the protocol the spec names
(``videoformer.data.protocols``).
"""

from __future__ import annotations

from dataclasses import replace
from os import PathLike

import torch
from torch import Tensor, nn

from ..data.protocols import build_protocol, parse_views
from ..data.sampling import ClipSampler
from ..models.base import unwrap_model
from ..models.registry import get_model_entry
from ..specs import DataSpec, ModelSource
from ..weights.factory import model_data_spec
from ..weights.source import resolve_source


def with_views(spec: DataSpec, views: str | None) -> DataSpec:
    """The spec with ``"CLIPSxCROPS"`` test views instead of its own counts."""
    if not views:
        return spec
    clips, crops = parse_views(views)
    sampler = ClipSampler.parse(spec.clip)
    return replace(
        spec, clip=f"{sampler.clip_len}x{sampler.frame_interval}x{clips}", num_crops=crops
    )


def resolve_data_spec(model: str | PathLike | nn.Module | ModelSource) -> DataSpec:
    """The test input of a model object, a ``variant[.tag]`` name, or a checkpoint (file,
    model directory, URL, Hugging Face id); nothing is downloaded for a tag."""
    if isinstance(model, nn.Module):
        return model_data_spec(unwrap_model(model))
    source = resolve_source(model, fetch=False)
    if source.data is not None:
        return source.data
    if source.kind != "variant":
        raise ValueError(
            f"{source.text} carries no preprocessing (not a videoformer checkpoint): name its "
            "variant or tag instead, e.g. timesformer_base.k400"
        )
    with torch.device("meta"):
        return get_model_entry(source.variant).build().default_data_config()


def test_views(
    video: str | PathLike | Tensor,
    model: str | PathLike | nn.Module | ModelSource,
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
    return build_protocol(resolve_data_spec(model), views).views(video, fps)


__all__ = ["resolve_data_spec", "test_views", "with_views"]
