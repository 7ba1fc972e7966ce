"""Datasets and transforms from a ``DataConfig``."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch

from ..data.datasets import (
    AudioVisualDataset,
    ImageFolderDataset,
    VideoDataset,
    check_same_classes,
    read_class_folders,
)
from ..data.kinds import DATASET_KINDS, DatasetKind
from ..data.protocols import build_protocol
from ..data.sampling import ClipSampler, SegmentSampler
from ..data.synthetic import make_motion_dataset
from ..data.transforms import video_test_transform, video_train_transform
from ..models.registry import resolve_weights
from ..specs import DataSpec, ModelSource
from ..weights.source import resolve_source
from .config import DataConfig, TrainConfig

log = logging.getLogger(__name__)


def kind_of(cfg: DataConfig) -> DatasetKind:
    return DATASET_KINDS[cfg.dataset]


def split_items(cfg: DataConfig, split: str, names: list[str] | None = None):
    """(items, label names or None) of the ``"train"`` or ``"val"`` split; the validation
    split takes the training split's ``names`` (a class one has and the other lacks is an
    error naming it)."""
    root, kind = Path(cfg.root), kind_of(cfg)
    path = kind.split_path(root, split, cfg.train if split == "train" else cfg.val)
    if kind.generated and not path.exists():
        raise FileNotFoundError(
            f"{path}: the {cfg.dataset} set is not written yet (videoformer train, or "
            "videoformer.engine.train.prepare_data, writes it after checking the recipe)"
        )
    return kind.read(path, root, root / cfg.labels, names)


def required_paths(cfg: DataConfig) -> list[Path]:
    """The files and folders a data config reads (a generated set is written if missing)."""
    return kind_of(cfg).required_paths(Path(cfg.root), (cfg.train, cfg.val), cfg.labels)


def model_frames(model: torch.nn.Module) -> int | None:
    """The frames of the model's video input (``input_shape`` (C, T, H, W), or its
    ``video`` entry); None for an image model."""
    shape = model.input_shape
    shape = shape.get("video", ()) if isinstance(shape, dict) else shape
    return shape[1] if len(shape) == 4 else None


def check_inputs(cfg: TrainConfig, device: torch.device) -> ModelSource | None:
    """What ``load_config`` cannot see, checked before a run writes anything: the data
    files, the model and its overrides, the pretrained source (resolved: returned for the
    run to load), precision on this device, the test protocol. Errors name the field, the
    value and what is allowed."""
    if not cfg.data.root:
        raise ValueError("data.root is empty: the folder of the data set (or where to write it)")
    missing = [str(p) for p in required_paths(cfg.data) if not p.exists()]
    if missing:
        raise FileNotFoundError(
            f"data.dataset = {cfg.data.dataset!r} reads {', '.join(missing)}: not found"
        )
    kind, root = kind_of(cfg.data), Path(cfg.data.root)
    if kind.class_folders:  # the class-folder layout and the same classes, cheaply
        _, names = read_class_folders(root / "train", kind.extensions)
        _, val_names = read_class_folders(root / "val", kind.extensions)
        check_same_classes(names, val_names, f"{root / 'train'}/", f"{root / 'val'}/")
    if cfg.precision == "fp16" and device.type != "cuda":
        raise ValueError(
            "precision = 'fp16' needs a GPU (its gradient scaler is CUDA-only); use bf16 on the CPU"
        )
    try:
        entry, spec = resolve_weights(cfg.model)
        with torch.device("meta"):
            model = entry.build(**{**(spec.config if spec else {}), **cfg.model_overrides})
    except (ValueError, TypeError) as e:
        raise ValueError(
            f"model = {cfg.model!r}, model_overrides = {cfg.model_overrides}: {e}"
        ) from None
    frames, clip_len = model_frames(model), ClipSampler.parse(cfg.data.clip).clip_len
    if kind.sample != "image" and frames is not None and frames != clip_len:
        raise ValueError(
            f"data.clip = {cfg.data.clip!r} gives clips of {clip_len} frames, but the model "
            f"({cfg.model}) takes {frames}: set model_overrides.num_frames or data.clip so "
            "that they agree"
        )
    try:
        build_protocol(recipe_data_spec(cfg))
    except ValueError as e:
        raise ValueError(f"data.protocol = {cfg.data.protocol!r}: {e}") from None
    if not cfg.pretrained:
        return None
    try:
        return resolve_source(cfg.pretrained)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"pretrained = {cfg.pretrained!r}: no such file, URL, tag or hub id"
        ) from None


def prepare_synthetic(cfg: DataConfig, is_main: bool = True) -> None:
    """Write the synthetic motion set under ``root`` unless it is there already."""
    if kind_of(cfg).generated and not (Path(cfg.root) / cfg.val).is_file() and is_main:
        log.info("writing the synthetic motion dataset to %s", cfg.root)
        make_motion_dataset(
            cfg.root,
            cfg.synthetic_per_class,
            cfg.synthetic_size,
            cfg.synthetic_frames,
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


def recipe_data_spec(train: TrainConfig) -> DataSpec:
    """The test input a recipe trains for (written into checkpoints as metadata): its data
    settings, and views combined as ``data.aggregate`` says (by sigmoid when multi-label)."""
    cfg = train.data
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
        if kind_of(cfg).sample == "audiovisual" and cfg.audio_features == "raw"
        else 0,
        aggregate="mean_sigmoid" if train.multi_label else cfg.aggregate,
    )


def build_datasets(train_cfg: TrainConfig, test_spec: DataSpec | None = None):
    """Training and validation datasets and the label names. The validation views follow
    ``test_spec`` (a checkpoint's own data spec) or the recipe's data settings."""
    cfg, seed, kind = train_cfg.data, train_cfg.seed, kind_of(train_cfg.data)
    if kind.sample == "image":
        root = Path(cfg.root)
        train_tf, test_tf = transforms_for(cfg, None)
        train = ImageFolderDataset(root / "train", train_tf, seed)
        val = ImageFolderDataset(root / "val", test_tf, seed, train=False)
        check_same_classes(
            train.label_names, val.label_names, f"{root / 'train'}/", f"{root / 'val'}/"
        )
        return train, val, train.label_names
    train_items, names = split_items(cfg, "train")
    val_items, val_names = split_items(cfg, "val", names)
    names = names or val_names
    train_tf, test_tf = transforms_for(cfg, names)
    sampler = sampler_for(cfg)
    if kind.sample == "audiovisual":
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
    train = VideoDataset(
        train_items, sampler, train_tf, train=True, label_names=names, seed=seed, **decoding
    )
    val = VideoDataset(
        val_items,
        sampler,
        test_tf,
        train=False,
        label_names=names,
        num_crops=cfg.test_crops,
        protocol=build_protocol(test_spec or recipe_data_spec(train_cfg)),
        **decoding,
    )
    return train, val, names
