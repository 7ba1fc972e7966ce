"""``export_onnx``: a model as an ONNX file with a dynamic batch, checked against PyTorch
with onnxruntime. Needs the ``onnx`` extra (onnx, onnxscript, onnxruntime).

The file carries what it takes to use it (its ``metadata_props``, which onnxruntime shows
as ``get_modelmeta().custom_metadata_map``): ``labels`` (JSON list), ``input_shape`` (the
fixed per-sample shape; the batch is dynamic), and the test input of ``data_spec``
(``size``, ``clip``, ``mean``, ``std``, ``protocol``, ``num_crops``, ``aggregate``...),
each value a JSON string.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import torch
from torch import nn

from ..models.base import unwrap_model
from ..weights.factory import ready_to_use
from ..weights.model_file import spec_to_metadata

# protobuf caps one file at 2 GiB: larger models keep their weights beside it in FILE.data
ONE_FILE_LIMIT = 1.8 * 2**30


@dataclass
class ExportReport:
    path: Path
    files: list[Path]  # the .onnx, and FILE.onnx.data when the weights did not fit in it
    megabytes: float  # all files
    export_seconds: float
    max_abs_diff: float  # onnxruntime against PyTorch on a batch of 3 random clips
    max_logit: float
    input_shape: tuple[int, ...] = ()  # per sample, fixed (frames included); the batch is dynamic

    @property
    def relative_diff(self) -> float:
        return self.max_abs_diff / max(self.max_logit, 1e-12)


def export_onnx(model: nn.Module, path: str | PathLike, tolerance: float = 1e-4) -> ExportReport:
    """Export ``model`` (one input, the shape of ``model.input_shape``, any batch size) and
    check it: the largest logit difference over the largest logit must stay within
    ``tolerance``, else ``ValueError``."""
    try:
        import onnxruntime
    except ImportError:
        raise ImportError(
            "ONNX export needs the onnx extra: pip install 'videoformer[onnx]'"
        ) from None
    model = ready_to_use(unwrap_model(model)).eval()
    shape = model.input_shape
    if isinstance(shape, dict):
        raise ValueError(
            f"{type(model).__name__} takes several inputs {list(shape)}; export takes one"
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    example = torch.randn(2, *shape)
    weight_bytes = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    start = time.perf_counter()
    batch = torch.export.Dim("batch", min=1, max=1024)
    with torch.no_grad():
        torch.onnx.export(
            model,
            (example,),
            str(path),
            dynamo=True,
            input_names=["input"],
            output_names=["logits"],
            dynamic_shapes={"x": {0: batch}},
            external_data=weight_bytes > ONE_FILE_LIMIT,
            verbose=False,
        )
    seconds = time.perf_counter() - start
    _write_metadata(path, _metadata(model, shape))
    check = torch.randn(3, *shape)  # another batch size than the traced one
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = torch.from_numpy(session.run(None, {session.get_inputs()[0].name: check.numpy()})[0])
    with torch.no_grad():
        expected = model(check)
    files = [f for f in (path, path.with_name(path.name + ".data")) if f.exists()]
    report = ExportReport(
        path,
        files,
        sum(f.stat().st_size for f in files) / 2**20,
        seconds,
        float((got - expected).abs().max()),
        float(expected.abs().max()),
        tuple(shape),
    )
    if report.relative_diff > tolerance:
        raise ValueError(
            f"{path}: onnxruntime differs from PyTorch by {report.max_abs_diff:.3g} "
            f"({report.relative_diff:.3g} of the largest logit; tolerance {tolerance})"
        )
    return report


def _metadata(model: nn.Module, shape: tuple[int, ...]) -> dict[str, str]:
    """What the file carries: labels, the per-sample input shape, the test input's spec."""
    fields = {
        "labels": model.label_names,
        "input_shape": list(shape),
        "model_family": model.family,
        **spec_to_metadata(model.data_spec),
    }
    return {key: json.dumps(value) for key, value in fields.items()}


def _write_metadata(path: Path, metadata: dict[str, str]) -> None:
    """Into the .onnx's ``metadata_props``; weights kept beside it stay where they are."""
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    del proto.metadata_props[:]
    for key, value in metadata.items():
        proto.metadata_props.add(key=key, value=value)
    tmp = path.with_name(f".{path.name}.tmp")
    onnx.save(proto, str(tmp))
    os.replace(tmp, path)
