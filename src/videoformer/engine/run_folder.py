"""A run folder belongs to one run: a used folder is refused unless the run resumes it or
the user asks to overwrite it, and a running run holds a lock on it for its whole life.

``check_run_folder`` runs with the other checks, before anything is written;
``RunLock.acquire`` is the run's first write (the lock file), then ``--overwrite`` clears
what the old run wrote.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from filelock import FileLock, Timeout

# What a run writes into its folder (the synthetic set, when it is under the folder, and
# anything else the user keeps there are left alone)
RUN_FILES = (
    "config.yaml",
    "checkpoint.pt",
    "checkpoint.prev.pt",
    "metrics.jsonl",
    "model.safetensors",
    "eval.json",
    "eval_confusion.png",
    "curves.png",
    "tensorboard",
)
LOCK_FILE = "run.lock"  # held by the running run; left in place after it (an empty file)


class RunFolderError(ValueError):
    """A run folder another run owns, or one in use by a running process."""


def previous_run_files(out: Path) -> list[Path]:
    """What an earlier run left in ``out`` (files it writes, and its temporary files)."""
    if not out.is_dir():
        return []
    found = [out / name for name in RUN_FILES if (out / name).exists()]
    return found + sorted(p for pattern in TEMPORARY for p in out.glob(pattern))


def _busy(out: Path) -> bool:
    lock = FileLock(out / LOCK_FILE)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    lock.release()
    return False


def check_run_folder(out: Path, resume: bool, overwrite: bool) -> None:
    """Refuse a folder an earlier run wrote into, unless ``resume`` (continue it) or
    ``overwrite`` (start again, clearing what it wrote); refuse a folder a running run
    holds. Writes nothing."""
    if resume and overwrite:
        raise ValueError("--resume continues a run and --overwrite discards it: choose one")
    if out.exists() and not out.is_dir():
        raise RunFolderError(f"--out {out} is a file, not a folder")
    if (out / LOCK_FILE).exists() and _busy(out):
        raise RunFolderError(
            f"{out} is in use by another running videoformer train; wait for it, or choose "
            "another --out"
        )
    checkpoints = [out / name for name in ("checkpoint.pt", "checkpoint.prev.pt")]
    if resume and not any(p.is_file() for p in checkpoints):
        raise FileNotFoundError(
            f"--resume: no checkpoint in {out} (looked for checkpoint.pt and "
            "checkpoint.prev.pt): start the run without --resume"
        )
    used = previous_run_files(out)
    if used and not (resume or overwrite):
        names = ", ".join(p.name for p in used[:6])
        raise RunFolderError(
            f"{out} holds an earlier run ({names}): continue it with --resume, start it "
            "again with --overwrite (which deletes those files), or choose another --out"
        )


class RunLock:
    """Held for the life of a run (rank 0): a second process on the same folder is refused."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self._lock: FileLock | None = None

    def acquire(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        lock = FileLock(self.out / LOCK_FILE)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise RunFolderError(
                f"{self.out} is in use by another running videoformer train; wait for it, "
                "or choose another --out"
            ) from None
        self._lock = lock

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None


TEMPORARY = (
    ".checkpoint.pt.tmp-*",
    ".checkpoint.prev.pt.tmp-*",
    ".model.safetensors.tmp",
    ".metrics.jsonl.tmp",
    ".config.yaml.tmp",
)


def remove_orphans(out: Path) -> list[Path]:
    """Delete the temporary files a killed run left (each a checkpoint at full size); call
    with the run's lock held, when no other process can be writing them."""
    orphans = [p for pattern in TEMPORARY for p in out.glob(pattern)]
    for path in orphans:
        path.unlink(missing_ok=True)
    return orphans


def clear_previous_run(out: Path) -> None:
    """Delete what an earlier run wrote into ``out`` (``--overwrite``)."""
    for path in previous_run_files(out):
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
