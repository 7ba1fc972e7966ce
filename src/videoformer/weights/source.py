"""``resolve_source``: where a model comes from, decided once.

A string is a registered variant or family (``timesformer_base``), released weights by
tag (``timesformer_base.k400``), an ``http(s)://`` or ``file://`` URL (downloaded into the
cache), a Hugging Face hub id (``org/name`` or ``hf://org/name``, a snapshot folder), or
a local file or folder. Files and folders are then told apart by what they hold: a model
videoformer saved (metadata in its header), a training ``checkpoint.pt``, a Hugging Face
directory (``config.json``), or a foreign checkpoint whose variant must be named. The
answer is one ``ModelSource``; nothing downstream looks at the string again.
"""

from __future__ import annotations

import re
from dataclasses import replace
from os import PathLike
from pathlib import Path

from ..labels import label_names, label_set_of_size
from ..models.registry import get_model_entry, is_registered, resolve_weights
from ..specs import DataSpec, ModelSource, WeightsSpec
from .hf import hf_data_config, hf_labels, hf_reader, read_hf_config
from .hub import download, hf_snapshot
from .loading import WEIGHT_FILES, CheckpointError
from .model_file import read_metadata, spec_from_metadata

URL_SCHEMES = ("http://", "https://", "file://")
CHECKPOINT_SUFFIXES = (".pth", ".pyth", ".pt", ".bin", ".ckpt", ".safetensors")


def is_hub_id(text: str) -> bool:
    """``org/name`` that is not a local path: a Hugging Face hub repository."""
    return bool(re.fullmatch(r"[\w.-]+/[\w.-]+", text)) and not Path(text).exists()


def fetch_weights(spec: WeightsSpec, progress: bool = True) -> Path:
    """The local file (or folder) of released weights, downloaded on first use."""
    if spec.url.startswith("hf://"):
        return hf_snapshot(spec.url.removeprefix("hf://"))
    return download(spec.url, spec.sha256, progress)


def shipped_labels(spec: DataSpec | None, num_classes: int | None) -> tuple[str, ...] | None:
    """The shipped names of a spec's label set, at ``num_classes`` when given (a
    Kinetics-600 head of a Kinetics-400 variant gets the Kinetics-600 names)."""
    if spec is None or not spec.labels:
        return None
    if num_classes is None:
        return label_names(spec.labels)
    return label_set_of_size(spec.labels, num_classes)


def resolve_source(
    source: str | PathLike | ModelSource, model: str | None = None, fetch: bool = True
) -> ModelSource:
    """What ``source`` is (see the module docstring). ``model`` names the variant or tag
    of a checkpoint that does not say (and wins over one that does); ``fetch=False``
    leaves a tag's weights undownloaded (``path`` None) for callers that only need its
    config or test input.

    Raises:
        FileNotFoundError: not a registered name, a URL, a hub id or an existing path.
        CheckpointError: a folder that is neither a saved model nor an HF directory.
    """
    if isinstance(source, ModelSource):
        return source
    text = str(source)
    if not Path(text).exists() and is_registered(text):
        return _registered(text, fetch)
    if text.startswith(URL_SCHEMES):
        return _local(text, download(text), model)
    if text.startswith("hf://") or is_hub_id(text):
        return _local(text, hf_snapshot(text.removeprefix("hf://")), model)
    path = Path(text)
    if not path.exists() and "/" not in text and path.suffix not in CHECKPOINT_SUFFIXES:
        resolve_weights(text)  # a misspelt name: the registry names the closest ones
    if not path.exists():
        raise FileNotFoundError(
            f"checkpoint not found: {text} (no such file or folder, and not a URL, a "
            "registered tag or variant (videoformer list-models --pretrained) or a Hugging "
            "Face id)"
        )
    return _local(text, path, model)


def released_weights(source: ModelSource) -> ModelSource:
    """The released weights a tag names, or a variant's default tag, downloaded."""
    if source.kind == "tag" and source.path is not None:
        return source
    entry = get_model_entry(source.variant)
    tag = source.text if source.kind == "tag" else f"{entry.name}.{entry.weights_for(None).tag}"
    return resolve_source(tag)


