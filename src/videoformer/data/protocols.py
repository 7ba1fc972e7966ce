"""The official test-time pipelines, reproduced: which frames, how they are resized and
cropped and how they are normalised (how the views' scores combine is the spec's
``aggregate``: ``videoformer.specs``).

A protocol turns a video into its test views ``(V, C, T, H, W)`` float32, clip-major
(view = clip * num_crops + crop, even where the official code orders them crop-major).

- ``timesformer``: facebookresearch/TimeSformer ``datasets/{decoder,kinetics,utils,
  transform}.py``. Frames: a 30 fps time base, clip k of N starting at delta*k/N, decoded
  by pts window, picked with a float32 linspace. Pixels: normalised, then resized
  bilinearly (no antialias) on floats, long side floored. Crops: start, centre (ceil),
  end. Views (by default): sum of logits.
- ``timesformer_ssv2``: the same code's ``datasets/ssv2.py``. Frames: segment middles
  ``(round(s*i) + round(s*(i+1))) // 2`` with ``s = (L-1)/T``. Pixels as above, in **BGR**
  order (the official loader reads its JPEG frames with cv2 and never swaps).
- ``mmaction``: mmaction2 ``SampleFrames``, ``Resize``, ``ThreeCrop``/``CenterCrop``,
  ``ActionDataPreprocessor`` (Video Swin). Frames: clip offsets
  ``round(k * max_offset / (N-1))``, looping past the end. Pixels: cv2 INTER_LINEAR on
  uint8 (emulated bit-exactly here), long side rounded. Crops: left, right, middle (or
  the centre). Views (by default): mean of softmax.
- ``hf_videomae``: transformers ``VideoMAEImageProcessor`` (HF TimeSformer directories).
  Frames: T at ``linspace(0, n-1, T).round()`` (HF leaves frames to the caller). Pixels:
  bilinear with antialias on uint8, long side truncated, ``(x - 255*mean) / (255*std)``.
  Crop: the centre (floor). Views (by default): mean of softmax.
- ``videoformer``: this library's recipes: centred dense clips or segment middles,
  antialiased resize on uint8, then normalise; start, centre, end crops.

Frame indices count presented frames from 0, as ``decode.probe`` orders them.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..specs import PROTOCOL_AGGREGATES
from .decode import VideoInfo, probe, read_frames
from .sampling import ClipSampler, SegmentSampler
from .transforms import crop_position, short_side_size, video_test_transform

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (x1, y1 exclusive) in the resized frame

# --- frame choice ----------------------------------------------------------------------


def _start_end(
    video_size: float, clip_size: float, clip_idx: int, num_clips: int
) -> tuple[float, float]:
    """TimeSformer/PySlowFast ``get_start_end_idx`` in test mode."""
    delta = max(video_size - clip_size, 0)
    start = delta * clip_idx / num_clips
    return start, start + clip_size - 1


def _linspace_pick(decoded: Sequence[int], start: float, end: float, num_frames: int) -> list[int]:
    """``temporal_sampling``: float32 linspace, clamped to the decoded list, truncated."""
    index = torch.linspace(start, end, num_frames).clamp(0, len(decoded) - 1).long()
    return [decoded[i] for i in index.tolist()]


def timesformer_indices(
    info: VideoInfo, num_frames: int, sampling_rate: int, num_clips: int, target_fps: int = 30
) -> list[list[int]]:
    """The official TimeSformer Kinetics test frames of each of ``num_clips`` clips.

    A clip spans ``sampling_rate * num_frames`` frames at ``target_fps``, that is
    ``clip_size = sampling_rate * num_frames / target_fps * fps`` frames of the video. With
    a duration in the header, clip k decodes the frames whose pts lie in
    ``[int(s * tpf), int(e * tpf)]`` (s, e its first and last frame index at
    ``delta * k / num_clips``, tpf = duration / frames) plus the next frame, then picks
    from those; without one, it decodes the whole video and picks from all frames.
    """
    fps = info.average_rate or info.fps
    clip_size = sampling_rate * num_frames / target_fps * fps
    everything = list(range(info.num_frames))
    clips = []
    for k in range(num_clips):
        if info.stream_duration is None or not info.stream_frames:
            # no duration (MKV, WebM): the whole video, clip k of num_clips in it. (A duration
            # without a frame count makes the official loader fail; we take this path.)
            start, end = _start_end(len(everything), clip_size, k, num_clips)
            clips.append(_linspace_pick(everything, start, end, num_frames))
            continue
        s, e = _start_end(info.stream_frames, clip_size, k, num_clips)
        tpf = info.stream_duration / info.stream_frames
        start_pts, end_pts = int(s * tpf), int(e * tpf)
        decoded = [i for i, p in enumerate(info.pts) if start_pts <= p <= end_pts]
        decoded += [i for i, p in enumerate(info.pts) if p > end_pts][:1]  # one frame past the end
        if not decoded:
            raise ValueError(f"{info.path}: no frame between pts {start_pts} and {end_pts}")
        start, end = _start_end(len(decoded), clip_size, 0, 1)
        clips.append(_linspace_pick(decoded, start, end, num_frames))
    return clips


def ssv2_segment_indices(num_video_frames: int, num_frames: int) -> list[int]:
    """The official TimeSformer SSv2 test frames: the middle of each of ``num_frames``
    segments of the ``L - 1`` frame gaps, with NumPy's round-half-to-even."""
    seg = (num_video_frames - 1) / num_frames
    return [(int(np.round(seg * i)) + int(np.round(seg * (i + 1)))) // 2 for i in range(num_frames)]


def mmaction_sample_frames(
    total: int, clip_len: int, frame_interval: int, num_clips: int, out_of_bound: str = "loop"
) -> list[list[int]]:
    """mmaction2 ``SampleFrames(test_mode=True)`` without fps conversion: clip offsets
    ``round(k * max_offset / (num_clips - 1))`` (the last clip ends on the last frame), one
    clip centred at ``max_offset // 2``; ``clip_len == 1`` takes segment middles."""
    if clip_len == 1:
        interval = total / num_clips
        offsets = np.arange(num_clips) * interval + interval / 2.0
    else:
        max_offset = max(total - ((clip_len - 1) * frame_interval + 1), 0)
        if num_clips > 1:
            offsets = np.round(np.arange(num_clips) * (max_offset / float(num_clips - 1)))
        else:
            offsets = np.array([max_offset // 2])
    inds = offsets[:, None] + np.arange(clip_len)[None, :] * frame_interval
    inds = inds.astype(np.int64)
    if out_of_bound == "loop":
        inds = np.mod(inds, total)
    elif out_of_bound == "repeat_last":
        inside = inds < total
        last = np.max(inside * inds, axis=1, keepdims=True)
        inds = np.where(inside, inds, last)
    else:
        raise ValueError(f"out_of_bound {out_of_bound!r} is not 'loop' or 'repeat_last'")
    return inds.tolist()


def mmaction_uniform_sample(total: int, clip_len: int, num_clips: int) -> list[list[int]]:
    """mmaction2 ``UniformSample(test_mode=True)``: clip k takes ``round(seg * i) +
    int(seg / (num_clips + 1) * (k + 1))`` with ``seg = (total - 1) / clip_len``."""
    seg = (total - 1) / clip_len
    step = seg / (num_clips + 1)
    return [
        [int(np.round(seg * i)) + int(step * (k + 1)) for i in range(clip_len)]
        for k in range(num_clips)
    ]


def linspace_indices(total: int, num_frames: int) -> list[int]:
    """``num_frames`` frames evenly spread over the video, ``linspace(0, n - 1, T).round()``."""
    return np.linspace(0, total - 1, num_frames).round().astype(np.int64).tolist()


# --- pixels ------------------------------------------------------------------------------


def _cv2_coefficients(src: int, dst: int, clamp: bool) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """OpenCV INTER_LINEAR taps and 11-bit weights along one axis (float32 positions)."""
    scale = 1.0 / (dst / src)
    pos = ((np.arange(dst, dtype=np.float64) + 0.5) * scale - 0.5).astype(np.float32)
    first = np.floor(pos).astype(np.int64)
    frac = (pos - first.astype(np.float32)).astype(np.float32)
    if clamp:  # columns: outside the image the nearest edge pixel with weight 1
        low, high = first < 0, first >= src - 1
        frac[low | high] = 0
        first = np.clip(first, 0, src - 1)
    w0 = np.rint((np.float32(1) - frac) * np.float32(2048)).astype(np.int64)
    w1 = np.rint(frac * np.float32(2048)).astype(np.int64)
    second = np.clip(first + 1, 0, src - 1)
    first = np.clip(first, 0, src - 1)
    return (
        torch.from_numpy(first),
        torch.from_numpy(second),
        torch.from_numpy(w0),
        torch.from_numpy(w1),
    )


def cv2_linear_resize(frames: Tensor, size: tuple[int, int]) -> Tensor:
    """``cv2.resize(frame, (w, h), interpolation=cv2.INTER_LINEAR)`` on uint8 frames,
    bit-exact without OpenCV: fixed-point taps (11-bit weights), a horizontal pass in
    integers, then OpenCV's vectorised vertical rounding. frames: uint8 (T, H, W, C)."""
    T, H, W, C = frames.shape
    h, w = size
    x0, x1, a0, a1 = _cv2_coefficients(W, w, clamp=True)
    y0, y1, b0, b1 = _cv2_coefficients(H, h, clamp=False)
    src = frames.to(torch.int64)
    rows = src[:, :, x0] * a0[:, None] + src[:, :, x1] * a1[:, None]  # (T, H, w, C)
    top = (rows[:, y0] >> 4) * b0[:, None, None] >> 16
    bottom = (rows[:, y1] >> 4) * b1[:, None, None] >> 16
    return ((top + bottom + 2) >> 2).clamp(0, 255).to(torch.uint8)


def _crop(video: Tensor, box: Box) -> Tensor:
    x0, y0, x1, y1 = box
    return video[..., y0:y1, x0:x1]


def _normalise(frames: Tensor, mean: Sequence[float], std: Sequence[float]) -> Tensor:
    """uint8 (T, H, W, C) -> float32 (C, T, H, W): x / 255, minus mean, over std."""
    x = (frames.float() / 255.0 - torch.tensor(mean)) / torch.tensor(std)
    return x.permute(3, 0, 1, 2)


# --- protocols ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Protocol:
    """A test pipeline: ``clip_indices`` (frames per clip) and ``crop_views`` (the crops of
    one clip), assembled by ``views``. Sizes are pixels; mean and std are in [0, 1] units."""

    clip_len: int
    frame_interval: int
    num_clips: int
    num_crops: int
    size: int
    short_side: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    name: ClassVar[str]
    crop_counts: ClassVar[tuple[int, ...]] = (1, 3)

    def __post_init__(self) -> None:
        if self.num_crops not in self.crop_counts:
            raise ValueError(
                f"the {self.name} protocol takes {self.crop_counts} crops, not {self.num_crops}"
            )
        if self.num_clips < 1:
            raise ValueError(f"num_clips must be at least 1, got {self.num_clips}")

    @property
    def num_views(self) -> int:
        return self.num_clips * self.num_crops

    def clip_indices(self, info: VideoInfo) -> list[list[int]]:
        raise NotImplementedError

    def geometry(self, height: int, width: int) -> tuple[tuple[int, int], list[Box]]:
        """(resized height and width, crop boxes in crop order) for frames of this size."""
        raise NotImplementedError

    def crop_views(self, frames: Tensor) -> Tensor:
        """uint8 (T, H, W, C) -> float32 (num_crops, C, T, size, size)."""
        raise NotImplementedError

    def views(
        self,
        video: str | Path | Tensor,
        fps: float | None = None,
        clips: list[list[int]] | None = None,
    ) -> Tensor:
        """The test views of a video file, or of uint8 frames (T, H, W, C) shown at ``fps``
        (default 30): float32 (num_clips * num_crops, C, T, size, size), clip-major.
        ``clips`` replaces the protocol's choice of frames (sliding windows)."""
        if isinstance(video, Tensor):
            if video.ndim != 4 or video.shape[-1] != 3 or video.dtype != torch.uint8:
                raise ValueError(
                    f"frames must be uint8 (T, H, W, 3), got {video.dtype} {tuple(video.shape)}"
                )
            clips = clips or self.clip_indices(frames_info(len(video), fps or 30.0))
            return torch.cat([self.crop_views(video[idx]) for idx in clips])
        info = probe(video)
        clips = clips or self.clip_indices(info)
        wanted = sorted({i for clip in clips for i in clip})
        decoded = read_frames(video, wanted, info).frames
        position = {i: k for k, i in enumerate(wanted)}
        return torch.cat([self.crop_views(decoded[[position[i] for i in clip]]) for clip in clips])


def frames_info(num_frames: int, fps: float) -> VideoInfo:
    """The VideoInfo of decoded frames shown at a constant ``fps`` (pts = frame index)."""
    rate = Fraction(fps).limit_denominator(1001)
    return VideoInfo(
        path="<frames>",
        num_frames=num_frames,
        fps=float(fps),
        duration=num_frames / fps,
        width=0,
        height=0,
        pts=tuple(range(num_frames)),
        time_base=1 / rate,
        stream_frames=num_frames,
        stream_duration=num_frames,
        average_rate=float(fps),
    )


def _uniform_crop_boxes(height: int, width: int, size: int, num_crops: int) -> list[Box]:
    """TimeSformer ``uniform_crop``: centre at ceil((L - size) / 2); 0 and 2 at the ends of
    the long side (left/right, or top/bottom for portrait frames)."""
    y, x = math.ceil((height - size) / 2), math.ceil((width - size) / 2)
    boxes = []
    for idx in range(3) if num_crops == 3 else [1]:
        top, left = y, x
        if height > width:
            top = {0: 0, 1: y, 2: height - size}[idx]
        else:
            left = {0: 0, 1: x, 2: width - size}[idx]
        boxes.append((left, top, left + size, top + size))
    return boxes


@dataclass(frozen=True)
class TimeSformerProtocol(Protocol):
    """facebookresearch/TimeSformer's Kinetics test loader. With three crops the short
    side goes to ``size``; with one, to ``short_side`` (its ``TRAIN_JITTER_SCALES[0]``)."""

    target_fps: int = 30
    name: ClassVar[str] = "timesformer"
    bgr: ClassVar[bool] = False

    def clip_indices(self, info: VideoInfo) -> list[list[int]]:
        return timesformer_indices(
            info, self.clip_len, self.frame_interval, self.num_clips, self.target_fps
        )

    def _scale(self) -> int:
        return self.size if self.num_crops > 1 else self.short_side

    def geometry(self, height: int, width: int) -> tuple[tuple[int, int], list[Box]]:
        short = self._scale()
        if min(height, width) == short:
            resized = (height, width)
        elif width < height:
            resized = (int(math.floor(height / width * short)), short)
        else:
            resized = (short, int(math.floor(width / height * short)))
        return resized, _uniform_crop_boxes(*resized, self.size, self.num_crops)

    def crop_views(self, frames: Tensor) -> Tensor:
        if self.bgr:
            frames = frames.flip(-1)
        x = _normalise(frames, self.mean, self.std)  # (C, T, H, W): normalised before resizing
        resized, boxes = self.geometry(*x.shape[-2:])
        if tuple(x.shape[-2:]) != resized:  # C acts as the batch, T as channels
            x = F.interpolate(x, size=resized, mode="bilinear", align_corners=False)
        return torch.stack([_crop(x, box) for box in boxes])


@dataclass(frozen=True)
class TimeSformerSSv2Protocol(TimeSformerProtocol):
    """The official SSv2 test: segment middles, short side ``size`` for any crop count,
    BGR frames (the official loader reads JPEG frames with cv2 and never swaps)."""

    name: ClassVar[str] = "timesformer_ssv2"
    bgr: ClassVar[bool] = True

    def clip_indices(self, info: VideoInfo) -> list[list[int]]:
        return [ssv2_segment_indices(info.num_frames, self.clip_len)] * self.num_clips

    def _scale(self) -> int:
        return self.size


@dataclass(frozen=True)
class MMActionProtocol(Protocol):
    """mmaction2's test pipeline (Video Swin): ``SampleFrames``, ``Resize(scale=(-1,
    short_side))``, ``ThreeCrop`` or ``CenterCrop``, ``ActionDataPreprocessor``.
    ``sampler="segment"`` is Video Swin's SSv2 ``frame_uniform`` sampling (segment
    middles, as TimeSformer's SSv2 test)."""

    sampler: str = "dense"
    name: ClassVar[str] = "mmaction"

    def clip_indices(self, info: VideoInfo) -> list[list[int]]:
        if self.sampler == "segment":
            return [ssv2_segment_indices(info.num_frames, self.clip_len)] * self.num_clips
        return mmaction_sample_frames(
            info.num_frames, self.clip_len, self.frame_interval, self.num_clips
        )

    def geometry(self, height: int, width: int) -> tuple[tuple[int, int], list[Box]]:
        factor = self.short_side / min(height, width)  # mmcv.rescale_size rounds
        resized = (int(height * factor + 0.5), int(width * factor + 0.5))
        h, w, s = *resized, self.size
        if self.num_crops == 1:
            top, left = (h - s) // 2, (w - s) // 2
            return resized, [(left, top, left + s, top + s)]
        if h == s:  # ThreeCrop: left, right, middle
            step = (w - s) // 2
            return resized, [(x, 0, x + s, s) for x in (0, 2 * step, step)]
        if w == s:  # top, bottom, middle
            step = (h - s) // 2
            return resized, [(0, y, s, y + s) for y in (0, 2 * step, step)]
        raise ValueError(
            f"three crops of {s} need one side of the resized frame {resized} to equal {s}"
        )

    def crop_views(self, frames: Tensor) -> Tensor:
        resized, boxes = self.geometry(*frames.shape[1:3])
        if tuple(frames.shape[1:3]) != resized:
            frames = cv2_linear_resize(frames, resized)
        mean = torch.tensor([m * 255 for m in self.mean], dtype=torch.float32).view(3, 1, 1, 1)
        std = torch.tensor([s * 255 for s in self.std], dtype=torch.float32).view(3, 1, 1, 1)
        x = (frames.permute(3, 0, 1, 2).float() - mean) / std  # (C, T, H, W)
        return torch.stack([_crop(x, box) for box in boxes])


@dataclass(frozen=True)
class VideoMAEProtocol(Protocol):
    """transformers ``VideoMAEImageProcessor`` (HF TimeSformer directories): the short side
    to ``short_side`` (long side truncated), antialiased bilinear on uint8, a centre crop
    at floor((L - size) / 2), fused rescale and normalise."""

    name: ClassVar[str] = "hf_videomae"
    crop_counts: ClassVar[tuple[int, ...]] = (1,)

    def clip_indices(self, info: VideoInfo) -> list[list[int]]:
        return [linspace_indices(info.num_frames, self.clip_len)] * self.num_clips

    def geometry(self, height: int, width: int) -> tuple[tuple[int, int], list[Box]]:
        s = self.short_side
        resized = (s, int(s * width / height)) if height <= width else (int(s * height / width), s)
        top, left = int((resized[0] - self.size) / 2), int((resized[1] - self.size) / 2)
        return resized, [(left, top, left + self.size, top + self.size)]

    def crop_views(self, frames: Tensor) -> Tensor:
        resized, boxes = self.geometry(*frames.shape[1:3])
        video = frames.permute(0, 3, 1, 2)  # (T, C, H, W) uint8
        if tuple(video.shape[-2:]) != resized:
            video = F.interpolate(
                video, size=resized, mode="bilinear", antialias=True, align_corners=False
            )
        scale = 1.0 / (1 / 255.0)
        mean = (torch.tensor(self.mean) * scale).view(1, 3, 1, 1)
        std = (torch.tensor(self.std) * scale).view(1, 3, 1, 1)
        x = ((video.float() - mean) / std).permute(1, 0, 2, 3)  # (C, T, H, W)
        return torch.stack([_crop(x, box) for box in boxes])


@dataclass(frozen=True)
class VideoformerProtocol(Protocol):
    """This library's recipes: centred dense clips (or segment middles with
    ``sampler="segment"``), uint8 antialiased resize, start/centre/end crops."""

    sampler: str = "dense"
    name: ClassVar[str] = "videoformer"

    def clip_indices(self, info: VideoInfo) -> list[list[int]]:
        if self.sampler == "segment":
            return SegmentSampler(self.clip_len, self.num_clips).test(info.num_frames)
        return ClipSampler(self.clip_len, self.frame_interval, self.num_clips).test(info.num_frames)

    def _transform(self):
        return video_test_transform(self.size, self.mean, self.std, self.short_side, self.num_crops)

    def geometry(self, height: int, width: int) -> tuple[tuple[int, int], list[Box]]:
        h, w = short_side_size(height, width, self.short_side)
        positions = (0, 1, 2) if self.num_crops == 3 else (1,)
        corners = [crop_position(h, w, self.size, p) for p in positions]
        return (h, w), [(x, y, x + self.size, y + self.size) for y, x in corners]

    def crop_views(self, frames: Tensor) -> Tensor:
        video = frames.permute(0, 3, 1, 2)  # (T, C, H, W)
        transform = self._transform()
        return torch.stack(
            [
                transform({"video": video, "label": -1, "crop": crop}, random.Random(0))["video"]
                for crop in range(self.num_crops)
            ]
        )


PROTOCOLS: dict[str, type[Protocol]] = {
    p.name: p
    for p in (
        TimeSformerProtocol,
        TimeSformerSSv2Protocol,
        MMActionProtocol,
        VideoMAEProtocol,
        VideoformerProtocol,
    )
}
assert PROTOCOLS.keys() == PROTOCOL_AGGREGATES.keys(), "each protocol videoformer.specs names"


def parse_views(text: str) -> tuple[int, int]:
    """``"4x3"`` -> (4 clips, 3 crops)."""
    m = re.fullmatch(r"\s*(\d+)\s*x\s*(\d+)\s*", text or "")
    if not m or int(m.group(1)) < 1:
        raise ValueError(f"views must be CLIPSxCROPS such as 4x3, got {text!r}")
    return int(m.group(1)), int(m.group(2))


def build_protocol(spec: Any, views: str | None = None, **extra: Any) -> Protocol:
    """The protocol a data spec names (``videoformer.specs.DataSpec`` or anything with its
    fields: protocol, clip, size, mean, std, test_short_side, num_crops, sampler);
    ``views="CLIPSxCROPS"`` overrides the clip and crop counts."""
    name = getattr(spec, "protocol", "videoformer")
    if name not in PROTOCOLS:
        raise ValueError(f"unknown test protocol {name!r}; known: {', '.join(PROTOCOLS)}")
    sampler = ClipSampler.parse(spec.clip)
    num_clips, num_crops = sampler.num_clips, getattr(spec, "num_crops", 1)
    if views:
        num_clips, num_crops = parse_views(views)
    fields: dict[str, Any] = dict(
        clip_len=sampler.clip_len,
        frame_interval=sampler.frame_interval,
        num_clips=num_clips,
        num_crops=num_crops,
        size=spec.size,
        short_side=spec.test_short_side or spec.size,
        mean=tuple(spec.mean),
        std=tuple(spec.std),
    )
    if name in ("videoformer", "mmaction"):
        fields["sampler"] = getattr(spec, "sampler", "dense")
    fields.update(extra)
    return PROTOCOLS[name](**fields)


__all__ = [
    "PROTOCOLS",
    "MMActionProtocol",
    "Protocol",
    "TimeSformerProtocol",
    "TimeSformerSSv2Protocol",
    "VideoMAEProtocol",
    "VideoformerProtocol",
    "build_protocol",
    "cv2_linear_resize",
    "frames_info",
    "linspace_indices",
    "mmaction_sample_frames",
    "mmaction_uniform_sample",
    "parse_views",
    "ssv2_segment_indices",
    "timesformer_indices",
]
