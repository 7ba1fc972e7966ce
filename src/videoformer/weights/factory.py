"""``create_model``: build a registered variant, then load its weights; ``load_source``:
the model a resolved source describes, with its test input and labels.

Above the registry (pure), the checkpoint loader and the resolver: layers <- models <-
convert <- weights (hub, loading, source) <- factory <- inference / engine / cli.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from os import PathLike
from typing import Any

import torch
from torch import nn

from ..data.sampling import ClipSampler
from ..fields import short_repr
from ..models.registry import get_model_entry
from ..specs import DataSpec, ModelSource
from .loading import CheckpointError, load_checkpoint, read_shapes
from .source import architecture, released_weights, resolve_source, shipped_labels

log = logging.getLogger(__name__)

Pretrained = bool | str | PathLike | dict | ModelSource | None


def _weights(target: ModelSource, pretrained: Pretrained) -> ModelSource | dict | None:
    """What to load into a model of ``target``: the tag's weights for ``True`` (a
    variant's default tag), a state dict, or the source ``pretrained`` names."""
    if pretrained is None or pretrained is False:
        return None
    if pretrained is True:
        return released_weights(target)
    if isinstance(pretrained, dict):
        return pretrained
    return resolve_source(pretrained)


def create_model(
    name: str | ModelSource, pretrained: Pretrained = None, **overrides: Any
) -> nn.Module:
    """Build a registered variant (or a family's base variant) with config overrides.

    Args:
        name: a variant (``timesformer_base``), a family (``timesformer``), released
            weights ``variant.tag`` (``timesformer_base.k600``: the config those weights
            need, e.g. a 600-way head), or a resolved ``ModelSource``.
        pretrained: ``True`` for the released weights of ``name`` (the default tag of a
            variant), downloaded into the weights cache once; or a checkpoint in any
            layout ``load_checkpoint`` reads: a file, a model directory, a URL, a Hugging
            Face hub id, a state dict. A saved model's config or a model directory's
            ``config.json`` also sets config fields; explicit ``overrides`` win. Without
            a ``num_classes`` override the model takes the checkpoint's classifier size
            (a Kinetics-600 file gives a 600-way head); with one that differs, the
            classifier keeps its fresh initialisation (fine-tuning; the load report says
            so).
        overrides: config fields; an unknown field raises ``ValueError``.

    The model carries where it came from as ``model.source`` (``ModelSource``: the tag's
    ``WeightsSpec``, the test input, the labels, the load report).
    """
    target = architecture(resolve_source(name, fetch=pretrained is True))
    if target.kind not in ("variant", "tag") and pretrained is None:
        pretrained = target  # a file or folder names its architecture and its weights
    weights = _weights(target, pretrained)
    entry = get_model_entry(target.variant)
    config = dict(target.config) if target.kind in ("variant", "tag") else {}
    if isinstance(weights, ModelSource) and weights.variant is not None:
        if get_model_entry(weights.variant).family == entry.family:
            config = {**weights.config, **config}
    classes_given = "num_classes" in overrides
    classifier = "reinit" if classes_given else "adopt"
    fields = {**config, **overrides}
    location = None if weights is None else weights if isinstance(weights, dict) else weights.path
    if location is not None:  # a file's config decides the size: check it fits, on meta, first
        shapes = read_shapes(location)
        name = weights.text if isinstance(weights, ModelSource) else None
        with torch.device("meta"):
            probe = _build(entry, fields, name)
            load_checkpoint(probe, shapes, classifier=classifier, source_name=name)
        fields = {**fields, "num_classes": probe.config.num_classes}  # the file's head, if adopted
        labels = weights.labels if isinstance(weights, ModelSource) else None
        if labels and not classes_given and len(labels) != probe.config.num_classes:
            raise CheckpointError(
                f"{weights.text}: {len(labels):,} label names for a classifier of "
                f"{probe.config.num_classes} classes"
            )
    model = _build(entry, fields, weights.text if isinstance(weights, ModelSource) else None)
    model.source = replace(target, data=None) if target.kind == "variant" else target
    if weights is None:
        return model
    report = load_checkpoint(
        model,
        location,
        classifier=classifier,
        source_name=weights.text if isinstance(weights, ModelSource) else None,
    )
    if isinstance(weights, ModelSource):  # the model now comes from the weights' source
        labels = None if report.reinitialised else weights.labels  # a new head: new classes
        report.labels = list(labels) if labels else None
        model.source = replace(
            weights,
            variant=target.variant,
            weights=target.weights or weights.weights,
            data=weights.data or (target.data if target.kind == "tag" else None),
            labels=labels,
        )
    model.source = replace(model.source, load_report=report)
    log.info("%s: %s", entry.name, report)
    return model


def _build(entry, fields: dict[str, Any], source: str | None = None) -> nn.Module:
    """The model; a config it cannot be built with is an error naming the file the config
    came from (``source``), if any."""
    where = f"{source}: " if source else ""
    try:
        return entry.build(**fields)
    except (TypeError, ZeroDivisionError) as e:  # values of the wrong kind, zero heads...
        raise ValueError(
            f"{where}{entry.name} cannot be built with {short_repr(fields, 300)} "
            f"({type(e).__name__}: {e})"
        ) from None
    except ValueError as e:
        if source is None:
            raise
        raise ValueError(f"{source}: {e}") from None


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


def model_data_spec(model: nn.Module) -> DataSpec:
    """The test input of a built model: its source's (fitted to the model's size and
    frames), or the model's own default; multi-label models combine views by sigmoid."""
    source = getattr(model, "source", None)
    data = source.data if source is not None and source.data is not None else None
    data = fit_to_model(data, model) if data is not None else model.default_data_config()
    if model.multi_label and data.aggregate != "mean_sigmoid":
        data = replace(data, aggregate="mean_sigmoid")
    return data


def ready_to_use(model: nn.Module) -> nn.Module:
    """The model with its source completed: its test input (``model_data_spec``) and
    label names (the source's, or the shipped names of its classifier size)."""
    data = model_data_spec(model)
    labels = model.label_names
    if labels is None:
        labels = shipped_labels(data, model.config.num_classes)
        kind = model.source.kind if model.source else "model"
        if labels and kind not in ("tag", "hf"):
            log.warning(
                "%s carries no class names: predictions are named from the %s label set its "
                "test input names, which is right only for weights trained on that set (not "
                "for random weights or other classes; give the names with labels=/--labels)",
                model.source.text if model.source else type(model).__name__,
                data.labels,
            )
    model.source = replace(
        model.source or ModelSource("<model>", "model"),
        data=data,
        labels=tuple(labels) if labels else None,
    )
    return model


def load_source(source: str | PathLike | ModelSource, model: str | None = None) -> nn.Module:
    """The model a source describes, with its weights, ready to use (``ready_to_use``), in
    eval mode: a tag, a saved model, a training checkpoint, an HF directory or id, a URL,
    or a foreign checkpoint with ``model`` naming its variant."""
    src = resolve_source(source, model)
    built = create_model(src, pretrained=True if src.kind in ("tag", "variant") else None)
    return ready_to_use(built).eval()
