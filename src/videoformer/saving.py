"""``load_model`` and ``save_model``: a model together with what it takes to use it again.

A saved model is one ``.safetensors`` file whose header holds videoformer's metadata (model
name and config, label names, the data spec of its test input), or a folder with that file
(``model.safetensors``), the same metadata as ``videoformer.json`` and ``labels.txt``.
``load_model`` reads those, a training ``checkpoint.pt``, released weights by tag, a
Hugging Face directory or id, or a foreign checkpoint with the variant named; the model it
returns carries ``data_spec`` and ``label_names``.
"""

from __future__ import annotations

import dataclasses
import json
import os
from os import PathLike
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .checkpoint import load_checkpoint, read_hf_config, read_metadata
from .factory import create_model, weights_source
from .models import DataSpec
from .models.base import unwrap_model
from .models.registry import is_registered
from .preprocessing import (
    data_config,
    fit_to_model,
    hf_data_config,
    spec_from_metadata,
    spec_to_metadata,
)

HF_FAMILIES = {"timesformer": "timesformer", "perceiver": "perceiver_io"}  # config.json model_type
METADATA_FILE = "videoformer.json"


def model_metadata(
    model_name: str, model: nn.Module, labels: list[str] | None, data: DataSpec
) -> dict[str, Any]:
    """What ``load_model`` needs to rebuild a model and its test views: name, config, label
    names and the data spec (``videoformer.preprocessing.spec_to_metadata``)."""
    return {
        "model_name": model_name,
        "family": model.family,
        "model_config": json.loads(json.dumps(dataclasses.asdict(model.config), default=list)),
        "labels": labels,
        **spec_to_metadata(data),
    }


def export_safetensors(
    weights: nn.Module | dict[str, torch.Tensor], metadata: dict[str, Any], path: str | Path
) -> None:
    """Weights (a model or its state dict) as safetensors, the metadata as JSON in the
    header, written atomically."""
    from safetensors.torch import save_file

    state = weights.state_dict() if isinstance(weights, nn.Module) else weights
    sd = {k: v.detach().contiguous().cpu() for k, v in state.items()}
    tmp = Path(path).with_name(f".{Path(path).name}.tmp")
    save_file(sd, str(tmp), metadata={"videoformer": json.dumps(metadata)})
    os.replace(tmp, path)


def save_model(
    model: nn.Module,
    path: str | PathLike,
    labels: list[str] | None = None,
    data: DataSpec | None = None,
) -> Path:
    """Save ``model`` so that ``load_model(path)`` and ``create_model(family,
    pretrained=path)`` rebuild it: a ``.safetensors`` file, or else a folder with
    ``model.safetensors``, ``videoformer.json`` and ``labels.txt``. Labels and data spec
    default to the model's own (``label_names``, ``data_config(model)``)."""
    path = Path(path)
    model = unwrap_model(model)
    labels = labels if labels is not None else getattr(model, "label_names", None)
    data = data or data_config(model)
    meta = model_metadata(model.family, model, list(labels) if labels else None, data)
    if path.suffix == ".safetensors":
        path.parent.mkdir(parents=True, exist_ok=True)
        export_safetensors(model, meta, path)
        return path
    path.mkdir(parents=True, exist_ok=True)
    export_safetensors(model, meta, path / "model.safetensors")
    (path / METADATA_FILE).write_text(json.dumps(meta, indent=2))
    if labels:
        (path / "labels.txt").write_text("\n".join(labels) + "\n")
    return path


def model_from_metadata(meta: dict[str, Any]) -> nn.Module:
    """Build the model a videoformer checkpoint describes (``apply_overrides`` restores the
    config's types from JSON)."""
    return create_model(meta["model_name"], **meta["model_config"])


def load_for_inference(
    source: str | PathLike, model: str | None = None, fallback: str | None = None
) -> tuple[nn.Module, DataSpec, list[str] | None]:
    """(model with weights, its DataSpec, label names or None) of any checkpoint, or of
    released weights named by tag (``timesformer_base.k400``). ``model`` (a variant or
    tag) overrides what the checkpoint says; ``fallback`` names the variant of a checkpoint
    that says nothing."""
    if not Path(source).exists() and is_registered(str(source)):
        built = create_model(str(source), pretrained=True)
        return built, data_config(str(source)), None
    path = weights_source(source)
    meta, weights = read_metadata(path)
    if meta is not None and "model_config" in meta:
        built = model_from_metadata({**meta, "model_name": model or meta["model_name"]})
        load_checkpoint(built, weights)
        return built, spec_from_metadata(meta), meta.get("labels")
    if path.is_dir():
        hf = read_hf_config(path) or {}
        name = model or HF_FAMILIES.get(hf.get("model_type", ""), "")
        if not name:
            raise ValueError(
                f"{path}: neither videoformer metadata nor a known config.json model_type "
                f"({hf.get('model_type')!r}); name the model"
            )
        built = create_model(name, pretrained=path)
        data = hf_data_config(path) if hf.get("model_type") == "timesformer" else data_config(built)
        return built, data, built.load_report.labels
    model = model or fallback
    if model is None:
        raise ValueError(
            f"{source} carries no videoformer metadata: name its variant or tag (--model), "
            "e.g. timesformer_base.k400"
        )
    built = create_model(model, pretrained=weights)
    return built, fit_to_model(data_config(model), built), built.load_report.labels


def load_model(source: str | PathLike, model: str | None = None) -> nn.Module:
    """A model ready to use, from a saved model, a training checkpoint, a tag
    (``timesformer_base.k400``: downloaded once), an HF directory or id, a URL, or a foreign
    checkpoint with ``model`` naming its variant. The model is in eval mode and carries
    ``data_spec`` (its test input, see ``test_views``) and ``label_names``."""
    built, data, labels = load_for_inference(source, model)
    built.data_spec, built.label_names = data, list(labels) if labels else None
    return built.eval()
