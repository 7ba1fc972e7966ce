"""Multi-view evaluation: views aggregated per video, then top-k, mean class accuracy,
confusion matrix (or mAP for multi-label). Works under DDP: each rank scores its share,
the views are gathered and de-duplicated by (video, view) — the distributed sampler pads."""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from ..atomic import write_atomically
from ..data.memory import release_large_blocks
from ..progress import Progress
from ..specs import combine_views
from .distributed import DistInfo, EpochSampler, all_gather_objects

log = logging.getLogger(__name__)


def model_inputs(batch: dict, device: torch.device):
    """The model's input: the clip, or ``{"video", "audio"}`` for audio-visual batches."""
    if "audio" in batch:
        return {k: batch[k].to(device, non_blocking=True) for k in ("video", "audio")}
    return batch["video"].to(device, non_blocking=True)


def aggregate_views(logits: dict[int, list[torch.Tensor]], how: str) -> dict[int, torch.Tensor]:
    """Per video, its views' logits combined as ``how`` (``videoformer.specs.AGGREGATES``)
    says: mean of softmax, sum of logits (official TimeSformer), mean of sigmoid
    (multi-label)."""
    return {video: combine_views(torch.stack(views), how) for video, views in logits.items()}


def average_precision(scores: torch.Tensor, targets: torch.Tensor) -> float:
    """AP of one class as scikit-learn's ``average_precision_score``: the sum over distinct
    score thresholds (highest first) of the recall gained times the precision there, so
    tied scores count as one threshold whatever their order; NaN without positives."""
    order = scores.argsort(descending=True, stable=True)
    s, hits = scores[order], targets[order].float()
    if hits.sum() == 0:
        return float("nan")
    last = torch.cat([torch.nonzero(s[1:] != s[:-1]).flatten(), torch.tensor([len(s) - 1])])
    true_pos = hits.cumsum(0)[last]  # at each threshold: positives ranked at or above it
    precision = true_pos / (last + 1)
    recall = true_pos / hits.sum()
    gained = recall - torch.cat([recall.new_zeros(1), recall[:-1]])
    return float((gained * precision).sum())


def classification_metrics(
    scores: torch.Tensor, labels: torch.Tensor, num_classes: int
) -> dict[str, Any]:
    """scores (N, K), labels (N,) -> top1, top5 (fractions), mean class accuracy, per-class
    accuracy, confusion matrix (rows: true class)."""
    pred = scores.argmax(1)
    k = min(5, scores.shape[1])
    top5 = (scores.topk(k, dim=1).indices == labels[:, None]).any(1)
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.long)
    confusion.index_put_((labels, pred), torch.ones_like(labels), accumulate=True)
    support = confusion.sum(1)
    per_class = [
        int(confusion[c, c]) / int(support[c]) if support[c] else float("nan")
        for c in range(num_classes)
    ]
    present = [a for a in per_class if a == a]
    return {
        "top1": float((pred == labels).float().mean()),
        "top5": float(top5.float().mean()),
        "mean_class_accuracy": sum(present) / len(present) if present else float("nan"),
        "per_class_accuracy": per_class,
        "confusion": confusion.tolist(),
        "num_videos": int(len(labels)),
    }


@torch.no_grad()
def evaluate(
    model: nn.Module,
    dataset,
    batch_size: int,
    info: DistInfo | None = None,
    num_workers: int = 0,
    aggregate: str = "mean_softmax",
    autocast_dtype: torch.dtype | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Score every view of ``dataset`` (a test-mode ``VideoDataset``) and aggregate per
    video; multi-hot labels (a multi-label set) are scored by mAP."""
    info = info or DistInfo()
    model.eval()
    sampler = EpochSampler(
        len(dataset), shuffle=False, seed=0, rank=info.rank, world_size=info.world_size
    )
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        worker_init_fn=release_large_blocks,
        pin_memory=info.device.type == "cuda",
        generator=torch.Generator().manual_seed(0),  # not the global stream (see train.py)
    )
    local: list[tuple[int, int, torch.Tensor, Any]] = []
    for batch in Progress(loader, len(loader), "eval", enabled=progress and info.is_main):
        x = model_inputs(batch, info.device)
        with torch.autocast(
            info.device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None
        ):
            logits = model(x).float().cpu()
        for i, v, row, label in zip(
            batch["index"].tolist(), batch["view"].tolist(), logits, batch["label"]
        ):
            local.append((i, v, row, label))
    views: dict[int, dict[int, torch.Tensor]] = defaultdict(dict)
    labels: dict[int, Any] = {}
    for part in all_gather_objects(local, info):
        for i, v, row, label in part:
            views[i][v] = row  # duplicates from sampler padding collapse here
            labels[i] = label
    per_video = aggregate_views({i: list(v.values()) for i, v in views.items()}, aggregate)
    multi_label = torch.as_tensor(next(iter(labels.values()))).ndim == 1  # multi-hot targets
    videos = sorted(per_video)
    scores = torch.stack([per_video[i] for i in videos])
    num_classes = scores.shape[1]
    if multi_label:
        targets = torch.stack([torch.as_tensor(labels[i]) for i in videos])
        aps = [average_precision(scores[:, c], targets[:, c]) for c in range(num_classes)]
        valid = [a for a in aps if a == a]
        result = {
            "mAP": sum(valid) / len(valid) if valid else float("nan"),
            "num_videos": len(videos),
        }
    else:
        result = classification_metrics(
            scores, torch.tensor([int(labels[i]) for i in videos]), num_classes
        )
    result["views_per_video"] = max(len(v) for v in views.values())
    result["aggregate"] = aggregate
    # an unreadable video is replaced by another one's views, which collapse into that
    # video's: what is left out is the videos never scored
    listed = len(getattr(dataset, "items", ())) or len(videos)
    result["videos_listed"] = listed
    result["failed_files"] = listed - len(videos)  # unreadable videos, not retries
    return result


def write_report(
    result: dict[str, Any], out_dir: str | Path, labels: list[str] | None, name: str = "eval"
) -> Path:
    """``{name}.json`` (with per-class accuracy by name) and a confusion-matrix PNG."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = dict(result)
    if labels and "per_class_accuracy" in result:
        report["per_class_accuracy"] = dict(zip(labels, result["per_class_accuracy"]))
        report["labels"] = labels
    path = out / f"{name}.json"
    files = {path: lambda tmp: tmp.write_text(json.dumps(report, indent=2))}
    if "confusion" in result:
        from .plots import plot_confusion

        files[out / f"{name}_confusion.png"] = lambda tmp: plot_confusion(
            result["confusion"], labels, tmp
        )
    write_atomically(files)  # the figure fails, the JSON is not left alone either
    return path
