"""``create_model``: build a registered variant, then load its weights.

Above the registry (pure) and the checkpoint loader: layers <- models <- convert <-
checkpoint <- factory <- engine / zoo / cli.
"""

from __future__ import annotations

import logging
from os import PathLike
from typing import Any

from torch import nn

from .checkpoint import config_from_checkpoint_dir, load_checkpoint
from .models import get_model_entry

log = logging.getLogger(__name__)


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
    entry = get_model_entry(name)
    classes_given = "num_classes" in overrides
    if pretrained is not None and not isinstance(pretrained, dict):
        overrides = {**config_from_checkpoint_dir(pretrained, entry.family), **overrides}
    model = entry.build(**overrides)
    if pretrained is not None:
        classifier = "reinit" if classes_given else "adopt"
        report = load_checkpoint(model, pretrained, classifier=classifier)
        log.info("%s: %s", entry.name, report)
        model.load_report = report
    return model
