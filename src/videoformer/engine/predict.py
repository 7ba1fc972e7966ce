"""Prediction and embedding extraction from a checkpoint, for files or tensors.

``Predictor(checkpoint)`` rebuilds the model and its test-time transform from the
metadata videoformer writes into its checkpoints (model name and config, label names,
mean/std, clip spec, crop size). For foreign checkpoints (official, HF, timm...) give
``model=`` (and ``labels=``); preprocessing then comes from the variant's official
weights spec. A whole video is covered by ``num_clips`` evenly spaced clips or, with
``stride``, by a sliding window; views are aggregated per video (mean of softmax).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..checkpoint import load_checkpoint
from ..data.decode import probe, read_frames
from ..data.sampling import ClipSampler, SegmentSampler
from ..data.transforms import video_test_transform
from ..factory import create_model
from ..labels import label_set_of_size
from ..models import get_model_entry


def read_metadata(path: str | Path) -> tuple[dict[str, Any] | None, Any]:
    """(videoformer metadata or None, weights source) of a checkpoint file."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors import safe_open

        with safe_open(str(path), "pt") as f:
            meta = (f.metadata() or {}).get("videoformer")
        return (json.loads(meta) if meta else None), path
    if path.is_file():
        obj = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(obj, dict) and isinstance(obj.get("meta"), dict) and "model" in obj:
            return obj["meta"], obj["model"]
        return None, obj
    return None, path


def model_from_metadata(meta: dict[str, Any]):
    """Build the model a videoformer checkpoint describes (``apply_overrides`` restores the
    config's types from JSON)."""
    return create_model(meta["model_name"], **meta["model_config"])


def official_preprocessing(model: str) -> dict[str, Any]:
    """Checkpoint metadata for a variant's official weights: the test input of its
    ``WeightsSpec``, else the model's ``default_data_config()``. Label names come later,
    from the shipped set of the loaded head's size (K400, K600...)."""
    entry = get_model_entry(model)
    if entry.weights:
        data = entry.weights[0].data
    else:
        with torch.device("meta"):
            data = entry.build().default_data_config()
    return {
        "model_name": entry.name,
        "labels": None,
        "label_set": data.labels,
        "mean": list(data.mean),
        "std": list(data.std),
        "clip": data.clip,
        "sampler": data.sampler,
        "size": data.size,
        "test_short_side": data.test_short_side or data.size,
    }


@dataclass
class Prediction:
    source: str
    topk: list[tuple[str, float]]  # (label, probability), best first
    num_views: int


class Predictor:
    def __init__(
        self,
        checkpoint: str | Path,
        model: str | None = None,
        labels: list[str] | str | Path | None = None,
        device: str | torch.device = "cpu",
        num_clips: int | None = None,
        num_crops: int = 1,
        stride: int | None = None,
    ) -> None:
        meta, weights = read_metadata(checkpoint)
        if meta is None:
            if model is None:
                raise ValueError(
                    f"{checkpoint} carries no videoformer metadata: name the model with --model"
                )
            meta = official_preprocessing(model)
        if model is not None and model != meta["model_name"]:
            meta = {**meta, "model_name": model}
        self.meta = meta
        if "model_config" in meta:
            self.model = model_from_metadata(meta)
            load_checkpoint(self.model, weights)
        else:
            self.model = create_model(meta["model_name"], pretrained=weights)
        self.model.eval().to(device)
        self.device = torch.device(device)
        if isinstance(labels, (str, Path)):
            labels = [
                line.strip() for line in Path(labels).read_text().splitlines() if line.strip()
            ]
        report = getattr(self.model, "load_report", None)
        num_classes = self.model.config.num_classes
        self.labels = list(
            labels
            or meta.get("labels")
            or (report.labels if report else None)
            or label_set_of_size(meta.get("label_set", ""), num_classes)
            or [str(i) for i in range(num_classes)]
        )
        if len(self.labels) != num_classes:
            raise ValueError(
                f"{len(self.labels)} label names for a model with {num_classes} classes"
            )
        spec = ClipSampler.parse(meta["clip"])
        clips = num_clips or spec.num_clips
        self.sampler = (
            SegmentSampler(spec.clip_len, 1)
            if meta.get("sampler") == "segment"
            else ClipSampler(spec.clip_len, spec.frame_interval, clips)
        )
        self.stride = stride
        self.transform = video_test_transform(
            meta["size"], meta["mean"], meta["std"], meta.get("test_short_side"), num_crops
        )
        self.num_crops = num_crops

    def _clip_indices(self, num_frames: int) -> list[list[int]]:
        if self.stride and isinstance(self.sampler, ClipSampler):
            last = max(num_frames - self.sampler.span, 0)
            return [
                self.sampler.clip(start, num_frames) for start in range(0, last + 1, self.stride)
            ]
        return self.sampler.test(num_frames)

    def views(self, video: str | Path | Tensor) -> Tensor:
        """All test views of a video file, or of uint8 frames (T, H, W, C): (V, C, T, H, W)."""
        if isinstance(video, Tensor):
            frames_of = lambda idx: video[idx]  # noqa: E731
            num_frames = video.shape[0]
        else:
            info = probe(video)
            num_frames = info.num_frames
            frames_of = lambda idx: read_frames(video, idx, info).frames  # noqa: E731
        out = []
        for idx in self._clip_indices(num_frames):
            frames = frames_of(idx).permute(0, 3, 1, 2)  # (T, C, H, W) uint8
            for crop in range(self.num_crops):
                out.append(
                    self.transform({"video": frames, "label": -1, "crop": crop}, random.Random(0))[
                        "video"
                    ]
                )
        return torch.stack(out)

    @torch.no_grad()
    def logits(self, video: str | Path | Tensor) -> Tensor:
        """Logits of every view (V, K)."""
        return self.model(self.views(video).to(self.device)).float().cpu()

    @torch.no_grad()
    def predict(self, video: str | Path | Tensor, topk: int = 5) -> Prediction:
        """Top-k labels of the views' mean softmax."""
        logits = self.logits(video)
        p, i = logits.softmax(-1).mean(0).topk(min(topk, logits.shape[1]))
        source = "<tensor>" if isinstance(video, Tensor) else str(video)
        return Prediction(
            source,
            [(self.labels[k], float(v)) for v, k in zip(p.tolist(), i.tolist())],
            len(logits),
        )

    @torch.no_grad()
    def embed(self, video: str | Path | Tensor) -> tuple[Tensor, Tensor]:
        """Pooled features per view (V, D) and their mean per video (D,)."""
        features = self.model.forward_features(self.views(video).to(self.device)).float().cpu()
        return features, features.mean(0)
