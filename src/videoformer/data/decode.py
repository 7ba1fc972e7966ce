"""Decoding only the frames a clip needs, with PyAV (FFmpeg inside the wheel).

``probe`` demuxes the video stream without decoding it and sorts the packets'
presentation timestamps: frame ``i`` is the i-th presented frame, so indices map to
timestamps exactly for variable frame rates and for streams that do not start at 0.
``read_frames`` seeks to the keyframe before the first wanted frame, decodes forward
and stops after the last one. Nothing keeps a container open between calls, so
readers pickle cleanly into DataLoader workers.

Backends: PyAV always; torchcodec (``backend="torchcodec"``, or ``"auto"`` when it
imports) for the frames themselves when it is installed and works with the installed
torch — it needs system FFmpeg libraries, and the PyPI build 0.17.0 does not load beside
the CPU torch 2.13.0 here (it wants libnvrtc), so ``"auto"`` falls back to PyAV.
Probing (frame count, timestamps) is always PyAV's.
"""

from __future__ import annotations

import bisect
import logging
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from torch import Tensor

from .pyav import av

log = logging.getLogger(__name__)


class VideoDecodeError(RuntimeError):
    """A video that cannot be read; the message names the file and the reason."""

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


@dataclass(frozen=True)
class VideoInfo:
    path: str
    num_frames: int
    fps: float  # average frame rate
    duration: float  # seconds, first to last presented frame plus one frame
    width: int
    height: int
    pts: tuple[int, ...]  # presentation timestamps in stream time base, sorted
    time_base: Fraction
    # what the container's header says, as official loaders read it (PyAV's stream.frames,
    # stream.duration in time_base units, stream.average_rate): 0 / None when absent
    stream_frames: int = 0
    stream_duration: int | None = None
    average_rate: float = 0.0
    # indices of the frames whose packets are keyframes (where decoding can start); empty
    # when unknown: decoding then starts once, at the keyframe before the first wanted frame
    keyframes: tuple[int, ...] = ()


@dataclass(frozen=True)
class Clip:
    frames: Tensor  # uint8 (T, H, W, C)
    indices: tuple[int, ...]  # frame indices actually returned, in order
    info: VideoInfo
    decoded: int  # frames the decoder produced to get them (the cost of the seek)


Source = str | Path | BinaryIO  # a file, or a video's bytes (a sample of a shard)


def _open(path: Source, name: str | None = None) -> av.container.InputContainer:
    """``name``: what errors call a source that is not a path."""
    if not isinstance(path, (str, Path)):
        try:
            container = av.open(path)
        except av.FFmpegError as e:
            raise VideoDecodeError(name or "<bytes>", f"not a readable video ({e})") from e
        if not container.streams.video:
            container.close()
            raise VideoDecodeError(name or "<bytes>", "no video stream")
        return container
    path = Path(path)
    if not path.is_file():
        raise VideoDecodeError(path, "file not found")
    try:
        container = av.open(str(path))
    except av.FFmpegError as e:
        raise VideoDecodeError(path, f"not a readable video container ({e})") from e
    if not container.streams.video:
        container.close()
        raise VideoDecodeError(path, "no video stream")
    return container


@lru_cache(maxsize=4096)
def _probe_cached(path: str, mtime_ns: int, size: int) -> VideoInfo:
    with _open(path) as container:
        stream = container.streams.video[0]
        try:
            packets = [
                (p.pts if p.pts is not None else p.dts, p.is_keyframe)
                for p in container.demux(stream)
                if p.size > 0 and (p.pts is not None or p.dts is not None)
            ]
        except av.FFmpegError as e:
            raise VideoDecodeError(path, f"corrupt stream while demuxing ({e})") from e
        if not packets:
            raise VideoDecodeError(path, "the video stream has no frames")
        pts = sorted(t for t, _ in packets)
        index = {t: k for k, t in enumerate(pts)}
        keyframes = tuple(sorted(index[t] for t, key in packets if key))
        time_base = stream.time_base
        rate = stream.average_rate or stream.guessed_rate
        if rate:
            fps = float(rate)
        elif len(pts) > 1:
            fps = (len(pts) - 1) / float((pts[-1] - pts[0]) * time_base)
        else:
            fps = 0.0
        frame_span = float(time_base * (pts[-1] - pts[0])) + (1 / fps if fps else 0.0)
        return VideoInfo(
            path=path,
            num_frames=len(pts),
            fps=fps,
            duration=frame_span,
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            pts=tuple(pts),
            time_base=time_base,
            stream_frames=stream.frames,
            stream_duration=stream.duration,
            average_rate=float(stream.average_rate) if stream.average_rate else 0.0,
            keyframes=keyframes,
        )


def probe(path: str | Path) -> VideoInfo:
    """Frame count, rate, size and presentation timestamps, from the packets (no decoding).

    Cached per (path, mtime, size) within a process."""
    path = Path(path)
    if not path.is_file():
        raise VideoDecodeError(path, "file not found")
    stat = path.stat()
    if stat.st_size == 0:
        raise VideoDecodeError(path, "empty file")
    return _probe_cached(str(path), stat.st_mtime_ns, stat.st_size)


BACKENDS = ("auto", "pyav", "torchcodec")


@lru_cache(maxsize=1)
def torchcodec_problem() -> str | None:
    """None when torchcodec imports and can decode here, else why not."""
    try:
        from torchcodec.decoders import VideoDecoder  # noqa: F401
    except Exception as e:  # ImportError, or OSError from its native libraries
        return f"{type(e).__name__}: {e}"
    return None


