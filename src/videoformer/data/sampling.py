"""Which frames a clip takes. One vocabulary: ``clip_len x frame_interval x num_clips``.

- Dense clips (Kinetics recipes: TimeSformer 8x32x1, Video Swin 32x2x4): ``clip_len``
  frames ``frame_interval`` apart. Training takes one clip at a random start; testing
  takes ``num_clips`` clips whose starts are evenly spaced, each centred in its share of
  the video (the mmaction rule).
- Segments (TSN, used for SSv2 by TimeSformer and Video Swin): the video is cut into
  ``clip_len`` equal segments; training takes a random frame of each, testing its middle.

A video shorter than a clip is handled by ``short``: ``"loop"`` wraps around to the start,
``"clamp"`` repeats the last frame. Randomness comes only from the ``random.Random``
passed in, so a seed fixes the frames and the test-time samplers need none.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

SHORT_POLICIES = ("loop", "clamp")


def _fit(indices: list[int], num_frames: int, short: str) -> list[int]:
    if short == "loop":
        return [i % num_frames for i in indices]
    return [min(i, num_frames - 1) for i in indices]


@dataclass(frozen=True)
class ClipSampler:
    """Dense clip sampling: ``clip_len`` frames, ``frame_interval`` apart, ``num_clips`` at test."""

    clip_len: int
    frame_interval: int = 1
    num_clips: int = 1
    short: str = "loop"

    def __post_init__(self) -> None:
        if self.clip_len < 1 or self.frame_interval < 1 or self.num_clips < 1:
            raise ValueError(f"clip spec {self.spec} needs positive numbers")
        if self.short not in SHORT_POLICIES:
            raise ValueError(f"short {self.short!r} is not one of {SHORT_POLICIES}")

    @classmethod
    def parse(cls, spec: str, short: str = "loop") -> ClipSampler:
        """``"8x32x1"`` -> ClipSampler(8, 32, 1)."""
        m = re.fullmatch(r"(\d+)x(\d+)(?:x(\d+))?", spec)
        if not m:
            raise ValueError(
                f"clip spec {spec!r} is not clip_len x frame_interval x num_clips, e.g. '8x32x1'"
            )
        return cls(int(m.group(1)), int(m.group(2)), int(m.group(3) or 1), short)

    @property
    def spec(self) -> str:
        return f"{self.clip_len}x{self.frame_interval}x{self.num_clips}"

    @property
    def span(self) -> int:
        return (self.clip_len - 1) * self.frame_interval + 1

    def clip(self, start: int, num_frames: int) -> list[int]:
        """``clip_len`` indices from ``start``, fitted to the video by ``short``."""
        return _fit(
            [start + k * self.frame_interval for k in range(self.clip_len)], num_frames, self.short
        )

    def train(self, num_frames: int, rng: random.Random) -> list[int]:
        """One clip at a uniformly random start."""
        start = rng.randint(0, max(num_frames - self.span, 0))
        return self.clip(start, num_frames)

    def test(self, num_frames: int) -> list[list[int]]:
        """``num_clips`` clips with evenly spaced starts, each centred in its share."""
        room = num_frames - self.span + 1
        if room <= 0:
            return [self.clip(0, num_frames) for _ in range(self.num_clips)]
        share = room / self.num_clips
        return [self.clip(int(share * k + share / 2), num_frames) for k in range(self.num_clips)]


@dataclass(frozen=True)
class SegmentSampler:
    """TSN segment sampling: ``num_segments`` equal segments, one frame from each."""

    num_segments: int
    num_clips: int = 1  # views at test time (all identical for segments: the middles)

    def _edges(self, num_frames: int) -> list[float]:
        return [num_frames * k / self.num_segments for k in range(self.num_segments + 1)]

    def train(self, num_frames: int, rng: random.Random) -> list[int]:
        """A uniformly random frame of each segment (a segment shorter than a frame gives
        its frame)."""
        e = self._edges(num_frames)
        return [
            min(int(e[k] + rng.random() * (e[k + 1] - e[k])), num_frames - 1)
            for k in range(self.num_segments)
        ]

    def test(self, num_frames: int) -> list[list[int]]:
        """The middle frame of each segment: int(start + length / 2)."""
        e = self._edges(num_frames)
        return [[int((e[k] + e[k + 1]) / 2) for k in range(self.num_segments)]] * self.num_clips

    @property
    def clip_len(self) -> int:
        return self.num_segments
