"""Prediction and embedding extraction, for files or tensors, with the test views of the
model's weights.

``Predictor(source)`` takes anything ``resolve_source`` reads (a saved model or checkpoint,
released weights by tag, an HF directory or id, a URL), the ``ModelSource`` it returns, or
a model object (``load_model``'s, or any registered model: its source's test input and
labels when it has them, else its defaults). Foreign checkpoints need ``model=`` (a variant
or tag) unless they are HF directories. The views are those of ``videoformer.test_views``
(``views="CLIPSxCROPS"`` changes the counts, ``stride`` slides a window instead) and are
combined as the data spec's ``aggregate`` says: the mean of softmax, the sum of logits
(official TimeSformer), or the mean of sigmoid for multi-label models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

from ..data.audio import audio_window, read_audio
from ..data.decode import VideoInfo, probe
from ..data.protocols import build_protocol, frames_info
from ..data.sampling import ClipSampler
from ..models.base import compile_model
from ..specs import DataSpec, ModelSource, view_probabilities
from ..weights.factory import load_source, ready_to_use

Video = str | Path | Tensor  # a file, uint8 frames (T, H, W, C), or float views (V, C, T, H, W)


@dataclass
class Window:
    """One clip of a sliding window: its frames' time span and its own top-k."""

    start: float  # seconds, first frame shown
    end: float  # seconds, last frame's end
    topk: list[tuple[str, float]]


@dataclass
class Prediction:
    source: str
    topk: list[tuple[str, float]]  # (label, probability), best first
    num_views: int
    windows: list[Window] = field(default_factory=list)  # with ``stride``: one per clip


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None``: CUDA when available, else the CPU; asking for CUDA without it is an error."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device {device} asked for, but no CUDA device is available here; use cpu"
        )
    return device


class Predictor:
    """Top-k labels and embeddings of videos (see the module docstring)."""

    def __init__(
        self,
        source: str | Path | ModelSource | nn.Module,
        model: str | None = None,
        labels: list[str] | str | Path | None = None,
        device: str | torch.device | None = None,
        views: str | None = None,
        stride: int | None = None,
        compile: bool = False,
    ) -> None:
        if not isinstance(source, (str, Path, ModelSource, nn.Module)):
            raise TypeError(
                f"Predictor takes a path, a tag or a model, got {type(source).__name__}"
            )
        loaded = source if isinstance(source, nn.Module) else load_source(source, model)
        self.model = ready_to_use(loaded)
        self.data: DataSpec = self.model.data_spec
        self.device = resolve_device(device)
        self.model.eval().to(self.device)
        self.run = compile_model(self.model) if compile else self.model  # logits
        if isinstance(labels, (str, Path)):
            labels = [
                line.strip() for line in Path(labels).read_text().splitlines() if line.strip()
            ]
        num_classes = self.model.config.num_classes
        self.labels = list(labels or self.model.label_names or [str(i) for i in range(num_classes)])
        if len(self.labels) != num_classes:
            raise ValueError(
                f"{len(self.labels)} label names for a model with {num_classes} classes"
            )
        self.protocol = build_protocol(self.data, views)
        self.stride = stride

    @property
    def data_spec(self) -> DataSpec:
        return self.data

    def _info(self, video: Video) -> VideoInfo:
        return frames_info(len(video), 30.0) if isinstance(video, Tensor) else probe(video)

    def _windows(self, num_frames: int) -> list[list[int]]:
        """Clips starting every ``stride`` frames (dense clips of the protocol's spec)."""
        p = self.protocol
        sampler = ClipSampler(p.clip_len, p.frame_interval)
        last = max(num_frames - sampler.span, 0)
        return [sampler.clip(start, num_frames) for start in range(0, last + 1, self.stride)]

    def _clips(self, video: Video) -> list[list[int]]:
        info = self._info(video)
        return self._windows(info.num_frames) if self.stride else self.protocol.clip_indices(info)

    def views(self, video: Video) -> Tensor:
        """All test views of a video file, or of uint8 frames (T, H, W, C): (V, C, T, H, W)."""
        if isinstance(video, Tensor) and video.is_floating_point():
            return video  # already views
        return self.protocol.views(video, clips=self._clips(video) if self.stride else None)

    def inputs(self, video: Video) -> Tensor | dict[str, Tensor]:
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
        """Samples of the model's raw-audio input (an ``audio`` input of one axis in its
        ``input_shape``), or None without one."""
        shape = self.model.input_shape
        audio = shape.get("audio", ()) if isinstance(shape, dict) else ()
        return audio[0] if len(audio) == 1 else None

    def _to_device(self, x: Tensor | dict[str, Tensor]) -> Tensor | dict[str, Tensor]:
        if isinstance(x, dict):
            return {k: v.to(self.device) for k, v in x.items()}
        return x.to(self.device)

    @torch.no_grad()
    def logits(self, video: Video) -> Tensor:
        """Logits of every view (V, K)."""
        return self.run(self._to_device(self.inputs(video))).float().cpu()

    def probabilities(self, logits: Tensor) -> Tensor:
        """Per-class probabilities of a video from its views' logits (V, K), combined as
        the data spec's ``aggregate`` says (``videoformer.specs.view_probabilities``)."""
        return view_probabilities(logits, self.data.aggregate)

    def _topk(self, probabilities: Tensor, k: int) -> list[tuple[str, float]]:
        p, i = probabilities.topk(min(k, len(probabilities)))
        return [(self.labels[c], float(v)) for v, c in zip(p.tolist(), i.tolist())]

    @torch.no_grad()
    def predict(self, video: Video, topk: int = 5) -> Prediction:
        """Top-k labels of a video (``probabilities`` combines the views); with ``stride``
        also each window's span in seconds and top-k (a timeline of a long video)."""
        logits = self.logits(video)
        source = "<tensor>" if isinstance(video, Tensor) else str(video)
        prediction = Prediction(source, self._topk(self.probabilities(logits), topk), len(logits))
        if self.stride and not (isinstance(video, Tensor) and video.is_floating_point()):
            crops = self.protocol.num_crops
            for k, (start, end) in enumerate(self.spans(video)):
                scores = self.probabilities(logits[k * crops : (k + 1) * crops])
                prediction.windows.append(Window(start, end, self._topk(scores, topk)))
        return prediction

    def frame_times(self, video: Video) -> list[list[float]]:
        """When each frame of each clip is shown in the source, in seconds."""
        info = self._info(video)
        return [
            [round(float((info.pts[i] - info.pts[0]) * info.time_base), 6) for i in clip]
            for clip in self._clips(video)
        ]

    def spans(self, video: Video) -> list[tuple[float, float]]:
        """The time span in seconds of each clip the views come from (clip-major: view v
        is clip ``v // num_crops``): its first frame shown to its last frame's end."""
        info = self._info(video)
        spans = []
        for clip in self._clips(video):
            start = float((info.pts[clip[0]] - info.pts[0]) * info.time_base)
            end = float((info.pts[clip[-1]] - info.pts[0]) * info.time_base)
            spans.append((round(start, 6), round(end + 1 / (info.fps or 30.0), 6)))
        return spans

    @torch.no_grad()
    def embed(self, video: Video) -> tuple[Tensor, Tensor]:
        """Pooled features per view (V, D) and their mean per video (D,)."""
        features = self.model.forward_features(self._to_device(self.inputs(video))).float().cpu()
        return features, features.mean(0)
