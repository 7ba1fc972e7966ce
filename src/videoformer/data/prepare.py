"""``prepare``: a data set's videos re-encoded for training (or kept as they are) and
packed into WebDataset shards with what a loader would otherwise probe (see ``shards``).

Resumable: a shard is written under a temporary name and renamed when whole, its index
kept in ``.prepare/`` with the progress; running again continues after the last whole
shard. Videos are encoded by ``workers`` processes, one encoder thread each, and packed in
the order of the split. Unreadable inputs are reported and counted (``unreadable.jsonl``);
the manifest is written last.

The same sources and settings give the same shards, byte for byte (``x264``'s settings).
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import tarfile
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import write_atomically
from .datasets import Item
from .decode import VideoDecodeError, probe
from .pyav import av
from .sampling import ClipSampler
from .shards import FORMAT, MANIFEST
from .x264 import BITEXACT, REPRODUCIBLE

WORK = ".prepare"  # the progress and each whole shard's index, until the manifest is written
PROGRESS = f"{WORK}/state.json"


@dataclass(frozen=True)
class Encoding:
    """How samples are stored: re-encoded or, with ``reencode=False``, the source's own
    bytes. Re-encoded: H.264 at ``crf``, the short side to ``short_side``, a keyframe every
    ``keyint`` frames (``keyint=1``: every frame one), 3 B-frames that no frame refers to
    (the decoder skips those a clip does not want), ``tune="fastdecode"`` (no CABAC,
    deblocking or weighted prediction: decoding about twice as fast for about 17% more
    bytes; ``""`` for x264's usual tools). Measured trade-offs: docs/data.md."""

    reencode: bool = True
    short_side: int | None = 256
    keyint: int = 16
    crf: int = 23
    preset: str = "veryfast"
    tune: str = "fastdecode"
    codec: str = "libx264"


def default_keyint(clip: str, sampler: str = "dense") -> int:
    """A keyframe every 8 frames for sparse clips (frames 8 or more apart, or segment
    sampling: each wanted frame then decodes from its own keyframe), every 16 for dense
    ones (decoded as a run anyway, where more keyframes only cost bytes). ``clip``: a clip
    spec (``8x32``); measured: docs/data.md."""
    sparse = sampler == "segment" or ClipSampler.parse(clip).frame_interval >= 8
    return 8 if sparse else 16


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def reencode(source: Path, dest: Path, encoding: Encoding) -> None:
    """Every frame of ``source`` into ``dest`` (MP4, H.264, yuv420p) at its average rate,
    upright, the short side scaled to ``encoding.short_side`` (even sizes); audio dropped."""
    from .decode import upright

    with av.open(str(source)) as src, av.open(str(dest), "w", options=BITEXACT) as out:
        stream_in = src.streams.video[0]
        rate = stream_in.average_rate or stream_in.guessed_rate or Fraction(30)
        stream = None
        try:
            for i, frame in enumerate(src.decode(stream_in)):
                image = upright(frame)
                if stream is None:
                    h, w = image.shape[:2]
                    scale = (encoding.short_side / min(h, w)) if encoding.short_side else 1.0
                    size = (max(2, round(w * scale / 2) * 2), max(2, round(h * scale / 2) * 2))
                    stream = out.add_stream(
                        encoding.codec,
                        rate=rate,
                        options={
                            "crf": str(encoding.crf),
                            "preset": encoding.preset,
                            **({"tune": encoding.tune} if encoding.tune else {}),
                            "x264-params": f"keyint={encoding.keyint}:min-keyint={encoding.keyint}"
                            f":scenecut=0:bframes=3:b-pyramid=none:{REPRODUCIBLE}",
                        },
                    )
                    stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
                    stream.codec_context.thread_count = 1  # --workers encode in parallel
                picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
                picture = picture.reformat(stream.width, stream.height, "yuv420p")
                picture.pts = i
                out.mux(stream.encode(picture))
        except av.FFmpegError as e:
            raise VideoDecodeError(source, f"corrupt stream ({e})") from e
        if stream is None:
            raise VideoDecodeError(source, "no frame could be decoded")
        out.mux(stream.encode())


def sample_metadata(path: Path, label: Any, source: str) -> dict[str, Any]:
    """What a loader needs of a video without opening it: the VideoInfo fields, with
    timestamps compact when regular, and the keyframes' indices."""
    info = probe(path)
    steps = {b - a for a, b in zip(info.pts, info.pts[1:])}
    pts: Any = list(info.pts)
    if len(steps) <= 1:
        pts = {"start": info.pts[0], "step": steps.pop() if steps else 1, "count": len(info.pts)}
    return {
        "label": list(label) if isinstance(label, tuple) else label,
        "source": source,
        "num_frames": info.num_frames,
        "fps": info.fps,
        "duration": info.duration,
        "width": info.width,
        "height": info.height,
        "pts": pts,
        "time_base": [info.time_base.numerator, info.time_base.denominator],
        "stream_frames": info.stream_frames,
        "stream_duration": info.stream_duration,
        "average_rate": info.average_rate,
        "keyframes": list(info.keyframes),
    }


def prepare_sample(encoding: Encoding, path: str, label: Any) -> tuple[dict[str, Any], bytes]:
    """One sample as a shard stores it: (its metadata, its video bytes); the metadata names
    the source and its sha256. Runs in a worker process (``--workers``)."""
    source = Path(path)
    checksum = sha256_of(source)
    if not encoding.reencode:
        meta = sample_metadata(source, label, path)
        data = source.read_bytes()
        meta["container"] = source.suffix.lstrip(".").lower() or "mp4"
    else:
        with tempfile.TemporaryDirectory() as tmp:
            encoded = Path(tmp) / "video.mp4"
            reencode(source, encoded, encoding)
            meta = sample_metadata(encoded, label, path)
            data = encoded.read_bytes()
        meta["container"] = "mp4"
    meta["source_sha256"] = checksum
    meta["source_bytes"] = source.stat().st_size
    return meta, data


def _prepared_or_error(encoding: Encoding, path: str, label: Any):
    """``prepare_sample``, or the reason it failed as a string (what crosses processes)."""
    try:
        return prepare_sample(encoding, path, label)
    except (VideoDecodeError, av.FFmpegError, OSError) as e:
        return str(e)


def prepared_samples(
    encoding: Encoding, todo: Sequence[tuple[int, Item]], workers: int
) -> Iterator[tuple[int, Item, Any]]:
    """(position, item, (meta, bytes) or the reason it failed) in the order of ``todo``;
    with ``workers`` > 1 that many processes encode, at most two samples each ahead of
    what was taken (nothing of a large data set piles up)."""
    if workers <= 1:
        for position, item in todo:
            yield position, item, _prepared_or_error(encoding, str(item.path), item.label)
        return
    # forked, as DataLoader workers are (spawn would re-run a caller's script without a
    # __main__ guard); the children run PyAV only, no torch threads
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        pending: deque = deque()
        work = iter(todo)
        for position, item in work:
            job = pool.submit(_prepared_or_error, encoding, str(item.path), item.label)
            pending.append((position, item, job))
            if len(pending) >= 2 * workers:
                break
        while pending:
            position, item, job = pending.popleft()
            yield position, item, job.result()
            for position, item in work:
                job = pool.submit(_prepared_or_error, encoding, str(item.path), item.label)
                pending.append((position, item, job))
                break


def _index_shard(shard: Path) -> dict[str, dict[str, tuple[int, int]]]:
    """KEY -> {extension: (offset, size)} of each member's data in the tar."""
    members: dict[str, dict[str, tuple[int, int]]] = {}
    with tarfile.open(shard) as tar:
        for m in tar.getmembers():
            key, _, ext = m.name.partition(".")
            members.setdefault(key, {})[ext] = (m.offset_data, m.size)
    return members


def refuse_foreign_folder(out: Path) -> None:
    """A destination must be new, empty, or an earlier preparation to continue."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / PROGRESS).is_file():
        raise ValueError(
            f"{out} is not empty and not a preparation videoformer can continue: choose an "
            "empty or new --out"
        )


class Preparation:
    """One ``prepare`` into ``out``: ``run(splits)``; see the module docstring."""

    def __init__(
        self,
        out: Path,
        encoding: Encoding,
        source: dict[str, Any],
        label_names: Sequence[str] | None,
        shard_bytes: int = 1 << 30,
        workers: int = 1,
    ) -> None:
        self.out, self.encoding, self.source = Path(out), encoding, source
        self.label_names, self.shard_bytes = list(label_names or []), shard_bytes
        self.workers = workers
        self.settings = {"source": source, "encoding": asdict(encoding)}

    def check_destination(self) -> dict[str, Any]:
        """The progress of an earlier run of the same preparation, or a fresh one; a folder
        holding anything else is refused (before anything is written)."""
        progress = self.out / PROGRESS
        if progress.is_file():
            state = json.loads(progress.read_text())
            if state.get("settings") != self.settings:
                raise ValueError(
                    f"{self.out} holds a preparation of other data or settings "
                    f"({progress}): choose another --out"
                )
            return state
        refuse_foreign_folder(self.out)
        return {"settings": self.settings, "shards": {}, "unreadable": []}

    def run(
        self,
        splits: dict[str, list[Item]],
        report: Callable[[str], None] = print,
        progress: Callable[[Iterable, int, str], Iterable] | None = None,
    ) -> dict[str, Any]:
        state = self.check_destination()
        (self.out / WORK).mkdir(parents=True, exist_ok=True)
        self._save_state(state)
        for split, items in splits.items():
            self._split(split, items, state, report, progress)
        return self._manifest(splits, state)

    # --- one split ------------------------------------------------------------------

    def _split(self, split, items, state, report, progress) -> None:
        shards = [n for n, s in state["shards"].items() if s["split"] == split]
        done = {r["position"] for n in shards for r in self._records(n)}
        done |= {u["position"] for u in state["unreadable"] if u["split"] == split}
        todo = [(k, item) for k, item in enumerate(items) if k not in done]
        if done:
            report(f"{split}: {len(done)} of {len(items)} samples prepared before; continuing")
        samples = prepared_samples(self.encoding, todo, self.workers)
        if progress:
            samples = progress(samples, len(todo), f"prepare {split}")
        number, batch, size = len(shards), [], 0
        for position, item, prepared in samples:
            if isinstance(prepared, str):  # the reason it could not be read
                state["unreadable"].append(
                    {
                        "split": split,
                        "position": position,
                        "source": str(item.path),
                        "reason": prepared,
                    }
                )
                report(f"cannot read {item.path}: {prepared}")
                self._save_state(state)
                continue
            meta, data = prepared
            batch.append((position, meta, data))
            size += len(data)
            if size >= self.shard_bytes:
                self._write_shard(split, number, batch, state)
                number, batch, size = number + 1, [], 0
        if batch:
            self._write_shard(split, number, batch, state)
        if progress:
            samples.close()  # its last line: the count and the time taken

    def _write_shard(self, split: str, number: int, batch, state) -> None:
        """The shard under a temporary name, its index, then its name: whole or not there."""
        import webdataset as wds

        name = f"{split}-{number:06d}.tar"
        tmp = self.out / f".{name}.tmp"
        with open(tmp, "wb") as f:
            writer = wds.TarWriter(f, mtime=0)
            for position, meta, data in batch:
                key = f"{split}{position:09d}"
                writer.write(
                    {"__key__": key, "json": json.dumps(meta).encode(), meta["container"]: data}
                )
            writer.close()
            f.flush()
            os.fsync(f.fileno())
        members = _index_shard(tmp)
        records = []
        for position, meta, data in batch:
            key = f"{split}{position:09d}"
            parts = members[key]
            video = parts[meta["container"]]
            start = min(parts["json"][0], video[0])
            end = max(parts["json"][0] + parts["json"][1], video[0] + video[1])
            records.append(
                {
                    "position": position,
                    "key": key,
                    "shard": name,
                    "label": meta["label"],
                    "span": [start, end - start],
                    "meta": list(parts["json"]),
                    "video": list(video),
                    "source": meta["source"],
                    "sha256": meta["source_sha256"],
                    "bytes": len(data),
                    "source_bytes": meta["source_bytes"],
                }
            )
        _write_text(
            self.out / WORK / f"{name}.jsonl", "".join(json.dumps(r) + "\n" for r in records)
        )
        os.replace(tmp, self.out / name)
        state["shards"][name] = {
            "split": split,
            "samples": len(records),
            "bytes": (self.out / name).stat().st_size,
        }
        self._save_state(state)

    # --- what it keeps -------------------------------------------------------------

    def _records(self, shard: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in (self.out / WORK / f"{shard}.jsonl").open()]

    def _save_state(self, state: dict[str, Any]) -> None:
        _write_text(self.out / PROGRESS, json.dumps(state))

    def _manifest(self, splits: dict[str, list[Item]], state) -> dict[str, Any]:
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "version": 1,
            "source": self.source,
            "encoding": asdict(self.encoding),
            "label_names": self.label_names,
            "splits": {},
        }
        for split, items in splits.items():
            shards = sorted(n for n, s in state["shards"].items() if s["split"] == split)
            samples = sorted(
                (r for n in shards for r in self._records(n)), key=lambda r: r["position"]
            )
            index = f"{split}.index.jsonl"
            _write_text(self.out / index, "".join(json.dumps(r) + "\n" for r in samples))
            unreadable = [u for u in state["unreadable"] if u["split"] == split]
            manifest["splits"][split] = {
                "shards": shards,
                "index": index,
                "samples": len(samples),
                "listed": len(items),
                "unreadable": len(unreadable),
                "bytes": sum(state["shards"][n]["bytes"] for n in shards),
                "source_bytes": sum(r["source_bytes"] for r in samples),
            }
        _write_text(
            self.out / "unreadable.jsonl",
            "".join(json.dumps(u) + "\n" for u in state["unreadable"]),
        )
        _write_text(self.out / MANIFEST, json.dumps(manifest, indent=1))
        return manifest


def summary(manifest: dict[str, Any]) -> list[str]:
    """A line per split: samples, shards, sizes, unreadable inputs."""
    return [
        f"{split}: {info['samples']} of {info['listed']} videos in {len(info['shards'])} shards, "
        f"{info['bytes'] / 2**20:.1f} MiB (the sources: {info['source_bytes'] / 2**20:.1f} "
        f"MiB); {info['unreadable']} unreadable"
        for split, info in manifest["splits"].items()
    ]


def _write_text(path: Path, text: str) -> None:
    write_atomically({path: lambda tmp: tmp.write_text(text)})
