"""Datasets and transforms from a ``DataConfig``."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch

from ..data.datasets import (
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    AudioVisualDataset,
    ImageFolderDataset,
    VideoDataset,
    read_audioset_csv,
    read_class_folders,
    read_kinetics_csv,
    read_label_names,
    read_list_file,
    read_ssv2,
)
from ..data.protocols import build_protocol
from ..data.sampling import ClipSampler, SegmentSampler
from ..data.synthetic import make_motion_dataset
from ..data.transforms import video_test_transform, video_train_transform
from ..hub import is_hub_id
from ..models import DataSpec
from ..models.registry import is_registered, resolve_weights
from .config import DataConfig, TrainConfig

log = logging.getLogger(__name__)


def _items(cfg: DataConfig, split: str):
    root = Path(cfg.root)
    annotation = root / (cfg.train if split == "train" else cfg.val)
    if cfg.dataset in ("synthetic", "list"):
        names = _label_names(cfg)
        return read_list_file(annotation, root, names), names
    if cfg.dataset == "kinetics":
        return read_kinetics_csv(annotation, root)
    if cfg.dataset == "ssv2":
        return read_ssv2(root / cfg.labels, annotation, root)
    if cfg.dataset == "audioset":
        return read_audioset_csv(annotation, root / cfg.labels, root)
    return read_class_folders(root / split)


def required_paths(cfg: DataConfig) -> list[Path]:
    """The files and folders a data config reads (the synthetic set is written if missing)."""
    root = Path(cfg.root)
    if cfg.dataset == "synthetic":
        return []
    if cfg.dataset in ("folders", "images"):
        return [root / "train", root / "val"]
    paths = [root / cfg.train, root / cfg.val]
    if cfg.dataset in ("ssv2", "audioset"):
        paths.append(root / cfg.labels)
    return paths


def check_inputs(cfg: TrainConfig, device: torch.device) -> None:
    """What ``load_config`` cannot see, checked before a run writes anything: the data
    files, the model and its overrides, the pretrained source, precision on this device,
    the test protocol. Errors name the field, the value and what is allowed."""
    if not cfg.data.root:
        raise ValueError(
            "data.root is empty: the folder of the data set (written there for 'synthetic')"
        )
    missing = [str(p) for p in required_paths(cfg.data) if not p.exists()]
    if missing:
        raise FileNotFoundError(
            f"data.dataset = {cfg.data.dataset!r} reads {', '.join(missing)}: not found"
        )
    if cfg.data.dataset in ("folders", "images"):  # the class-folder layout, cheaply
        extensions = IMAGE_EXTENSIONS if cfg.data.dataset == "images" else VIDEO_EXTENSIONS
        for split in ("train", "val"):
            read_class_folders(Path(cfg.data.root) / split, extensions)
    if cfg.precision == "fp16" and device.type != "cuda":
        raise ValueError(
            "precision = 'fp16' needs a GPU (its gradient scaler is CUDA-only); use bf16 on the CPU"
        )
    try:
        entry, _ = resolve_weights(cfg.model)
        with torch.device("meta"):
            entry.build(**cfg.model_overrides)
    except (ValueError, TypeError) as e:
        raise ValueError(
            f"model = {cfg.model!r}, model_overrides = {cfg.model_overrides}: {e}"
        ) from None
    source = cfg.pretrained
    fetched = source and (
        source.startswith(("http://", "https://", "hf://", "file://"))
        or is_registered(source)
        or is_hub_id(source)
    )
    if source and not fetched and not Path(source).exists():
        raise FileNotFoundError(f"pretrained = {source!r}: no such file, URL, tag or hub id")
    try:
        build_protocol(data_spec(cfg.data))
    except ValueError as e:
        raise ValueError(f"data.protocol = {cfg.data.protocol!r}: {e}") from None


def _label_names(cfg: DataConfig) -> list[str] | None:
    path = Path(cfg.root) / cfg.labels
    return (
        read_label_names(path) if cfg.dataset in ("synthetic", "list") and path.is_file() else None
    )


def prepare_synthetic(cfg: DataConfig, is_main: bool = True) -> None:
    """Write the synthetic motion set under ``root`` unless it is there already."""
    if cfg.dataset == "synthetic" and not (Path(cfg.root) / cfg.val).is_file() and is_main:
        log.info("writing the synthetic motion dataset to %s", cfg.root)
        make_motion_dataset(
            cfg.root, cfg.synthetic_per_class, cfg.synthetic_size, cfg.synthetic_frames,
            progress=True,
        )


def sampler_for(cfg: DataConfig) -> ClipSampler | SegmentSampler:
    spec = ClipSampler.parse(cfg.clip)
    if cfg.sampler == "segment":
        return SegmentSampler(spec.clip_len, spec.num_clips)
    return spec


def flip_swap(cfg: DataConfig, names: list[str] | None) -> dict[int, int]:
    if not cfg.flip_map:
        return {}
    path = Path(cfg.flip_map)
    if not path.is_absolute() and not path.exists():
        path = Path(cfg.root) / path
    pairs = json.loads(path.read_text())
    if names is None:
        raise ValueError(f"{path}: a flip map needs label names")
    unknown = sorted(set(pairs) - set(names))
    if unknown:
        raise ValueError(f"{path}: classes {unknown} are not in the label names")
    return {names.index(a): names.index(b) for a, b in pairs.items()}


def transforms_for(cfg: DataConfig, names: list[str] | None):
    """(training, test) transforms of a data config."""
    train = video_train_transform(
        cfg.size,
        cfg.mean,
        cfg.std,
        short_side=tuple(cfg.short_side),
        random_resized_crop=cfg.random_resized_crop,
        flip=cfg.flip,
        flip_swap=flip_swap(cfg, names),
        rand_augment=cfg.rand_augment,
        erase_prob=cfg.erase_prob,
    )
    return train, video_test_transform(
        cfg.size, cfg.mean, cfg.std, cfg.test_short_side, cfg.test_crops
    )


def data_spec(cfg: DataConfig) -> DataSpec:
    """The test input a recipe trains for (written into checkpoints as metadata)."""
    return DataSpec(
        cfg.size,
        cfg.clip,
        tuple(cfg.mean),
        tuple(cfg.std),
        sampler=cfg.sampler,
        test_short_side=cfg.test_short_side,
        protocol=cfg.protocol,
        num_crops=cfg.test_crops,
        audio_rate=cfg.sample_rate
        if cfg.dataset == "audioset" and cfg.audio_features == "raw"
        else 0,
    )


def build_datasets(cfg: DataConfig, seed: int = 0, test_spec: DataSpec | None = None):
    """Training and validation datasets and the label names. The validation views follow
    ``test_spec`` (a checkpoint's own data spec) or the recipe's data settings."""
    if cfg.dataset == "images":
        root = Path(cfg.root)
        train_tf, test_tf = transforms_for(cfg, None)
        train = ImageFolderDataset(root / "train", train_tf, seed)
        val = ImageFolderDataset(root / "val", test_tf, seed, train=False)
        if train.label_names != val.label_names:
            raise ValueError(f"{root}: train/ and val/ have different class folders")
        return train, val, train.label_names
    train_items, names = _items(cfg, "train")
    val_items, val_names = _items(cfg, "val")
    names = names or val_names
    train_tf, test_tf = transforms_for(cfg, names)
    sampler = sampler_for(cfg)
    if cfg.dataset == "audioset":
        audio = dict(
            num_classes=len(names),
            audio_samples=cfg.audio_samples,
            sample_rate=cfg.sample_rate,
            audio_features=cfg.audio_features,
        )
        train = AudioVisualDataset(
            train_items, sampler, train_tf, train=True, label_names=names, seed=seed, **audio
        )
        val = AudioVisualDataset(
            val_items,
            sampler,
            test_tf,
            train=False,
            label_names=names,
            num_crops=cfg.test_crops,
            **audio,
        )
        return train, val, names
    decoding = dict(cache_decoded=cfg.cache_decoded, backend=cfg.decode_backend)
    train = VideoDataset(train_items, sampler, train_tf, train=True, label_names=names, seed=seed,
                         **decoding)
    val = VideoDataset(
        val_items,
        sampler,
        test_tf,
        train=False,
        label_names=names,
        num_crops=cfg.test_crops,
        protocol=build_protocol(test_spec or data_spec(cfg)),
        **decoding,
    )
    return train, val, names