def _registered(name: str, fetch: bool) -> ModelSource:
    """A variant (its default tag's test input, when it has one) or a tag."""
    entry, spec = resolve_weights(name)
    default = spec or (entry.weights[0] if entry.weights else None)
    data = default.data if default is not None else None
    if spec is None:
        return ModelSource(name, "variant", entry.name, data=data)
    path = fetch_weights(spec) if fetch else None
    return ModelSource(
        name,
        "tag",
        entry.name,
        spec,
        path,
        dict(spec.config),
        data,
        shipped_labels(data, spec.num_classes),
    )


def _named(model: str | None) -> ModelSource:
    """What a ``model`` argument (a variant or tag) says: its variant, weights, config and
    test input (a variant's default tag's); nothing without one."""
    if model is None:
        return ModelSource("", "foreign")
    return _registered(model, fetch=False)


def _local(text: str, path: Path, model: str | None) -> ModelSource:
    """A file or folder, told apart by what it holds."""
    meta, weights = read_metadata(path)
    if meta is not None and "model_config" in meta:
        if not model and not isinstance(meta.get("model_name"), str):
            raise CheckpointError(
                f"{path}: its videoformer metadata names no model_name; name the variant "
                "(--model), e.g. timesformer_base"
            )
        if not isinstance(meta["model_config"], dict):
            raise CheckpointError(f"{path}: its metadata's model_config is not a mapping")
        try:
            named = _named(model or meta["model_name"])
        except ValueError as e:
            raise CheckpointError(f"{path}: {e}") from None
        config = dict(named.config)  # the saved config wins: the weights have its shapes
        if get_model_entry(named.variant).family == meta.get("family"):
            config = {**config, **meta["model_config"]}
        kind = "training" if path.is_file() and path.suffix != ".safetensors" else "model_file"
        labels = meta.get("labels")
        return ModelSource(
            text,
            kind,
            named.variant,
            named.weights,
            weights,
            config,
            spec_from_metadata(meta),
            tuple(labels) if labels else None,
        )
    if path.is_dir():
        return _hf_folder(text, path, model)
    named = _named(model)
    return replace(named, text=text, kind="foreign", path=weights, labels=None)


def _hf_folder(text: str, path: Path, model: str | None) -> ModelSource:
    hf = read_hf_config(path)
    if hf is None:  # a folder of weights alone (a hub snapshot without config.json)
        if not any((path / name).is_file() for name in WEIGHT_FILES):
            raise CheckpointError(
                f"{path}: a model folder needs one of {', '.join(WEIGHT_FILES)}, with "
                "videoformer's metadata or a Hugging Face config.json"
            )
        return replace(_named(model), text=text, kind="foreign", path=path, labels=None)
    reader = hf_reader(path, hf)
    named = _named(model or reader.family)
    if get_model_entry(named.variant).family != reader.family:
        raise CheckpointError(
            f"{path}: a {reader.model_type} directory holds a {reader.family} model, not {model}"
        )
    try:
        config = {**reader.read(hf), **named.config}
    except (ValueError, TypeError, KeyError, ZeroDivisionError) as e:
        raise CheckpointError(f"{path / 'config.json'}: {type(e).__name__}: {e}") from e
    data = hf_data_config(path) if reader.video_processor else None
    labels = hf_labels(hf)
    return ModelSource(
        text,
        "hf",
        named.variant,
        named.weights,
        path,
        config,
        data,
        tuple(labels) if labels else None,
    )


def architecture(source: ModelSource) -> ModelSource:
    """The source as a variant to build when it names one; a foreign file without a
    variant is an error naming what to pass."""
    if source.variant is None:
        raise ValueError(
            f"{source.text} carries no videoformer metadata: name its variant or tag "
            "(--model), e.g. timesformer_base.k400"
        )
    return source
