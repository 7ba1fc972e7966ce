"""``save_model`` and ``load_model``: a model together with what it takes to use it again.

A saved model is one ``.safetensors`` file whose header holds videoformer's metadata (model
name and config, label names, the data spec of its test input), or a folder with that file
(``model.safetensors``), the same metadata as ``videoformer.json`` and ``labels.txt``.
``load_model`` reads those, a training ``checkpoint.pt``, released weights by tag, a
Hugging Face directory or id, or a foreign checkpoint with the variant named; the model it
returns carries its ``source`` (``data_spec`` and ``label_names`` read it).
"""

from __future__ import annotations

import json
from os import PathLike
from pathlib import Path

from torch import nn

from ..models.base import unwrap_model
from ..specs import DataSpec
from ..weights.factory import load_source, model_data_spec
from ..weights.model_file import model_metadata, write_model_file

METADATA_FILE = "videoformer.json"


def save_model(
    model: nn.Module,
    path: str | PathLike,
    labels: list[str] | None = None,
    data: DataSpec | None = None,
) -> Path:
    """Save ``model`` so that ``load_model(path)`` and ``create_model(family,
    pretrained=path)`` rebuild it: a ``.safetensors`` file, or else a folder with
    ``model.safetensors``, ``videoformer.json`` and ``labels.txt``. Labels and data spec
    default to the model's own (``label_names``, ``resolve_data_spec(model)``)."""
    path = Path(path)
    model = unwrap_model(model)
    labels = labels if labels is not None else model.label_names
    data = data or model_data_spec(model)
    meta = model_metadata(model.family, model, list(labels) if labels else None, data)
    if path.suffix == ".safetensors":
        path.parent.mkdir(parents=True, exist_ok=True)
        write_model_file(model, meta, path)
        return path
    path.mkdir(parents=True, exist_ok=True)
    write_model_file(model, meta, path / "model.safetensors")
    (path / METADATA_FILE).write_text(json.dumps(meta, indent=2))
    if labels:
        (path / "labels.txt").write_text("\n".join(labels) + "\n")
    return path


def load_model(source: str | PathLike, model: str | None = None) -> nn.Module:
    """A model ready to use, from a saved model, a training checkpoint, a tag
    (``timesformer_base.k400``: downloaded once), an HF directory or id, a URL, or a foreign
    checkpoint with ``model`` naming its variant. The model is in eval mode and carries
    ``data_spec`` (its test input, see ``test_views``) and ``label_names``."""
    return load_source(source, model)