def _read_frames_torchcodec(path: str | Path, indices, info: VideoInfo) -> Clip:
    from torchcodec.decoders import VideoDecoder

    unique = sorted(set(indices))
    try:
        decoder = VideoDecoder(str(path), dimension_order="NHWC", seek_mode="exact")
        data = decoder.get_frames_at(unique).data  # (N, H, W, C) uint8
    except Exception as e:
        raise VideoDecodeError(path, f"torchcodec could not decode it ({e})") from e
    position = {i: k for k, i in enumerate(unique)}
    frames = data[[position[i] for i in indices]]
    return Clip(frames=frames, indices=tuple(indices), info=info, decoded=len(unique))


def upright(frame: av.VideoFrame) -> np.ndarray:
    """A decoded frame as RGB (H, W, 3), turned as its display matrix says (a phone held
    upright stores landscape pixels and a rotation: ``frame.rotation`` degrees
    counter-clockwise, whole quarter turns)."""
    array = frame.to_ndarray(format="rgb24")
    turns = round((frame.rotation or 0) / 90) % 4
    return np.ascontiguousarray(np.rot90(array, k=turns)) if turns else array


def read_frames(
    path: Source,
    indices: list[int] | tuple[int, ...],
    info: VideoInfo | None = None,
    backend: str = "pyav",
    skip_unwanted: bool = True,
) -> Clip:
    """Decode the frames at ``indices`` (any order, repeats allowed) -> uint8 (T, H, W, C).

    PyAV seeks to the keyframe before the first wanted frame, stops once every wanted
    frame is out, and in between decodes a frame only if it is wanted or other frames
    refer to it (``skip_unwanted``: the decoder skips non-reference frames, most
    B-frames, whose pts is not wanted, and seeks again over any keyframe that lies
    between two wanted frames, ``info.keyframes``; the wanted frames' pixels are the same
    either way).
    ``backend``: ``"pyav"``, ``"torchcodec"``, or ``"auto"`` (torchcodec when usable).
    ``path`` may be a file object holding the video's bytes, with ``info`` given (a shard
    sample carries it); errors then name ``info.path``.
    """
    if backend not in BACKENDS:
        raise ValueError(f"decode backend {backend!r} is not one of {BACKENDS}")
    if info is None and not isinstance(path, (str, Path)):
        raise ValueError("read_frames of a file object needs its VideoInfo")
    info = info or probe(path)
    if not isinstance(path, (str, Path)):
        backend = "pyav"  # torchcodec reads files
    if not indices:
        raise ValueError("read_frames needs at least one frame index")
    bad = [i for i in indices if not 0 <= i < info.num_frames]
    if bad:
        raise IndexError(f"{path}: frame indices {bad[:5]} outside 0..{info.num_frames - 1}")
    if backend == "torchcodec" and torchcodec_problem():
        raise RuntimeError(
            f"decode backend 'torchcodec' is not usable here ({torchcodec_problem()}); use 'pyav'"
        )
    if backend == "torchcodec" or (backend == "auto" and torchcodec_problem() is None):
        return _read_frames_torchcodec(path, indices, info)
    wanted = {info.pts[i]: i for i in sorted(set(indices))}
    frames: dict[int, np.ndarray] = {}
    decoded = 0
    name = path if isinstance(path, (str, Path)) else info.path
    with _open(path, info.path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        codec = stream.codec_context
        # as many threads as torch uses here: one in a DataLoader worker (each worker is a
        # core's worth of work; more threads there only contend), all cores in the main one
        codec.thread_count = torch.get_num_threads()
        try:
            for group in _seek_groups(sorted(wanted.values()), info.keyframes, skip_unwanted):
                if all(i in frames for i in group):
                    continue
                container.seek(info.pts[group[0]], stream=stream, backward=True, any_frame=False)
                for packet in container.demux(stream):
                    # a frame no other frame refers to (most B-frames) is decoded only if
                    # wanted; a packet without a pts (some AVI) is always decoded
                    unwanted = packet.pts is not None and packet.pts not in wanted
                    codec.skip_frame = "NONREF" if skip_unwanted and unwanted else "DEFAULT"
                    for frame in packet.decode():
                        decoded += 1
                        pts = frame.pts if frame.pts is not None else frame.dts
                        if pts in wanted and wanted[pts] not in frames:  # the first is exact
                            frames[wanted[pts]] = upright(frame)
                    if all(i in frames for i in group):
                        break
        except av.FFmpegError as e:
            raise VideoDecodeError(name, f"corrupt or truncated stream ({e})") from e
    missing = sorted(set(indices) - set(frames))
    if missing:
        raise VideoDecodeError(name, f"frames {missing[:5]} could not be decoded (truncated file?)")
    stacked = torch.from_numpy(np.stack([frames[i] for i in indices]))
    return Clip(frames=stacked, indices=tuple(indices), info=info, decoded=decoded)


def _seek_groups(wanted: list[int], keyframes: tuple[int, ...], jump: bool) -> list[list[int]]:
    """The sorted ``wanted`` frames split where a keyframe lies after one and at or before
    the next (``jump``): decoding seeks to each group's keyframe instead of decoding the
    frames in between. Without ``jump`` or keyframes: one group (one seek)."""
    groups = [[wanted[0]]]
    for i in wanted[1:]:
        k = bisect.bisect_right(keyframes, i) - 1  # the keyframe at or before i
        if jump and k >= 0 and keyframes[k] > groups[-1][-1]:
            groups.append([i])
        else:
            groups[-1].append(i)
    return groups


def read_video(path: str | Path) -> Clip:
    """Every frame of a video (for short files and tests)."""
    info = probe(path)
    return read_frames(path, list(range(info.num_frames)), info)
