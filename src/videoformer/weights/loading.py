"""``load_checkpoint``: read a checkpoint, detect its layout, convert, resize, load strictly.

Files are never unpickled beyond tensors: ``torch.load(..., weights_only=True)`` or
safetensors. Model classes never read files; this module does.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import logging
import pickle
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..convert import CONFIG_FROM_SHAPES, RESIZERS, Layout, claiming_layouts, layouts_for

log = logging.getLogger(__name__)

# Containers that wrap a state dict, in the order they are looked for.
CONTAINER_KEYS = ("model_state", "state_dict", "model", "module")
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not fit the model."""


@dataclass
class LoadReport:
    """What ``load_checkpoint`` did."""

    source: str
    layout: str
    loaded: int = 0
    resized: list[str] = field(default_factory=list)  # "key: old shape -> new shape"
    ignored: list[str] = field(default_factory=list)  # named by the caller's ``ignore``
    reinitialised: list[str] = field(default_factory=list)  # classifier of another size
    missing: list[str] = field(default_factory=list)  # only with strict=False
    unexpected: list[str] = field(default_factory=list)  # only with strict=False
    labels: list[str] | None = None  # class names, when the source carries them

    def __str__(self) -> str:
        parts = [f"loaded {self.loaded} tensors from {self.source} (layout {self.layout})"]
        for name in ("resized", "ignored", "reinitialised", "missing", "unexpected"):
            items = getattr(self, name)
            if items:
                parts.append(f"{name}: {', '.join(items)}")
        return "; ".join(parts)


def _is_state_dict(obj: Any) -> bool:
    return (
        isinstance(obj, Mapping)
        and len(obj) > 0
        and all(isinstance(k, str) and isinstance(v, Tensor) for k, v in obj.items())
    )


def unwrap_state_dict(obj: Any, source: str = "<mapping>") -> dict[str, Tensor]:
    """Find the state dict inside a container (``model_state``, ``state_dict``, ``model``...).

    A ``module.`` prefix on every key (a saved DDP wrapper) is removed.
    """
    while not _is_state_dict(obj):
        if not isinstance(obj, Mapping):
            raise CheckpointError(
                f"{source}: expected a state dict or a mapping holding one, got "
                f"{type(obj).__name__}"
            )
        inner = next(
            (obj[k] for k in CONTAINER_KEYS if k in obj and isinstance(obj[k], Mapping)), None
        )
        if inner is None:
            keys = ", ".join(map(str, list(obj)[:10]))
            raise CheckpointError(
                f"{source}: no state dict found; top-level keys: {keys} "
                f"(looked for a tensor mapping or one of {', '.join(CONTAINER_KEYS)})"
            )
        obj = inner
    sd = dict(obj)
    if all(k.startswith("module.") for k in sd):
        sd = {k.removeprefix("module."): v for k, v in sd.items()}
    return sd


def _weights_file(path: Path) -> Path:
    if not path.is_dir():
        return path
    for name in WEIGHT_FILES:
        if (path / name).is_file():
            return path / name
    raise CheckpointError(f"{path}: a model directory needs one of {', '.join(WEIGHT_FILES)}")


def _some(keys: Sequence[str], most: int = 5) -> str:
    return ", ".join(keys[:most]) + (f" and {len(keys) - most} more" if len(keys) > most else "")


def _size_differences(model: nn.Module, sd: Mapping[str, Tensor]) -> list[str]:
    """The config fields the checkpoint's shapes determine that differ from the model's."""
    read = CONFIG_FROM_SHAPES.get(model.family)
    if read is None:
        return []
    ours = dataclasses.asdict(model.config)

    def plain(v: Any) -> Any:
        return tuple(v) if isinstance(v, list) else v

    return [
        f"{name} {value} in the checkpoint, {plain(ours[name])} in the model"
        for name, value in read(sd).items()
        if name in ours and plain(ours[name]) != value
    ]


def _problems(
    model: nn.Module,
    sd: Mapping[str, Tensor],
    expected: Mapping[str, Tensor],
    mismatched: list[str],
    missing: list[str],
    unexpected: list[str],
) -> list[str]:
    """What does not fit, summarised: the sizes that differ, then a few keys of each kind."""
    problems = []
    sizes = _size_differences(model, sd) if mismatched or missing or unexpected else []
    if sizes:
        problems.append("sizes differ: " + ", ".join(sizes))
    if mismatched:
        shown = [
            f"{k} checkpoint {tuple(sd[k].shape)} vs model {tuple(expected[k].shape)}"
            for k in mismatched
        ]
        problems.append(f"{len(mismatched)} shape mismatches: {_some(shown, 3)}")
    if missing:
        problems.append(f"{len(missing)} missing keys: {_some(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys: {_some(unexpected)}")
    return problems


