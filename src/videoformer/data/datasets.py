"""Datasets: annotation parsers resolved to files at construction, and one video dataset
class that decodes, samples and transforms, replacing unreadable files.

Construction fails loudly (missing root, label outside the label map, empty dataset);
a file that fails to decode mid-epoch is logged with its path and replaced by another
sample, and the sample says how many files were skipped to get it (``failed``), so the
training loop can report the epoch's total. Datasets hold paths only — nothing open —
so they pickle into DataLoader workers.
"""

from __future__ import annotations

import csv
import json
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from ..labels import check_names
from ..seeding import derive_seed
from .decode import VideoDecodeError, VideoInfo, probe, read_frames, read_video
from .protocols import Protocol
from .sampling import ClipSampler, SegmentSampler

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


@dataclass(frozen=True)
class Item:
    path: Path
    label: int | tuple[int, ...]  # a class index, or the indices of a multi-label item

    def size(self) -> int:
        """Its bytes (-1 when the file is not there)."""
        path = Path(self.path)
        return path.stat().st_size if path.exists() else -1


def _check_root(root: str | Path) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset root {root} is not a directory")
    return root


def read_label_names(path: str | Path) -> list[str]:
    """One class name per line (a ``labels.txt``)."""
    names = [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: duplicate label names")
    return check_names(names, str(path))


def _label_index(token: str, names: Sequence[str] | None, where: str) -> int:
    if token.lstrip("-").isdigit():
        label = int(token)
        if names is not None and not 0 <= label < len(names):
            raise ValueError(f"{where}: label {label} outside the label map (0..{len(names) - 1})")
        if label < 0:
            raise ValueError(f"{where}: negative label {label}")
        return label
    if names is None:
        raise ValueError(f"{where}: label {token!r} is a name, but no label names were given")
    try:
        return list(names).index(token)
    except ValueError:
        raise ValueError(f"{where}: label {token!r} is not in the label map") from None


def read_list_file(
    path: str | Path, root: str | Path, label_names: Sequence[str] | None = None
) -> list[Item]:
    """Kinetics-style lists: ``path label`` per line, space or comma separated; labels are
    indices or names from ``label_names``. Paths are relative to ``root``."""
    root = _check_root(root)
    items = []
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.rsplit(",", 1) if "," in line else line.rsplit(None, 1)
        if len(parts) != 2:
            raise ValueError(f"{path}:{n}: this line is not 'path label' (a list file?)")
        items.append(
            Item(
                root / parts[0].strip(), _label_index(parts[1].strip(), label_names, f"{path}:{n}")
            )
        )
    return items


def check_same_classes(
    expected: Sequence[str], got: Sequence[str], expected_from: str, got_from: str
) -> None:
    """Two splits must name the same classes (in the same order, so the same index is the
    same class): the error names what each side lacks."""
    if list(expected) == list(got):
        return
    lacks_got = sorted(set(expected) - set(got))
    lacks_expected = sorted(set(got) - set(expected))
    if not lacks_got and not lacks_expected:
        raise ValueError(f"{got_from} orders its classes differently from {expected_from}")
    parts = [f"{got_from} lacks {_names(lacks_got)}"] if lacks_got else []
    parts += [f"{expected_from} lacks {_names(lacks_expected)}"] if lacks_expected else []
    raise ValueError(
        "the splits must have the same classes (a class's index must mean the same in both): "
        + "; ".join(parts)
    )


def _names(names: Sequence[str], most: int = 10) -> str:
    shown = ", ".join(repr(n) for n in names[:most])
    return f"{len(names)} classes ({shown}{', ...' if len(names) > most else ''})"


def read_kinetics_csv(
    path: str | Path,
    root: str | Path,
    split: str | None = None,
    label_names: Sequence[str] | None = None,
) -> tuple[list[Item], list[str]]:
    """The official Kinetics annotation CSV (``label,youtube_id,time_start,time_end,split``)
    resolved to files named ``{youtube_id}_{start:06d}_{end:06d}.<ext>``, in ``root`` or in
    ``root/<label>/``. Clips not on disk (Kinetics always has some) are counted and logged.
    Labels index ``label_names`` (a label outside them is an error naming it), or else
    the file's own sorted names. Returns the items and the label names."""
    root = _check_root(root)
    with open(path, newline="") as f:
        rows = [r for r in csv.DictReader(f) if split is None or r.get("split") == split]
    names = list(label_names) if label_names is not None else sorted({r["label"] for r in rows})
    unknown = sorted({r["label"] for r in rows} - set(names))
    if unknown:
        raise ValueError(
            f"{path}: {_names(unknown)} that the label list lacks (the training split's "
            "classes, or data.labels)"
        )
    index = {name: k for k, name in enumerate(names)}
    found: dict[str, Path] = {}
    for file in root.rglob("*"):
        if file.suffix.lower() in VIDEO_EXTENSIONS and file.is_file():
            found[file.stem] = file
    items, missing = [], 0
    for r in rows:
        stem = (
            f"{r['youtube_id']}_{int(float(r['time_start'])):06d}_{int(float(r['time_end'])):06d}"
        )
        if stem in found:
            items.append(Item(found[stem], index[r["label"]]))
        else:
            missing += 1
    if missing:
        log.warning("%s: %d of %d clips are not under %s", path, missing, len(rows), root)
    return items, names


def read_ssv2(
    labels_json: str | Path, split_json: str | Path, root: str | Path, ext: str = ".webm"
) -> tuple[list[Item], list[str]]:
    """Something-Something v2: ``labels.json`` ({template: index}) and a split file
    ([{id, template, ...}]); the template's brackets are dropped to find the class."""
    root = _check_root(root)
    label_map = json.loads(Path(labels_json).read_text())
    names = [name for name, _ in sorted(label_map.items(), key=lambda kv: int(kv[1]))]
    items = []
    for entry in json.loads(Path(split_json).read_text()):
        template = entry["template"].replace("[", "").replace("]", "")
        if template not in label_map:
            raise ValueError(
                f"{split_json}: video {entry['id']} has template {template!r}, not in {labels_json}"
            )
        items.append(Item(root / f"{entry['id']}{ext}", int(label_map[template])))
    return items, names


def read_audioset_csv(
    segments_csv: str | Path, labels_csv: str | Path, root: str | Path
) -> tuple[list[Item], list[str]]:
    """AudioSet-style multi-label lists: ``labels_csv`` (``index,mid,display_name``) and a
    segments file (``YTID, start_seconds, end_seconds, "mid1,mid2"``, ``#`` comments), resolved
    to files ``{YTID}_{start}_{end}.*`` or ``{YTID}.*`` under ``root``. Missing clips are counted
    in a warning; an unknown label id is an error."""
    root = _check_root(root)
    with open(labels_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    names = [r["display_name"] for r in sorted(rows, key=lambda r: int(r["index"]))]
    index = {r["mid"]: int(r["index"]) for r in rows}
    found = {
        f.stem: f for f in root.rglob("*") if f.suffix.lower() in VIDEO_EXTENSIONS and f.is_file()
    }
    items, missing = [], 0
    with open(segments_csv, newline="") as f:
        for n, row in enumerate(csv.reader(f, skipinitialspace=True), 1):
            if not row or row[0].startswith("#"):
                continue
            ytid, start, end, mids = row[0], int(float(row[1])), int(float(row[2])), row[3]
            unknown = [m for m in mids.split(",") if m not in index]
            if unknown:
                raise ValueError(f"{segments_csv}:{n}: label ids {unknown} are not in {labels_csv}")
            path = found.get(f"{ytid}_{start}_{end}") or found.get(ytid)
            if path is None:
                missing += 1
                continue
            items.append(Item(path, tuple(sorted(index[m] for m in mids.split(",")))))
    if missing:
        log.warning("%s: %d segments are not under %s", segments_csv, missing, root)
    return items, names


def read_class_folders(
    root: str | Path, extensions: Sequence[str] = VIDEO_EXTENSIONS
) -> tuple[list[Item], list[str]]:
    """``root/<class>/<file>``: classes are the sorted folder names. A folder without class
    folders, or a class folder without a file of ``extensions``, is an error naming the
    expected layout and the first offending path."""
    root = _check_root(root)
    layout = f"expected {root}/<class>/<file> with files ending in {', '.join(extensions)}"
    names = check_names(sorted(d.name for d in root.iterdir() if d.is_dir()), str(root))
    if not names:
        raise ValueError(f"{root} has no class folders ({layout})")
    items = []
    for k, name in enumerate(names):
        files = [
            f
            for f in sorted((root / name).rglob("*"))
            if f.suffix.lower() in extensions and f.is_file()  # not a folder named x.mp4
        ]
        if not files:
            raise ValueError(f"{root / name} has no files of a known kind ({layout})")
        items += [Item(f, k) for f in files]
    return items, names


class VideoDataset(Dataset):
    """Clips of videos: sample frame indices, decode only those, transform.

    Args:
        items: (path, label) pairs.
        sampler: ``ClipSampler`` or ``SegmentSampler``.
        transform: ``fn(sample, rng) -> sample`` (see ``transforms``).
        train: random clips (seeded per epoch and index) or the test views.
        label_names: class names (index = label).
        num_crops: test-time spatial views; the transform receives ``sample["crop"]``.
        max_retries: replacements tried for an unreadable file before giving up.
        cache_decoded: keep every decoded video in memory (small datasets read with
            ``num_workers=0``: each file is decoded once instead of once per epoch).
        backend: frame decoder, ``"pyav"``, ``"torchcodec"`` or ``"auto"`` (see ``decode``).
        protocol: the test views of an official pipeline (``protocols``) instead of
            ``sampler.test`` + ``transform`` (test mode only).
    """

    def __init__(
        self,
        items: Sequence[Item],
        sampler: ClipSampler | SegmentSampler,
        transform: Callable[[dict, random.Random], dict],
        train: bool = True,
        label_names: Sequence[str] | None = None,
        seed: int = 0,
        num_crops: int = 1,
        max_retries: int = 10,
        cache_decoded: bool = False,
        backend: str = "pyav",
        protocol: Protocol | None = None,
    ) -> None:
        if not items:
            raise ValueError("the dataset is empty: no readable entries were found")
        num_classes = len(label_names) if label_names is not None else None
        if num_classes is not None:
            bad = [
                it
                for it in items
                if not all(
                    0 <= k < num_classes
                    for k in (it.label if isinstance(it.label, tuple) else (it.label,))
                )
            ]
            if bad:
                raise ValueError(
                    f"{bad[0].path}: label {bad[0].label} outside the label map "
                    f"(0..{num_classes - 1})"
                )
        self.items = list(items)
        self.sampler, self.transform, self.train = sampler, transform, train
        self.label_names = list(label_names) if label_names is not None else None
        self.seed, self.epoch, self.num_crops, self.max_retries = seed, 0, num_crops, max_retries
        self.cache: dict[int, torch.Tensor] | None = {} if cache_decoded else None
        self.backend = backend
        self.protocol = None if train else protocol
        self._last_clip: tuple[tuple[int, int], Tensor] | None = None  # see _test_views

    def set_epoch(self, epoch: int) -> None:
        """Training clips depend on (seed, epoch, index): call once per epoch."""
        self.epoch = epoch

    @property
    def views_per_video(self) -> int:
        if self.protocol is not None:
            return self.protocol.num_views
        return 1 if self.train else self.sampler.num_clips * self.num_crops

    def __len__(self) -> int:
        return len(self.items) * self.views_per_video

    def _info(self, item: Item) -> VideoInfo:
        """What a loader would otherwise probe: frames, rate, timestamps (a subclass may
        carry it with the item)."""
        return probe(item.path)

    def _source(self, item: Item):
        """What the frames are decoded from: the file (a subclass may give its bytes)."""
        return item.path

    def _indices(self, item: Item, info: VideoInfo, rng: random.Random, view: int) -> list[int]:
        """The frames of this sample: a random clip in training, else the view's test clip."""
        if self.train:
            return self.sampler.train(info.num_frames, rng)
        if self.protocol is not None:
            return self.protocol.clip_indices(info)[view // self.protocol.num_crops]
        return self.sampler.test(info.num_frames)[view // self.num_crops]

    def _frames(self, i: int, item: Item, rng: random.Random, view: int) -> torch.Tensor:
        """The sampled frames, uint8 (T, H, W, C): decoded from the file, or from the cache."""
        if self.cache is not None and i not in self.cache:
            self.cache[i] = read_video(item.path).frames
        info = self._info(item)
        indices = self._indices(item, info, rng, view)
        if self.cache is not None:
            return self.cache[i][indices]
        return read_frames(self._source(item), indices, info=info, backend=self.backend).frames

    def _test_views(self, i: int, item: Item, view: int) -> Tensor:
        """All crops of the clip of ``view``: decoded and resized once for its crops (the
        views of a clip are consecutive items, so they come to the same worker in turn)."""
        clip = view // self.protocol.num_crops
        if self._last_clip is None or self._last_clip[0] != (i, clip):
            frames = self._frames(i, item, random.Random(0), view)
            self._last_clip = ((i, clip), self.protocol.crop_views(frames))
        return self._last_clip[1]

    def _load(self, i: int, item: Item, view: int, rng: random.Random) -> dict:
        if self.protocol is not None:
            crop = view % self.protocol.num_crops
            return {"video": self._test_views(i, item, view)[crop], "label": item.label}
        frames = self._frames(i, item, rng, view)
        sample = {
            "video": frames.permute(0, 3, 1, 2),
            "label": item.label,
            "crop": view % self.num_crops,
        }
        return self.transform(sample, rng)

    def _replacement(self, video_index: int, attempt: int) -> int:
        """Another video, tried instead of an unreadable one at the ``attempt``-th try."""
        others = len(self.items) - 1
        if not others:
            return video_index
        pick = random.Random(
            derive_seed(self.seed, "retry", self.epoch, video_index, attempt)
        ).randrange(others)
        return pick + (pick >= video_index)

    def __getitem__(self, index: int) -> dict:
        video_index, view = divmod(index, self.views_per_video)
        failed = 0
        for attempt in range(self.max_retries + 1):
            i = video_index if attempt == 0 else self._replacement(video_index, attempt)
            item = self.items[i]
            rng = random.Random(derive_seed(self.seed, "sample", self.epoch, i, view))
            try:
                sample = self._load(i, item, view, rng)
            except VideoDecodeError as e:
                failed += 1
                log.warning("skipping unreadable video (%s); using another sample", e)
                continue
            sample.pop("crop", None)
            return {**sample, "index": i, "view": view, "failed": failed}
        raise VideoDecodeError(
            self.items[video_index].path, f"it and {self.max_retries} replacements failed to decode"
        )


class ImageFolderDataset(Dataset):
    """``root/<class>/<image>`` for the 2D models; an image is a 1-frame clip through the
    same transforms (then squeezed to ``(C, H, W)``). One view per image."""

    def __init__(
        self,
        root: str | Path,
        transform: Callable[[dict, random.Random], dict],
        seed: int = 0,
        train: bool = True,
    ) -> None:
        self.items, self.label_names = read_class_folders(root, IMAGE_EXTENSIONS)
        self.root = Path(root)
        if not self.items:
            raise ValueError(f"no images under {root}")
        self.transform, self.seed, self.epoch, self.train = transform, seed, 0, train

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        from PIL import Image

        item = self.items[index]
        with Image.open(item.path) as img:
            frame = torch.from_numpy(np.asarray(img.convert("RGB")).copy())  # (H, W, 3)
        rng = random.Random(derive_seed(self.seed, "sample", self.epoch, index, 0))
        sample = self.transform(
            {"video": frame.permute(2, 0, 1)[None], "label": item.label, "crop": 1}, rng
        )
        sample.pop("crop", None)
        return {
            **sample,
            "video": sample["video"].squeeze(1),
            "index": index,
            "view": 0,
            "failed": 0,
        }


class AudioVisualDataset(VideoDataset):
    """Video clips with the audio of the same time window, multi-label targets.

    Each sample adds ``audio``: ``audio_samples`` mono samples at ``sample_rate`` starting
    at the clip's first frame (zero-padded past the end), or their log-mel frames
    (``audio_features="mel"``); ``label`` is a multi-hot float vector of ``num_classes``.
    """

    def __init__(
        self,
        *args,
        num_classes: int,
        audio_samples: int = 61_440,
        sample_rate: int = 48_000,
        audio_features: str = "raw",
        **kwargs,
    ) -> None:
        if audio_features not in ("raw", "mel"):
            raise ValueError(f"audio_features {audio_features!r} is not 'raw' or 'mel'")
        super().__init__(*args, **kwargs)
        self.num_classes, self.audio_samples, self.sample_rate = (
            num_classes,
            audio_samples,
            sample_rate,
        )
        self.audio_features = audio_features

    def _load(self, i: int, item: Item, view: int, rng: random.Random) -> dict:
        from .audio import audio_window, log_mel, read_audio

        info = probe(item.path)
        indices = self._indices(item, info, rng, view)
        frames = read_frames(item.path, indices, info, backend=self.backend).frames
        start_s = float((info.pts[indices[0]] - info.pts[0]) * info.time_base)
        audio = audio_window(
            read_audio(item.path, self.sample_rate),
            round(start_s * self.sample_rate),
            self.audio_samples,
        )
        if self.audio_features == "mel":
            audio = log_mel(audio, self.sample_rate)
        labels = item.label if isinstance(item.label, tuple) else (item.label,)
        target = torch.zeros(self.num_classes)
        target[list(labels)] = 1.0
        sample = {"video": frames.permute(0, 3, 1, 2), "label": -1, "crop": view % self.num_crops}
        sample = self.transform(sample, rng)
        return {**sample, "audio": audio, "label": target}
