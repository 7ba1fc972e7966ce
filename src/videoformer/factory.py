"""``create_model``: build a registered variant, then load its weights.

Above the registry (pure), the checkpoint loader and the downloader: layers <- models <-
convert <- checkpoint, hub <- factory <- engine / zoo / cli.
"""

from __future__ import annotations

import logging
from os import PathLike
from pathlib import Path
from typing import Any

from torch import nn

from .checkpoint import config_from_checkpoint_dir, load_checkpoint
from .hub import download, hf_snapshot, is_hub_id
from .models.registry import ModelEntry, WeightsSpec, is_registered, resolve_weights

log = logging.getLogger(__name__)

Pretrained = bool | str | PathLike | dict | None


def fetch_weights(spec: WeightsSpec, progress: bool = True) -> Path:
    """The local file (or folder) of released weights, downloaded on first use."""
    if spec.url.startswith("hf://"):
        return hf_snapshot(spec.url.removeprefix("hf://"))
    return download(spec.url, spec.sha256, progress)


def weights_source(pretrained: Pretrained) -> str | Path | dict | None:
    """What ``load_checkpoint`` reads for a ``pretrained`` that is not ``True``: a state
    dict, a path, released weights by tag (``timesformer_base.k400``, downloaded), an
    ``http(s)://`` or ``file://`` URL (downloaded), or a Hugging Face hub id ``org/name``
    or ``hf://org/name`` (a snapshot folder)."""
    if pretrained is None or pretrained is False or isinstance(pretrained, dict):
        return pretrained or None
    text = str(pretrained)
    if text.startswith(("http://", "https://", "file://")):
        return download(text)
    if "." in text and not Path(text).exists() and is_registered(text):  # variant.tag
        return fetch_weights(resolve_weights(text)[1])
    if text.startswith("hf://") or is_hub_id(text):
        return hf_snapshot(text.removeprefix("hf://"))
    return Path(text)


def resolve_pretrained(
    name: str, pretrained: Pretrained
) -> tuple[ModelEntry, WeightsSpec | None, Any]:
    """(entry, the released weights meant, what to load) for ``create_model``'s arguments.

    ``pretrained=True`` loads the tag of ``name`` (``variant.tag``) or the variant's default
    tag; any other value is a source (``weights_source``) and a tag only sets the config.
    """
    entry, spec = resolve_weights(name)
    if pretrained is True:
        spec = spec or entry.weights_for(None)
        return entry, spec, fetch_weights(spec)
    return entry, spec, weights_source(pretrained)


def create_model(name: str, pretrained: Pretrained = None, **overrides: Any) -> nn.Module:
    """Build a registered variant (or a family's base variant) with config overrides.

    Args:
        name: a variant (``timesformer_base``), a family (``timesformer``), or released
            weights ``variant.tag`` (``timesformer_base.k600``: the config those weights
            need, e.g. a 600-way head).
        pretrained: ``True`` for the released weights of ``name`` (the default tag of a
            variant), downloaded into ``$TORCH_HOME/hub/checkpoints`` once; or a checkpoint
            in any layout ``load_checkpoint`` reads: a file, a model directory, a URL, a
            Hugging Face hub id, a state dict. A model directory's ``config.json`` also
            sets config fields; explicit ``overrides`` win. Without a ``num_classes``
            override the model takes the checkpoint's classifier size (a Kinetics-600 file
            gives a 600-way head); with one that differs, the classifier keeps its fresh
            initialisation (fine-tuning; the load report says so).
        overrides: config fields; an unknown field raises ``ValueError``.

    The model's ``weights_spec`` is the ``WeightsSpec`` of the tag used (None otherwise).
    """
    entry, spec, source = resolve_pretrained(name, pretrained)
    classes_given = "num_classes" in overrides
    if spec is not None:
        overrides = {**spec.config, **overrides}
    if source is not None and not isinstance(source, dict):
        overrides = {**config_from_checkpoint_dir(source, entry.family), **overrides}
    model = entry.build(**overrides)
    model.weights_spec = spec
    if source is not None:
        classifier = "reinit" if classes_given else "adopt"
        report = load_checkpoint(model, source, classifier=classifier)
        log.info("%s: %s", entry.name, report)
        model.load_report = report
    return model