def checkpoint_config(model_family: str, source: Any, config: Any) -> dict[str, Any]:
    """The config fields a checkpoint's shapes determine, for a model of ``model_family``
    (its layout detected and converted against ``config``); {} when the family has no
    reader."""
    read = CONFIG_FROM_SHAPES.get(model_family)
    if read is None:
        return {}
    sd = unwrap_state_dict(source) if isinstance(source, Mapping) else read_checkpoint(source)
    return read(detect_layout(sd, model_family).convert(sd, config))


def read_checkpoint(source: str | PathLike) -> dict[str, Tensor]:
    """Read the state dict of a file (``.pth .pyth .pt .bin .safetensors``) or model directory."""
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    file = _weights_file(path)
    try:
        if file.suffix == ".safetensors":
            from safetensors.torch import load_file

            obj: Any = load_file(str(file))
        else:
            obj = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as e:  # a corrupt file or one holding arbitrary pickled objects
        raise read_error(file, e) from e
    return unwrap_state_dict(obj, str(file))


SAFETENSORS_DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}


def read_shapes(source: str | PathLike | Mapping[str, Any]) -> dict[str, Tensor]:
    """The state dict of a checkpoint as ``meta`` tensors (its shapes and dtypes, no
    data): from a safetensors header, a memory-mapped torch.save zip (a legacy file is
    read whole), or tensors in memory. What a model may be checked against before any
    memory is spent on it."""
    if isinstance(source, Mapping):
        sd = unwrap_state_dict(source)
    else:
        file = _weights_file(Path(source))
        try:
            if file.suffix == ".safetensors":
                from safetensors import safe_open

                with safe_open(str(file), "pt") as f:
                    sd = {}
                    for key in f.keys():
                        info = f.get_slice(key)
                        dtype = SAFETENSORS_DTYPES.get(info.get_dtype(), torch.float32)
                        sd[key] = torch.empty(info.get_shape(), dtype=dtype, device="meta")
                return sd
            try:
                obj: Any = torch.load(file, map_location="cpu", weights_only=True, mmap=True)
            except RuntimeError:  # a legacy (non-zip) file cannot be memory-mapped
                obj = torch.load(file, map_location="cpu", weights_only=True)
        except Exception as e:
            raise read_error(file, e) from e
        sd = unwrap_state_dict(obj, str(file))
    return {k: torch.empty(v.shape, dtype=v.dtype, device="meta") for k, v in sd.items()}


def read_error(file: Path, error: BaseException) -> CheckpointError:
    """One line for a file that cannot be read as weights, naming it and why (never
    torch's advice to load it with ``weights_only=False``, which would run what it holds)."""
    if isinstance(error, PermissionError):
        reason = "permission denied: make it readable"
    elif isinstance(error, OSError) and not isinstance(error, EOFError):
        reason = error.strerror or str(error)
    elif isinstance(error, pickle.UnpicklingError) or "Weights only load failed" in str(error):
        reason = (
            "it holds objects other than tensors, or is not a checkpoint (videoformer reads "
            "weights only and never runs what a file contains)"
        )
    elif isinstance(error, EOFError) or "zip" in str(error).lower():
        reason = "it is cut short or is not a torch.save file"
    else:
        reason = str(error).splitlines()[0][:300] if str(error) else type(error).__name__
    return CheckpointError(f"{file}: cannot read as a weights-only checkpoint: {reason}")


def detect_layout(sd: Mapping[str, Tensor], family: str) -> Layout:
    """The one layout of ``family`` that claims ``sd``; none or several is an error."""
    claims = claiming_layouts(sd, family)
    if len(claims) == 1:
        return claims[0]
    sample = ", ".join(list(sd)[:6])
    if claims:
        names = " and ".join(lay.name for lay in claims)
        raise CheckpointError(
            f"ambiguous {family} checkpoint: layouts {names} both claim keys like: {sample}"
        )
    names = ", ".join(lay.name for lay in layouts_for(family))
    raise CheckpointError(
        f"no known {family} checkpoint layout ({names}) matches keys like: {sample}"
    )


def _matches(key: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(key, p) for p in patterns)


