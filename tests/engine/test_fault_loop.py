"""The fault loop (slow): a stochastic run with two loader workers killed with SIGKILL 20
times at random points, half of them while a checkpoint is being written, and twice
stopped by a full disk (RLIMIT_FSIZE), each time resumed; then finished without a fault
(the faults take at most ~190 of its 700 steps, whatever the machine's speed).
Its weights equal bitwise those of a run never interrupted, no temporary file is left
and every step is logged once."""

import json
import os
import random
import resource
import signal
import subprocess
import sys
import time

import pytest
import torch

from tests.engine.conftest import STOCHASTIC, tiny_overrides, wait_for_train_steps
from videoformer.engine.checkpointing import load_training_checkpoint
from videoformer.engine.config import load_config
from videoformer.engine.train import Trainer

SETTINGS = {**STOCHASTIC, "checkpoint_every": 1, "schedule.epochs": 100, "eval_every": 25}
KILLS, DISK_FULLS = 20, 2


def _command(data, out) -> list[str]:
    """Continue the run, or start it again when it was killed before its first checkpoint
    (then the folder holds only what it wrote first: --overwrite)."""
    args = tiny_overrides(data, out, **SETTINGS)
    command = [sys.executable, "-m", "videoformer", "train", *sum((["--set", a] for a in args), [])]
    if (out / "checkpoint.pt").is_file() or (out / "checkpoint.prev.pt").is_file():
        return command + ["--resume"]
    return command + (["--overwrite"] if out.exists() else [])


# Runs ``videoformer train`` and SIGKILLs itself halfway through its Nth checkpoint write
# (argv[1] is N): the file under the temporary name is half written when the process dies.
DIE_IN_A_WRITE = """
import io, os, signal, sys
import videoformer.engine.checkpointing as checkpointing
from videoformer.cli import main
save, count, die_at = checkpointing.torch.save, [0], int(sys.argv.pop(1))
def dying_save(obj, f, *args, **kwargs):
    count[0] += 1
    if count[0] < die_at:
        return save(obj, f, *args, **kwargs)
    buffer = io.BytesIO()
    save(obj, buffer, *args, **kwargs)
    f.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    f.flush()
    os.kill(os.getpid(), signal.SIGKILL)
checkpointing.torch.save = dying_save
sys.exit(main(sys.argv[1:]))
"""


def _limit_file_size() -> None:  # a checkpoint (tens of kB) no longer fits
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))


def _train_rows(metrics) -> int:
    return metrics.read_text().count('"train"') if metrics.is_file() else 0


def _wait_for_a_random_point(proc, metrics, rng: random.Random) -> None:
    """A random point counted in steps, not seconds (a run trains ~23 steps/s here, so a
    random time would let the faults finish it on a faster machine): in start-up (2-3 s),
    or a random time (under one step) after 1-12 more training rows were logged."""
    more = rng.randint(0, 12)
    if more == 0:
        time.sleep(rng.uniform(0.2, 2.0))
        return
    wait_for_train_steps(metrics, _train_rows(metrics) + more)
    time.sleep(rng.uniform(0.0, 0.04))


@pytest.mark.slow
def test_twenty_kills_and_full_disks_then_a_finish_equal_a_run_never_stopped(tiny_data, tmp_path):
    out, rng = tmp_path / "faulty", random.Random(0)
    inside_writes = 0
    for i in range(KILLS + DISK_FULLS):
        if i in (6, 14):  # the disk fills: the write fails, the run stops with one line
            done = subprocess.run(  # (loader workers' shared memory would fill first)
                [*_command(tiny_data, out), "--set", "data.num_workers=0"],
                capture_output=True,
                text=True,
                preexec_fn=_limit_file_size,
                timeout=300,
            )
            assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-1500:]
            continue
        command = _command(tiny_data, out)
        if i % 2:  # dies inside a checkpoint write
            die_at = str(rng.randint(1, 6))
            command = [sys.executable, "-c", DIE_IN_A_WRITE, die_at, *command[3:]]
            done = subprocess.run(command, capture_output=True, timeout=300)
            assert done.returncode == -signal.SIGKILL, (
                i,
                die_at,
                done.stdout[-500:],
                done.stderr[-1500:],
            )
            inside_writes += 1
            continue
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for_a_random_point(proc, out / "metrics.jsonl", rng)
        assert proc.poll() is None, f"kill {i}: the run ended before it was killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert inside_writes == 11  # and 9 at random points: 20 SIGKILLs
    last = subprocess.run(
        _command(tiny_data, out),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert last.returncode == 0, last.stderr[-2000:]
    Trainer(load_config(None, tiny_overrides(tiny_data, tmp_path / "whole", **SETTINGS))).fit()
    a = load_training_checkpoint(tmp_path / "whole" / "checkpoint.pt")
    b = load_training_checkpoint(out / "checkpoint.pt")
    assert a["step"] == b["step"]
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert not [p.name for p in out.iterdir() if ".tmp" in p.name]
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in rows if r["kind"] == "train"]
    assert steps == list(range(1, a["step"] + 1))
