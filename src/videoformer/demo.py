"""The smallest end-to-end job: train a tiny divided-attention TimeSformer on the CPU.

Clips show a bright square moving left, right, up or down over a noisy background;
its start position is random, so no single frame tells the class: only the order
of frames does. (The engine issue replaces this with real encoded video files.)
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from .models import create_model

log = logging.getLogger(__name__)

CLASSES = ("left", "right", "up", "down")
_STEPS = {"left": (0, -1), "right": (0, 1), "up": (-1, 0), "down": (1, 0)}


def moving_square_clips(n: int, frames: int = 4, size: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """n clips ``(n, 3, frames, size, size)`` in [0, 1] and their labels ``(n,)``."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, frames, size, size, generator=g) * 0.3
    y = torch.randint(len(CLASSES), (n,), generator=g)
    side, speed = size // 4, size // 8
    for i in range(n):
        dy, dx = _STEPS[CLASSES[y[i]]]
        travel = speed * (frames - 1)
        lo_y = travel if dy < 0 else 0
        hi_y = size - side - (travel if dy > 0 else 0)
        lo_x = travel if dx < 0 else 0
        hi_x = size - side - (travel if dx > 0 else 0)
        y0 = int(torch.randint(lo_y, hi_y + 1, (1,), generator=g))
        x0 = int(torch.randint(lo_x, hi_x + 1, (1,), generator=g))
        colour = torch.rand(3, 1, 1, generator=g) * 0.5 + 0.5
        for t in range(frames):
            r, c = y0 + dy * speed * t, x0 + dx * speed * t
            x[i, :, t, r : r + side, c : c + side] = colour
    return x, y


def run_demo(out_dir: str | Path = "demo_out", steps: int = 800, seed: int = 0) -> dict:
    """Train, evaluate on held-out clips, write ``metrics.json``; returns the metrics."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = create_model(
        "timesformer", img_size=32, patch_size=8, num_frames=4, embed_dim=64, depth=2,
        num_heads=4, num_classes=len(CLASSES), drop_path_rate=0.0,
    )
    x_train, y_train = moving_square_clips(2048, seed=seed)
    x_val, y_val = moving_square_clips(512, seed=seed + 1)
    x_train, x_val = (x_train - 0.4) / 0.3, (x_val - 0.4) / 0.3  # roughly zero mean, unit std
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-3, total_steps=steps)
    start = time.perf_counter()
    model.train()
    for _ in (bar := tqdm(range(steps), desc="train", unit="step", mininterval=2.0)):
        idx = torch.randint(len(x_train), (32,))
        loss = F.cross_entropy(model(x_train[idx]), y_train[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        bar.set_postfix(loss=f"{loss.item():.3f}")
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(xb).argmax(1) for xb in x_val.split(128)])
    metrics = {
        "top1": (pred == y_val).float().mean().item(),
        "classes": list(CLASSES),
        "train_steps": steps,
        "seconds": round(time.perf_counter() - start, 1),
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    torch.save({"model": model.state_dict(), "config": vars(model.config)}, out / "checkpoint.pt")
    return metrics
