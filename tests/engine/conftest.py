import os
import socket
import subprocess
import time
from pathlib import Path

import torch

TINY_MODEL = (
    "{img_size: 32, patch_size: 8, num_frames: 4, embed_dim: 32, depth: 1, num_heads: 2,"
    " drop_path_rate: 0.0}"
)


# The randomness real recipes use, on the tiny model: stochastic depth, dropout, mixup and
# cutmix, RandAugment, two loader workers (what "exact resume" must survive)
STOCHASTIC = {
    "model_overrides": "{img_size: 32, patch_size: 8, num_frames: 4, embed_dim: 32, depth: 1, "
    "num_heads: 2, drop_path_rate: 0.3, drop_rate: 0.1}",
    "mixup_alpha": 0.8,
    "cutmix_alpha": 1.0,
    "data.rand_augment": "[2, 9]",
    "data.num_workers": 2,
}


def tiny_overrides(root, out, **extra) -> list[str]:
    """A tiny TimeSformer on the tiny synthetic set: seconds on the CPU."""
    base = {
        "model": "timesformer",
        "model_overrides": TINY_MODEL,
        "data.root": str(root),
        "data.dataset": "synthetic",
        "data.clip": "4x2x1",
        "data.size": 32,
        "data.short_side": "[32, 36]",
        "data.test_short_side": 32,
        "data.flip_map": "flip_map.json",
        "data.num_workers": 0,
        "batch_size": 4,
        "eval_batch_size": 8,
        "schedule.epochs": 2,
        "optim.lr": 0.001,
        "out": str(out),
    }
    base.update(extra)
    return [f"{k}={v}" for k, v in base.items()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def set_distributed_env(rank: int, world: int, port: int) -> None:
    """What torchrun sets for one process of a run on this host."""
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_RANK=str(rank),
    )


def wait_for_train_steps(metrics: Path, steps: int, timeout: float = 120.0) -> None:
    """Until ``metrics`` (a run's metrics.jsonl) logs ``steps`` training rows, or the time is up."""
    deadline = time.time() + timeout
    while time.time() < deadline and not (
        metrics.is_file() and metrics.read_text().count('"train"') >= steps
    ):
        time.sleep(0.02)


def wait_for_checkpoint_step(
    proc: subprocess.Popen, ckpt: Path, step: int, log: Path, timeout: float = 600.0
) -> None:
    """Until the training run ``proc`` has checkpointed ``step`` to ``ckpt``. Fails with the
    run's stderr (``log``) if it exits first or the time is up: a loaded CI machine can take
    minutes to start a run, and a crash must show why."""
    from videoformer.engine.checkpointing import load_training_checkpoint

    deadline = time.time() + timeout
    while time.time() < deadline:
        if ckpt.is_file():
            try:
                if load_training_checkpoint(ckpt)["step"] >= step:
                    return
            except Exception:  # being replaced right now: the rename is atomic, retry
                pass
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    state = f"exited with {proc.returncode}" if proc.poll() is not None else "still running"
    tail = log.read_text(errors="replace")[-3000:]
    raise AssertionError(f"no checkpoint of step {step} in {timeout:.0f} s; run {state}:\n{tail}")


def run_worker(rank: int, world: int, port: int, overrides: list[str]) -> None:
    set_distributed_env(rank, world, port)
    torch.set_num_threads(1)
    from videoformer.engine import distributed
    from videoformer.engine.config import load_config
    from videoformer.engine.train import Trainer

    try:
        Trainer(load_config(None, overrides)).fit()
    finally:
        distributed.shutdown()
