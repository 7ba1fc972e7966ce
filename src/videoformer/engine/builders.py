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
from ..data.shards import ShardDataset, join, read_bytes, read_split
from ..data.synthetic import make_motion_dataset
from ..data.transforms import video_test_transform, video_train_transform
from ..fields import short_repr
from ..models.registry import resolve_weights
from ..specs import DataSpec, ModelSource
from ..weights.loading import load_checkpoint, read_shapes
from ..weights.source import resolve_source
from .config import DataConfig, TrainConfig

log = logging.getLogger(__name__)


def kind_of(cfg: DataConfig) -> DatasetKind:
    return DATASET_KINDS[cfg.dataset]


def split_items(cfg: DataConfig, split: str, names: list[str] | None = None):
    """(items, label names or None) of the ``"train"`` or ``"val"`` split; the validation
    split takes the training split's ``names`` (a class one has and the other lacks is an
    error naming it)."""
    kind = kind_of(cfg)
    root = cfg.root if kind.remote else Path(cfg.root)  # a URL is not a path
    path = kind.split_path(Path(cfg.root), split, cfg.train if split == "train" else cfg.val)
    if kind.generated and not Path(path).exists():
        raise FileNotFoundError(
            f"{path}: the {cfg.dataset} set is not written yet (videoformer train, or "
            "videoformer.engine.train.prepare_data, writes it after checking the recipe)"
        )
    return kind.read(path, root, Path(cfg.root) / cfg.labels, names)


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
    if kind.remote:  # the manifest is there (at a URL: the server answers) and has both splits
        for split in ("train", "val"):
            read_split(cfg.data.root, split, names_only=True)
    if cfg.precision == "fp16" and device.type != "cuda":
        raise ValueError(
            "precision = 'fp16' needs a GPU (its gradient scaler is CUDA-only); use bf16 on the CPU"
        )
    try:
        entry, spec = resolve_weights(cfg.model)
        with torch.device("meta"):
            model = entry.build(**{**(spec.config if spec else {}), **cfg.model_overrides})
    except (ValueError, TypeError, ZeroDivisionError) as e:
        raise ValueError(
            f"model = {cfg.model!r}, model_overrides = {short_repr(cfg.model_overrides, 200)}: {e}"
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
    location = flip_map_location(cfg.data)
    if location and not (kind.generated and not Path(location).exists()):  # not written yet
        read_flip_map(cfg.data)
    _check_out(cfg)
    _check_memory(model, cfg, device)
    if not cfg.pretrained:
        return None
    try:
        source = resolve_source(cfg.pretrained)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"pretrained = {cfg.pretrained!r}: no such file, URL, tag or hub id"
        ) from None
    if source.path is not None:  # the weights must fit the model (the head may be new)
        with torch.device("meta"):
            load_checkpoint(model, read_shapes(source.path), classifier="reinit")
    return source


def flip_map_location(cfg: DataConfig) -> str | None:
    """Where data.flip_map is: as given, or relative to data.root (which may be a URL)."""
    if not cfg.flip_map:
        return None
    if Path(cfg.flip_map).is_absolute() or Path(cfg.flip_map).exists():
        return cfg.flip_map
    return join(cfg.root, cfg.flip_map)


def read_flip_map(cfg: DataConfig) -> tuple[str, dict[str, str]] | None:
    """(where, {class: class}) of data.flip_map, checked; None when there is none."""
    location = flip_map_location(cfg)
    if location is None:
        return None
    try:
        text = read_bytes(location)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"data.flip_map = {cfg.flip_map!r}: no such file ({location})"
        ) from None
    try:
        pairs = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise ValueError(f"data.flip_map {location}: not JSON") from None
    if not isinstance(pairs, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in pairs.items()
    ):
        raise ValueError(f"data.flip_map {location}: expected a JSON object of class: class")
    return location, pairs


def _check_out(cfg: TrainConfig) -> None:
    """A run folder inside a class-folder split would become a class of every later run."""
    kind, out = kind_of(cfg.data), Path(cfg.out).resolve()
    if not kind.class_folders:
        return
    for split in ("train", "val"):
        folder = (Path(cfg.data.root) / split).resolve()
        if out == folder or folder in out.parents:
            raise ValueError(
                f"out = {cfg.out!r} is inside the data set's {folder}: it would become a class "
                "folder; put the run elsewhere"
            )


def training_bytes(model: torch.nn.Module, cfg: TrainConfig) -> int:
    """Memory a training step of this recipe needs at least: weights, gradients and the
    optimizer's state, and what autograd keeps for backward of one batch (measured by a
    forward on the meta device: shapes only, no compute)."""
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    states = {"sgd": 1, "adamw": 2, "lamb": 2}.get(cfg.optim.name, 2)
    saved = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal saved
        saved += t.numel() * t.element_size()
        return t

    shape = model.input_shape
    clip = ClipSampler.parse(cfg.data.clip).clip_len
    if isinstance(shape, tuple) and len(shape) == 4:  # the recipe's clip and size
        shape = (shape[0], clip, cfg.data.size, cfg.data.size)
    elif isinstance(shape, tuple) and len(shape) == 3:
        shape = (shape[0], cfg.data.size, cfg.data.size)
    try:
        with torch.device("meta"), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            inputs = (
                {k: torch.empty(cfg.batch_size, *v) for k, v in shape.items()}
                if isinstance(shape, dict)
                else torch.empty(cfg.batch_size, *shape)
            )
            model.train()(inputs).sum()
    except (ValueError, RuntimeError, NotImplementedError):  # a model meta cannot run
        saved = 0
    return params * (2 + states) + saved


def _available_bytes(device: torch.device) -> int | None:
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _check_memory(model: torch.nn.Module, cfg: TrainConfig, device: torch.device) -> None:
    """Refuse a recipe whose training step cannot fit this device's free memory."""
    need, free = training_bytes(model, cfg), _available_bytes(device)
    if free is not None and need > free:
        params = sum(p.numel() for p in model.parameters())
        raise ValueError(
            f"model = {cfg.model!r} ({params:,} parameters) at batch {cfg.batch_size}, "
            f"{cfg.data.clip} clips of {cfg.data.size} px needs at least {need / 2**30:.1f} GiB "
            f"to train, and {device.type} has {free / 2**30:.1f} GiB free: a smaller model, "
            "batch, clip or size (or grad_checkpointing)"
        )


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
    found = read_flip_map(cfg)
    if found is None:
        return {}
    location, pairs = found
    if names is None:
        raise ValueError(f"{location}: a flip map needs label names")
    unknown = sorted(set(pairs) - set(names))
    if unknown:
        raise ValueError(f"{location}: classes {unknown} are not in the label names")
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
    dataset = ShardDataset if kind.sample == "shard" else VideoDataset
    if kind.sample == "shard" and cfg.cache_decoded:
        raise ValueError(
            "data.cache_decoded keeps decoded files; shards are read as they go: set it false"
        )
    train = dataset(
        train_items, sampler, train_tf, train=True, label_names=names, seed=seed, **decoding
    )
    val = dataset(
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
