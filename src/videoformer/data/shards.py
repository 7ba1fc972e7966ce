"""Prepared shards: a data set as WebDataset tar files (``videoformer prepare`` writes them),
read sample by sample from a folder or any fsspec URL (http(s), s3 with s3fs...).

A shard is a plain WebDataset tar: sample ``KEY`` is ``KEY.json`` (its label and what a
loader would otherwise probe: frame count, rate, presentation timestamps, keyframes) and
``KEY.mp4`` (or the source's container), so any WebDataset pipeline streams it too.
Beside the shards, ``manifest.json`` names the splits, their shards, counts and sizes, the
encoding and the label names, and ``{split}.index.jsonl`` gives every sample's byte
ranges in its shard and its source's path and sha256. Training reads a sample's two byte
ranges (one read: they are adjacent), so that ranks and workers can take any slice of an
epoch's order and a run resumes at any world size; nothing beyond one sample is held.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from .datasets import Item, VideoDataset, check_same_classes
from .decode import VideoDecodeError, VideoInfo

log = logging.getLogger(__name__)

FORMAT = "videoformer-shards"
MANIFEST = "manifest.json"
RETRIES = 3  # tries again after a dropped connection, waiting RETRY_WAIT s, then twice that...
RETRY_WAIT = 0.5
MAX_FILE_BYTES = 1 << 30  # a manifest, an index (240k samples: ~100 MB), a flip map
MAX_SAMPLE_BYTES = 4 << 30  # one sample's video


class ShardReadError(OSError):
    """Shard bytes that could not be fetched after retrying; the message names them."""


@dataclass(frozen=True)
class ShardItem(Item):
    """A sample of a shard: ``path`` names it (``SHARD:KEY``) in messages."""

    shard: str = ""  # the shard's location: a path or a URL
    span: tuple[int, int] = (0, 0)  # (offset, size) of the bytes holding both its members
    meta: tuple[int, int] = (0, 0)  # (offset, size) of KEY.json within the shard
    video: tuple[int, int] = (0, 0)  # (offset, size) of the video member

    def size(self) -> int:
        return self.video[1]


def is_url(location: str) -> bool:
    return "://" in location


def join(root: str, name: str) -> str:
    """``root/name`` for a folder or a URL alike (a URL is not a path: no Path())."""
    return f"{root.rstrip('/')}/{name}" if is_url(root) else str(Path(root) / name)


def read_bytes(
    location: str, offset: int = 0, size: int | None = None, limit: int | None = None
) -> bytes:
    """Bytes of a file or URL (a range of them), retried on network errors; fewer bytes
    than asked is a ``VideoDecodeError`` (a truncated shard), a failure after the retries a
    ``ShardReadError`` naming the location (never a silent short epoch). More than
    ``limit`` bytes (asked for, or sent) is refused before they are held: a manifest, an
    index or a sample's range comes from files a server may not be trusted for."""
    limit = MAX_FILE_BYTES if limit is None else limit
    if size is not None and size > limit:
        raise ValueError(f"{location}: {size:,} bytes asked for at {offset}, over {limit:,}")
    for attempt in range(RETRIES + 1):
        try:
            data = _read(location, offset, size if size is not None else None, limit)
            break
        except FileNotFoundError:
            raise
        except OSError as e:  # a dropped connection, a timeout, a server error
            if attempt == RETRIES:
                raise ShardReadError(
                    f"{location}: could not read bytes {offset}..{offset + (size or 0)} after "
                    f"{RETRIES + 1} tries ({type(e).__name__}: {e})"
                ) from e
            log.warning("%s: %s; trying again", location, e)
            time.sleep(RETRY_WAIT * 2**attempt)
    if size is not None and len(data) != size:
        raise VideoDecodeError(location, f"cut short: {len(data)} of {size} bytes at {offset}")
    return data


def _read(location: str, offset: int, size: int | None, limit: int) -> bytes:
    if not is_url(location):
        with open(location, "rb") as f:
            f.seek(offset)
            data = f.read(limit + 1 if size is None else size)
    else:
        import fsspec

        try:
            fs, path = fsspec.core.url_to_fs(location)
            if size is None:  # a whole file: read in pieces, at most limit + 1 bytes
                with fs.open(path, "rb", block_size=0) as f:  # streamed
                    if offset:
                        f.seek(offset)
                    data = f.read(limit + 1)
            else:
                data = fs.cat_file(path, start=offset or None, end=offset + size)
        except FileNotFoundError:
            raise
        except Exception as e:  # aiohttp and the other backends raise their own errors
            raise OSError(str(e) or type(e).__name__) from e
    if len(data) > limit:
        raise ValueError(f"{location}: more than {limit:,} bytes; not read further")
    return data


