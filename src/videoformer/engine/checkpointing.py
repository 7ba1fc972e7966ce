"""Atomic training checkpoints (the release weights are ``weights.model_file``'s).

A checkpoint holds the unwrapped model, optimizer, scheduler, scaler, EMA, every RNG
state, the epoch, the global step, the batches done in the epoch, the resolved config
and the model's metadata (name, config, labels, preprocessing). It is written to a
temporary file in the same folder, fsynced, then renamed over the old one: a run killed
at any moment leaves the previous checkpoint or the new one, never half of one.
Everything in it loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

CHECKPOINT = "checkpoint.pt"


def previous_path(path: Path) -> Path:
    """Where ``atomic_save(..., keep_previous=True)`` keeps the checkpoint before the last."""
    return path.with_name(f"{path.stem}.prev{path.suffix}")


def atomic_save(obj: Any, path: str | Path, keep_previous: bool = False) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over ``path`` (the
    old file first becomes ``previous_path(path)`` with ``keep_previous``). A write that
    fails midway (a full disk) leaves the existing files as they were."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            writer = _WriteErrorKept(f)
            try:
                torch.save(obj, writer)
            except RuntimeError as e:  # torch hides the file's error behind its own
                if writer.error is None:
                    raise
                raise writer.error from e
            f.flush()
            os.fsync(f.fileno())
        if keep_previous:
            try:  # no exists() first: another process may rename it in between
                os.replace(path, previous_path(path))
            except FileNotFoundError:
                pass
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class _WriteErrorKept:
    """A file for ``torch.save`` that keeps the OSError of a failed write (a full disk, a
    file size limit): torch swallows it and raises "unexpected pos" instead."""

    def __init__(self, f: Any):
        self.f, self.error = f, None

    def write(self, data: Any) -> int:
        try:
            return self.f.write(data)
        except OSError as e:
            self.error = e
            raise

    def flush(self) -> None:
        self.f.flush()


def rng_state() -> dict[str, Any]:
    np_state = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": {
            "key": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "gauss": float(np_state[4]),
        },
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state["numpy"]
    np.random.set_state(
        ("MT19937", n["key"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"])
    )
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def load_training_checkpoint(path: str | Path) -> dict[str, Any]:
    return torch.load(path, map_location="cpu", weights_only=True)
