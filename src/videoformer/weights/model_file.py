"""The files videoformer writes a model into, and reading their metadata back.

A model file is a ``.safetensors`` whose header holds videoformer's metadata as JSON under
the key ``videoformer``: the model name and config, the label names and the ``DataSpec``
of its test input (flat keys, ``METADATA_KEYS``). A training ``checkpoint.pt`` holds the
same metadata under ``meta`` beside the model's state dict.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..atomic import write_atomically
from ..labels import check_names
from ..specs import DataSpec
from .loading import CheckpointError, read_error

# DataSpec fields as the metadata names them (flat, beside the labels)
METADATA_KEYS = {
    "size": "size",
    "clip": "clip",
    "mean": "mean",
    "std": "std",
    "sampler": "sampler",
    "labels": "label_set",
    "test_short_side": "test_short_side",
    "protocol": "protocol",
    "num_crops": "num_crops",
    "audio_rate": "audio_rate",
    "aggregate": "aggregate",
}


def spec_to_metadata(spec: DataSpec) -> dict[str, Any]:
    meta = {key: getattr(spec, name) for name, key in METADATA_KEYS.items()}
    return {**meta, "mean": list(spec.mean), "std": list(spec.std)}


def spec_from_metadata(meta: dict[str, Any]) -> DataSpec:
    """The DataSpec of checkpoint metadata (older files lack protocol, crops and the
    aggregation: the protocol's own)."""
    fields = {name: meta[key] for name, key in METADATA_KEYS.items() if key in meta}
    fields["mean"], fields["std"] = tuple(fields["mean"]), tuple(fields["std"])
    return DataSpec(**fields)


def model_metadata(
    model_name: str, model: nn.Module, labels: list[str] | None, data: DataSpec
) -> dict[str, Any]:
    """What ``load_model`` needs to rebuild a model and its test views: name, config, label
    names and the data spec."""
    if labels is not None:
        labels = check_names(labels, f"the labels of {model_name}")
    return {
        "model_name": model_name,
        "family": model.family,
        "model_config": json.loads(json.dumps(dataclasses.asdict(model.config), default=list)),
        "labels": labels,
        **spec_to_metadata(data),
    }


def write_model_file(
    weights: nn.Module | dict[str, torch.Tensor], metadata: dict[str, Any], path: str | Path
) -> None:
    """Weights (a model or its state dict) as safetensors, the metadata as JSON in the
    header, written atomically."""
    from safetensors.torch import save_file

    state = weights.state_dict() if isinstance(weights, nn.Module) else weights
    sd = {k: v.detach().contiguous().cpu() for k, v in state.items()}
    header = {"videoformer": json.dumps(metadata)}
    write_atomically({Path(path): lambda tmp: save_file(sd, str(tmp), metadata=header)})


def _load_tensors(path: Path) -> Any:
    """``torch.load`` of tensors only, memory-mapped where the format allows (the zip
    format of torch >= 1.6: tensors are read when used), else read whole."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError:  # the legacy format cannot be memory-mapped
        return torch.load(path, map_location="cpu", weights_only=True)


def read_metadata(path: str | Path) -> tuple[dict[str, Any] | None, Any]:
    """(videoformer metadata or None, weights source) of a checkpoint: a model file with
    its metadata header (or a folder holding ``model.safetensors``), a training
    ``checkpoint.pt``, or anything else ``load_checkpoint`` reads (no metadata)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.is_dir() and (path / "model.safetensors").is_file():  # a saved model folder
        return read_metadata(path / "model.safetensors")[0], path
    if path.suffix == ".safetensors":
        from safetensors import safe_open

        try:
            with safe_open(str(path), "pt") as f:
                meta = (f.metadata() or {}).get("videoformer")
            parsed = json.loads(meta) if meta else None
        except Exception as e:  # a malformed header, an unreadable file
            raise read_error(path, e) from e
        if parsed is not None and not isinstance(parsed, dict):
            raise CheckpointError(f"{path}: its videoformer metadata is not a JSON object")
        return parsed, path
    if path.is_file():
        try:
            obj = _load_tensors(path)
        except Exception as e:  # corrupt, foreign, or holding more than tensors
            raise read_error(path, e) from e
        if isinstance(obj, dict) and isinstance(obj.get("meta"), dict) and "model" in obj:
            return obj["meta"], obj["model"]
        return None, obj
    return None, path