def load_manifest(root: str) -> dict[str, Any]:
    """The manifest of a shard folder or URL; one line when it is not there or not one."""
    location = join(root, MANIFEST)
    try:
        data = read_bytes(location)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{location} not found: data.root must be a folder (or URL) `videoformer prepare` wrote"
        ) from None
    try:
        manifest = json.loads(data)
    except ValueError:
        raise ValueError(f"{location}: not a JSON manifest") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ValueError(f"{location}: not a manifest of videoformer shards")
    return manifest


def read_split(
    root: str, split: str, names: Sequence[str] | None = None, names_only: bool = False
) -> tuple[list[ShardItem], list[str]]:
    """The items of a split and the label names (the manifest's, one list for every
    split); ``names_only``: no items (the index is not read)."""
    manifest = load_manifest(root)
    if split not in manifest["splits"]:
        raise ValueError(
            f"{join(root, MANIFEST)} has no {split!r} split (it has "
            f"{', '.join(manifest['splits'])})"
        )
    labels = list(manifest["label_names"])
    if names is not None:
        check_same_classes(names, labels, "the training split", join(root, MANIFEST))
    if names_only:
        return [], labels
    index = read_bytes(join(root, manifest["splits"][split]["index"])).decode()
    items = []
    for line in index.splitlines():
        r = json.loads(line)
        shard = join(root, r["shard"])
        items.append(
            ShardItem(
                path=Path(f"{r['shard']}:{r['key']}"),
                label=tuple(r["label"]) if isinstance(r["label"], list) else r["label"],
                shard=shard,
                span=tuple(r["span"]),
                meta=tuple(r["meta"]),
                video=tuple(r["video"]),
            )
        )
    return items, labels


def video_info(name: str, meta: dict[str, Any]) -> VideoInfo:
    """A sample's VideoInfo from its JSON (timestamps as start/step/count when regular)."""
    pts = meta["pts"]
    if isinstance(pts, dict):
        pts = tuple(pts["start"] + k * pts["step"] for k in range(pts["count"]))
    return VideoInfo(
        path=name,
        num_frames=meta["num_frames"],
        fps=meta["fps"],
        duration=meta["duration"],
        width=meta["width"],
        height=meta["height"],
        pts=tuple(pts),
        time_base=Fraction(*meta["time_base"]),
        stream_frames=meta.get("stream_frames", 0),
        stream_duration=meta.get("stream_duration"),
        average_rate=meta.get("average_rate", 0.0),
        keyframes=tuple(meta.get("keyframes", ())),
    )


class ShardDataset(VideoDataset):
    """``VideoDataset`` over shard samples: the info comes with the sample, the frames are
    decoded from its bytes (one read of its byte span per sample)."""

    _last: tuple[ShardItem, VideoInfo, bytes] | None = None

    def _sample(self, item: ShardItem) -> tuple[VideoInfo, bytes]:
        if self._last is None or self._last[0] is not item:
            offset, size = item.span
            try:
                data = read_bytes(item.shard, offset, size, limit=MAX_SAMPLE_BYTES)
            except VideoDecodeError as e:  # the shard is cut short: name the sample
                raise VideoDecodeError(item.path, f"{e.reason} in {item.shard}") from None
            meta_at, meta_size = item.meta[0] - offset, item.meta[1]
            video_at, video_size = item.video[0] - offset, item.video[1]
            try:
                meta = json.loads(data[meta_at : meta_at + meta_size])
                info = video_info(str(item.path), meta)
            except (ValueError, KeyError, TypeError) as e:
                raise VideoDecodeError(item.path, f"its metadata does not parse ({e})") from e
            self._last = (item, info, data[video_at : video_at + video_size])
        return self._last[1], self._last[2]

    def _info(self, item: ShardItem) -> VideoInfo:
        return self._sample(item)[0]

    def _source(self, item: ShardItem):
        return io.BytesIO(self._sample(item)[1])
