"""Prediction and embedding extraction, for files or tensors, with the test views of the
model's weights.

``Predictor(checkpoint)`` rebuilds the model from the metadata videoformer writes into its
checkpoints (model name and config, label names, data spec). Foreign checkpoints
(official files, HF directories or ids, URLs) need ``model=`` (a variant or tag) unless
they are HF directories; their input comes from the tag's test protocol, or the
directory's processor config. The views are those of ``videoformer.test_views``
(``views="CLIPSxCROPS"`` changes the counts, ``stride`` slides a window instead) and are
combined as the protocol does: the mean of softmax, or of logits (official TimeSformer's
sum), or the mean of sigmoid for multi-label models.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..checkpoint import load_checkpoint, read_hf_config, read_metadata
from ..data.audio import audio_window, read_audio
from ..data.decode import probe
from ..data.protocols import build_protocol, frames_info
from ..data.sampling import ClipSampler
from ..factory import create_model, weights_source
from ..labels import label_set_of_size
from ..models import DataSpec
from ..preprocessing import (
    data_config,
    fit_to_model,
    hf_data_config,
    is_registered,
    spec_from_metadata,
)

HF_FAMILIES = {"timesformer": "timesformer", "perceiver": "perceiver_io"}  # config.json model_type


def model_from_metadata(meta: dict[str, Any]):
    """Build the model a videoformer checkpoint describes (``apply_overrides`` restores the
    config's types from JSON)."""
    return create_model(meta["model_name"], **meta["model_config"])


def load_for_inference(
    checkpoint: str | Path, model: str | None = None, fallback: str | None = None
):
    """(model with weights, its DataSpec, label names or None) of any checkpoint, or of
    released weights named by tag (``timesformer_base.k400``). ``model`` (a variant or
    tag) overrides what the checkpoint says; ``fallback`` names the variant of a checkpoint
    that says nothing."""
    if not Path(checkpoint).exists() and is_registered(str(checkpoint)):
        built = create_model(str(checkpoint), pretrained=True)
        return built, data_config(str(checkpoint)), None
    source = weights_source(checkpoint)
    if source.is_dir():
        hf = read_hf_config(source) or {}
        name = model or HF_FAMILIES.get(hf.get("model_type", ""), "")
        if not name:
            raise ValueError(
                f"{source}: unknown model_type {hf.get('model_type')!r}; name the model"
            )
        built = create_model(name, pretrained=source)
        data = (
            hf_data_config(source) if hf.get("model_type") == "timesformer" else data_config(built)
        )
        return built, data, built.load_report.labels
    meta, weights = read_metadata(source)
    if meta is not None and "model_config" in meta:
        built = model_from_metadata({**meta, "model_name": model or meta["model_name"]})
        load_checkpoint(built, weights)
        return built, spec_from_metadata(meta), meta.get("labels")
    model = model or fallback
    if model is None:
        raise ValueError(f"{checkpoint} carries no videoformer metadata: name the model (--model)")
    built = create_model(model, pretrained=weights)
    return built, fit_to_model(data_config(model), built), built.load_report.labels


@dataclass
class Prediction:
    source: str
    topk: list[tuple[str, float]]  # (label, probability), best first
    num_views: int


class Predictor:
    """Top-k labels and embeddings of videos (see the module docstring)."""

    def __init__(
        self,
        checkpoint: str | Path,
        model: str | None = None,
        labels: list[str] | str | Path | None = None,
        device: str | torch.device = "cpu",
        views: str | None = None,
        stride: int | None = None,
    ) -> None:
        self.model, self.data, names = load_for_inference(checkpoint, model)
        self.model.eval().to(device)
        self.device = torch.device(device)
        if isinstance(labels, (str, Path)):
            labels = [
                line.strip() for line in Path(labels).read_text().splitlines() if line.strip()
            ]
        num_classes = self.model.config.num_classes
        self.labels = list(
            labels
            or names
            or label_set_of_size(self.data.labels, num_classes)
            or [str(i) for i in range(num_classes)]
        )
        if len(self.labels) != num_classes:
            raise ValueError(
                f"{len(self.labels)} label names for a model with {num_classes} classes"
            )
        self.protocol = build_protocol(self.data, views)
        self.multi_label = bool(getattr(self.model.config, "multi_label", False))
        self.stride = stride

    @property
    def data_spec(self) -> DataSpec:
        return self.data

    def _windows(self, num_frames: int) -> list[list[int]]:
        """Clips starting every ``stride`` frames (dense clips of the protocol's spec)."""
        p = self.protocol
        sampler = ClipSampler(p.clip_len, p.frame_interval)
        return [
            sampler.clip(s, num_frames)
            for s in range(0, max(num_frames - sampler.span, 0) + 1, self.stride)
        ]

    def _clips(self, video: str | Path | Tensor) -> list[list[int]]:
        if isinstance(video, Tensor):
            info = frames_info(len(video), 30.0)
        else:
            info = probe(video)
        return self._windows(info.num_frames) if self.stride else self.protocol.clip_indices(info)

    def views(self, video: str | Path | Tensor) -> Tensor:
        """All test views of a video file, or of uint8 frames (T, H, W, C): (V, C, T, H, W)."""
        return self.protocol.views(video, clips=self._clips(video) if self.stride else None)

    def inputs(self, video: str | Path | Tensor) -> Tensor | dict[str, Tensor]:
        """What the model takes for every view: the views, and for audio-visual models
        ``{"video": views, "audio": (V, S)}`` with each clip's audio from its first frame."""
        audio = self._audio_input()
        if audio is None:
            return self.views(video)
        if isinstance(video, Tensor) or not self.data.audio_rate:
            raise ValueError("this model also takes audio: give a video file with its audio track")
        clips = self._clips(video)
        info, samples = probe(video), read_audio(video, self.data.audio_rate)
        windows = []
        for clip in clips:
            start = float((info.pts[clip[0]] - info.pts[0]) * info.time_base)
            window = audio_window(samples, round(start * self.data.audio_rate), audio)
            windows += [window] * self.protocol.num_crops
        return {"video": self.protocol.views(video, clips=clips), "audio": torch.stack(windows)}

    def _audio_input(self) -> int | None:
        """Samples of the model's raw-audio input, or None without one."""
        for spec in getattr(self.model.config, "inputs", ()):
            if spec.name == "audio" and spec.layout == "BS":
                return math.prod(r * p for r, p in zip(spec.max_resolution, spec.patch_size))
        return None

    def _to_device(self, x: Tensor | dict[str, Tensor]) -> Tensor | dict[str, Tensor]:
        if isinstance(x, dict):
            return {k: v.to(self.device) for k, v in x.items()}
        return x.to(self.device)

    @torch.no_grad()
    def logits(self, video: str | Path | Tensor) -> Tensor:
        """Logits of every view (V, K)."""
        return self.model(self._to_device(self.inputs(video))).float().cpu()

    def probabilities(self, logits: Tensor) -> Tensor:
        """Per-class probabilities of a video from its views' logits (V, K): the mean of
        sigmoid (multi-label), the softmax of the mean logit (protocols that sum logits:
        the same ranking), else the mean of softmax."""
        if self.multi_label:
            return logits.sigmoid().mean(0)
        if self.protocol.aggregate == "sum_logits":
            return logits.mean(0).softmax(-1)
        return logits.softmax(-1).mean(0)

    @torch.no_grad()
    def predict(self, video: str | Path | Tensor, topk: int = 5) -> Prediction:
        """Top-k labels of a video (probabilities as ``probabilities`` combines the views)."""
        logits = self.logits(video)
        p, i = self.probabilities(logits).topk(min(topk, logits.shape[1]))
        source = "<tensor>" if isinstance(video, Tensor) else str(video)
        return Prediction(
            source,
            [(self.labels[k], float(v)) for v, k in zip(p.tolist(), i.tolist())],
            len(logits),
        )

    @torch.no_grad()
    def embed(self, video: str | Path | Tensor) -> tuple[Tensor, Tensor]:
        """Pooled features per view (V, D) and their mean per video (D,)."""
        features = self.model.forward_features(self._to_device(self.inputs(video))).float().cpu()
        return features, features.mean(0)
