"""``export_onnx``: a model as an ONNX file with a dynamic batch, checked against PyTorch
with onnxruntime. Needs the ``onnx`` extra (onnx, onnxscript, onnxruntime)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import torch
from torch import nn

from ..models.base import unwrap_model

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
    model = unwrap_model(model).eval()
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
    )
    if report.relative_diff > tolerance:
        raise ValueError(
            f"{path}: onnxruntime differs from PyTorch by {report.max_abs_diff:.3g} "
            f"({report.relative_diff:.3g} of the largest logit; tolerance {tolerance})"
        )
    return report
