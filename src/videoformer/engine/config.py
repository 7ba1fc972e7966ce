"""Engine settings as dataclasses, loaded from YAML and overridden from the command line.

``load_config("configs/demo.yaml", ["optim.lr=0.001", "data.clip=8x4x1"])`` reads the
file onto ``TrainConfig`` and applies ``--set`` overrides (values parsed as YAML).
Unknown keys are errors that name the valid ones. The resolved config is saved
beside every run (``config.yaml``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..data.decode import BACKENDS
from ..data.kinds import DATASET_KINDS, DEFAULT_KIND
from ..data.sampling import ClipSampler
from ..fields import from_dict, load_yaml_file, parse_assignments, short_repr
from ..specs import AGGREGATES, PROTOCOL_AGGREGATES


@dataclass
class DataConfig:
    dataset: str = DEFAULT_KIND  # a kind of videoformer.data.kinds.DATASET_KINDS
    root: str = ""
    train: str = "train.csv"  # annotation of the training split, relative to root
    val: str = "val.csv"
    labels: str = "labels.txt"  # class names: labels.txt, labels.json (ssv2), a CSV (audioset)
    sampler: str = "dense"  # dense (clip_len x frame_interval) | segment (TSN)
    clip: str = "8x2x1"  # clip_len x frame_interval x num_clips (num_clips: test views)
    test_crops: int = 1  # 1 (centre) or 3 (three-crop)
    size: int = 224
    short_side: tuple[int, int] = (256, 320)  # training short-side jitter
    test_short_side: int = 224
    # test views: videoformer (this library's recipes) or an official pipeline
    # (timesformer, timesformer_ssv2, mmaction, hf_videomae; see data/protocols.py)
    protocol: str = "videoformer"
    # how a video's views combine (videoformer.specs.AGGREGATES); "": the protocol's own
    # (sum_logits for the official TimeSformer tests, else mean_softmax; mean_sigmoid when
    # the recipe is multi-label)
    aggregate: str = ""
    random_resized_crop: bool = False
    flip: bool = True
    flip_map: str = ""  # JSON {class: class} of labels a flip swaps ("" = none)
    rand_augment: tuple[int, float] | None = None  # (num_ops, magnitude)
    erase_prob: float = 0.0
    mean: tuple[float, float, float] = (0.45, 0.45, 0.45)
    std: tuple[float, float, float] = (0.225, 0.225, 0.225)
    num_workers: int = 2
    cache_decoded: bool = False  # keep decoded videos in memory (small datasets, num_workers 0)
    decode_backend: str = "auto"
    audio_features: str = "raw"  # audioset: raw samples or log-mel frames
    audio_samples: int = 61_440  # audioset: samples per clip (1.28 s at 48 kHz)
    sample_rate: int = 48_000
    synthetic_per_class: int = 100  # dataset: synthetic (written under root if missing)
    synthetic_size: int = 64
    synthetic_frames: int = 16


@dataclass
class OptimConfig:
    name: str = "adamw"  # sgd | adamw | lamb
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.05
    backbone_lr_mult: float = 1.0  # lr multiplier of everything but the classifier
    embed_lr_mult: float = 1.0  # lr multiplier of position/time embeddings, cls tokens, latents
    layer_decay: float = 1.0  # layer-wise lr: block i of L gets layer_decay ** (L - i)
    clip_grad: float | None = None
    accum_steps: int = 1


@dataclass
class ScheduleConfig:
    epochs: int = 10
    warmup_epochs: float = 0.0
    kind: str = "cosine"  # cosine | step
    milestones: tuple[int, ...] = ()  # step: epochs where lr *= gamma
    gamma: float = 0.1
    min_lr_ratio: float = 0.0


@dataclass
class LoggingConfig:
    tensorboard: bool = True  # events under <out>/tensorboard when tensorboard is installed
    progress_interval: float = 30.0  # seconds between progress lines when not on a terminal
    wandb: str = ""  # a Weights & Biases project name (used when wandb is installed); "" off


@dataclass
class TrainConfig:
    model: str = "timesformer_base"
    model_overrides: dict[str, Any] = field(default_factory=dict)
    pretrained: str | None = None
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    batch_size: int = 8  # per process
    eval_batch_size: int = 16
    precision: str = "fp32"  # fp32 | bf16 | fp16 (GPU only)
    label_smoothing: float = 0.0
    mixup_alpha: float = 0.0
    cutmix_alpha: float = 0.0
    multi_label: bool = False  # BCE loss and mAP
    ema_decay: float | None = None
    grad_checkpointing: bool = False
    compile: bool = False  # torch.compile the model for training and evaluation
    seed: int = 0
    out: str = "runs/exp"
    checkpoint_every: int = 0  # steps between mid-epoch checkpoints (0: at epoch ends)
    nonfinite: str = "stop"  # stop | skip a step whose loss is not finite
    distributed: str = "ddp"  # ddp | fsdp, when launched with torchrun
    eval_every: int = 1  # epochs
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    max_steps: int | None = None  # stop early (smoke tests)
    source: str = ""  # where the recipe comes from


CHOICES = {
    "data.dataset": tuple(DATASET_KINDS),
    "data.audio_features": ("raw", "mel"),
    "data.decode_backend": BACKENDS,
    "data.sampler": ("dense", "segment"),
    "data.protocol": tuple(PROTOCOL_AGGREGATES),
    "data.aggregate": ("", *AGGREGATES),
    "optim.name": ("sgd", "adamw", "lamb"),
    "schedule.kind": ("cosine", "step"),
    "precision": ("fp32", "bf16", "fp16"),
    "nonfinite": ("stop", "skip"),
    "distributed": ("ddp", "fsdp"),
}


def _set(tree: dict, dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    for k in keys[:-1]:
        tree = tree.setdefault(k, {})
        if not isinstance(tree, dict):
            raise ValueError(f"--set {dotted}: {k} is not a section")
    tree[keys[-1]] = value


def _get(config: TrainConfig, dotted: str) -> Any:
    obj: Any = config
    for k in dotted.split("."):
        obj = getattr(obj, k)
    return obj


# field -> (test, what is allowed)
RULES: dict[str, tuple[Any, str]] = {
    "batch_size": (lambda v: v >= 1, "at least 1"),
    "eval_batch_size": (lambda v: v >= 1, "at least 1"),
    "optim.accum_steps": (lambda v: v >= 1, "at least 1"),
    "optim.lr": (lambda v: v > 0, "positive"),
    "optim.weight_decay": (lambda v: v >= 0, "0 or more"),
    "optim.layer_decay": (lambda v: 0 < v <= 1, "in (0, 1]"),
    "optim.clip_grad": (lambda v: v is None or v > 0, "positive or null"),
    "schedule.epochs": (lambda v: v >= 1, "at least 1"),
    "schedule.warmup_epochs": (lambda v: v >= 0, "0 or more"),
    "schedule.milestones": (lambda v: list(v) == sorted(set(v)), "increasing epochs"),
    "label_smoothing": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "mixup_alpha": (lambda v: v >= 0, "0 or more"),
    "cutmix_alpha": (lambda v: v >= 0, "0 or more"),
    "ema_decay": (lambda v: v is None or 0 < v < 1, "in (0, 1) or null"),
    "eval_every": (lambda v: v >= 1, "at least 1"),
    "checkpoint_every": (lambda v: v >= 0, "0 (epoch ends) or more"),
    "max_steps": (lambda v: v is None or v >= 1, "at least 1 or null"),
    "data.test_crops": (lambda v: v in (1, 3), "1 or 3"),
    "data.short_side": (
        lambda v: len(v) == 2 and 1 <= v[0] <= v[1],
        "[low, high] with low <= high",
    ),
    "data.erase_prob": (lambda v: 0 <= v <= 1, "in [0, 1]"),
    "data.size": (lambda v: 1 <= v <= 4096, "from 1 to 4096 pixels"),
    "data.mean": (lambda v: len(v) == 3, "three values (R, G, B)"),
    "data.std": (lambda v: len(v) == 3 and all(x > 0 for x in v), "three positive values"),
    "data.rand_augment": (
        lambda v: v is None or (len(v) == 2 and 0 <= v[0] <= 16 and 0 <= v[1] <= 30),
        "null or [num_ops 0..16, magnitude 0..30]",
    ),
    "data.test_short_side": (lambda v: 1 <= v <= 8192, "from 1 to 8192 pixels"),
    "data.num_workers": (lambda v: v >= 0, "0 or more"),
}


def validate(config: TrainConfig) -> TrainConfig:
    """Every field's value, before anything is written: errors name the field, the value
    and what is allowed."""
    for dotted, allowed in CHOICES.items():
        value = _get(config, dotted)
        if value not in allowed:
            raise ValueError(f"{dotted} = {short_repr(value)} is not one of {', '.join(allowed)}")
    for dotted, (ok, allowed) in RULES.items():
        value = _get(config, dotted)
        if not ok(value):
            raise ValueError(f"{dotted} = {short_repr(value)}: must be {allowed}")
    try:
        ClipSampler.parse(config.data.clip)
    except ValueError as e:
        raise ValueError(f"data.clip = {short_repr(config.data.clip)}: {e}") from None
    return config


RECIPES = Path(__file__).resolve().parent.parent / "configs"


def recipe_path(name: str | Path) -> Path:
    """A YAML file, or the name of a packaged recipe (``demo``, ``timesformer_k400``...)."""
    path = Path(name)
    if path.is_file():
        return path
    packaged = RECIPES / f"{path.stem}.yaml"
    if packaged.is_file():
        return packaged
    known = ", ".join(sorted(p.stem for p in RECIPES.glob("*.yaml")))
    raise FileNotFoundError(f"config {name} not found (packaged recipes: {known})")


def load_config(path: str | Path | None = None, overrides: list[str] = ()) -> TrainConfig:
    """A YAML recipe (a file or a packaged recipe's name, or the defaults) plus
    ``key.sub=value`` overrides (values are YAML)."""
    tree: dict = {}
    if path is not None:
        file = recipe_path(path)
        tree = load_yaml_file(file) or {}
        if not isinstance(tree, dict):
            raise ValueError(
                f"{file}: a recipe is a mapping of fields (key: value), got a {type(tree).__name__}"
            )
    for key, value in parse_assignments(overrides).items():
        _set(tree, key, value)
    return validate(from_dict(TrainConfig, tree))


def to_dict(config: TrainConfig) -> dict[str, Any]:
    def plain(v):
        if isinstance(v, tuple):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    return plain(dataclasses.asdict(config))


def save_config(config: TrainConfig, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(to_dict(config), sort_keys=False))


# Fields a resumed run may set differently from its checkpoint: where the run writes and
# reads, how often it checkpoints and evaluates, how many workers load, and how long it
# runs (more epochs recompute the schedule for the new length from the step reached).
RESUME_SAFE = (
    "out",
    "source",
    "pretrained",
    "max_steps",
    "checkpoint_every",
    "eval_every",
    "eval_batch_size",
    "nonfinite",
    "schedule.epochs",
    "data.root",
    "data.num_workers",
    "data.cache_decoded",
    "logging.tensorboard",
    "logging.progress_interval",
    "logging.wandb",
)


class ConfigChanged(ValueError):
    """``--resume`` with settings that would change the run the checkpoint belongs to."""


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in tree.items():
        if isinstance(v, dict) and k != "model_overrides":
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def check_resumable(saved: dict[str, Any], current: dict[str, Any], where: Path | str) -> None:
    """Refuse to resume when a field outside ``RESUME_SAFE`` differs, naming each one."""
    old, new = _flatten(saved), _flatten(current)
    changed = sorted(
        k for k in old.keys() | new.keys() if old.get(k) != new.get(k) and k not in RESUME_SAFE
    )
    if changed:
        diffs = "; ".join(
            f"{k}: {old.get(k)!r} in the checkpoint, {new.get(k)!r} now" for k in changed
        )
        raise ConfigChanged(
            f"--resume from {where}: the config differs ({diffs}). Resume with the run's own "
            f"settings or start a new run folder; these may change: {', '.join(RESUME_SAFE)}"
        )