def load_checkpoint(
    model: nn.Module,
    source: str | PathLike | Mapping[str, Any],
    *,
    strict: bool = True,
    ignore: Sequence[str] = (),
    classifier: str = "strict",
    source_name: str | None = None,
) -> LoadReport:
    """Load weights of any supported layout into ``model``.

    Args:
        source: a file, a model directory, or an in-memory state dict / container.
        strict: missing or unexpected keys are an error (otherwise reported).
        ignore: glob patterns of our keys to skip (e.g. ``("head.*",)``); they keep
            the model's initialisation.
        classifier: when the checkpoint's classifier has another size than the model's,
            ``"strict"`` raises, ``"reinit"`` keeps the model's fresh classifier
            (fine-tuning on new classes), ``"adopt"`` resizes the model's classifier to
            the checkpoint's (``reset_classifier``) and loads it.
        source_name: what messages call the source (default: its path).

    Raises:
        CheckpointError: unreadable file, unknown layout, or keys/shapes that do not
            fit; the message names the keys and shapes.
    """
    if isinstance(source, Mapping):
        name, sd = source_name or "<state dict>", unwrap_state_dict(source)
    else:
        name, sd = source_name or str(source), read_checkpoint(source)
    try:
        layout = detect_layout(sd, model.family)
    except CheckpointError as e:
        raise CheckpointError(f"{name}: {e}") from None
    converted = layout.convert(sd, model.config)
    resize = RESIZERS.get(model.family)
    report = LoadReport(source=name, layout=layout.name)
    if resize is not None:
        before = {k: tuple(v.shape) for k, v in converted.items()}
        converted = resize(converted, model.config)
        report.resized = [
            f"{k}: {before[k]} -> {tuple(v.shape)}"
            for k, v in converted.items()
            if tuple(v.shape) != before[k]
        ]
    if classifier not in ("strict", "reinit", "adopt"):
        raise ValueError(f"classifier must be 'strict', 'reinit' or 'adopt', got {classifier!r}")
    if classifier == "adopt":
        _adopt_classifier_size(model, converted)
    _load_strict(model, converted, report, strict, ignore, reinit_classifier=classifier != "strict")
    return report


def _adopt_classifier_size(model: nn.Module, sd: Mapping[str, Tensor]) -> None:
    weight = sd.get(f"{model.classifier_name}.weight")
    if weight is not None and weight.ndim == 2 and weight.shape[0] != model.config.num_classes:
        model.reset_classifier(weight.shape[0])


def _check_values(source: str, sd: Mapping[str, Tensor], expected: Mapping[str, Tensor]) -> None:
    """Refuse what a load would silently change or spread: integer tensors (quantised
    weights) where the model has floats, and NaN or infinite values."""
    cast = [
        k for k, v in sd.items() if not v.is_floating_point() and expected[k].is_floating_point()
    ]
    if cast:
        raise CheckpointError(
            f"{source}: {len(cast)} tensors hold {sd[cast[0]].dtype} values where the model "
            f"has {expected[cast[0]].dtype} (quantised weights are not read), e.g. {_some(cast, 3)}"
        )
    bad = [
        k
        for k, v in sd.items()
        if v.is_floating_point() and not v.is_meta and not torch.isfinite(v).all()
    ]
    if bad:
        raise CheckpointError(
            f"{source}: NaN or infinite values in {len(bad)} tensors, e.g. {_some(bad, 3)}"
        )


def _load_strict(
    model: nn.Module,
    sd: dict[str, Tensor],
    report: LoadReport,
    strict: bool,
    ignore: Sequence[str],
    reinit_classifier: bool,
) -> None:
    expected = model.state_dict()
    classifier = f"{model.classifier_name}.*"
    report.ignored = sorted(k for k in set(sd) | set(expected) if _matches(k, ignore))
    sd = {k: v for k, v in sd.items() if not _matches(k, ignore)}
    missing = sorted(k for k in expected if k not in sd and not _matches(k, ignore))
    unexpected = sorted(k for k in sd if k not in expected)
    mismatched = sorted(k for k in sd if k in expected and sd[k].shape != expected[k].shape)
    if reinit_classifier:
        head = [k for k in mismatched + unexpected + missing if _matches(k, [classifier])]
        report.reinitialised = [
            f"{k}: checkpoint {tuple(sd[k].shape) if k in sd else None} -> model "
            f"{tuple(expected[k].shape) if k in expected else None}"
            for k in head
        ]
        mismatched = [k for k in mismatched if k not in head]
        unexpected = [k for k in unexpected if k not in head]
        missing = [k for k in missing if k not in head]
        sd = {k: v for k, v in sd.items() if k not in head}
    problems = _problems(
        model, sd, expected, mismatched, missing if strict else [], unexpected if strict else []
    )
    if problems:
        hint = (
            f" (pass ignore=('{classifier}',) to keep a new classifier)"
            if any(_matches(k, [classifier]) for k in mismatched + unexpected + missing)
            else ""
        )
        raise CheckpointError(
            f"{report.source} (layout {report.layout}) does not fit {type(model).__name__}: "
            + "; ".join(problems)
            + hint
        )
    report.missing, report.unexpected = missing, unexpected
    sd = {k: v for k, v in sd.items() if k in expected}
    _check_values(report.source, sd, expected)
    model.load_state_dict(sd, strict=False)
    report.loaded = len(sd)
