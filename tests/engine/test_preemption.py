"""Surviving preemption and bad checkpoints: SIGTERM checkpoints and exits 0, resume falls
back to the checkpoint before a bad one, a failed write leaves the last good checkpoint,
a changed config is refused naming the fields."""

import errno
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from tests.engine.conftest import tiny_overrides, wait_for_train_steps
from videoformer.engine import checkpointing
from videoformer.engine.checkpointing import load_training_checkpoint
from videoformer.engine.config import ConfigChanged, load_config
from videoformer.engine.train import Trainer

RANDOM = {
    "model_overrides": "{img_size: 32, patch_size: 8, num_frames: 4, embed_dim: 32, depth: 1, "
    "num_heads: 2, drop_path_rate: 0.3, drop_rate: 0.1}",
    "mixup_alpha": 0.8,
    "data.rand_augment": "[2, 9]",
}


def weights(out):
    return load_training_checkpoint(out / "checkpoint.pt")["model"]


def assert_equal_runs(a, b):
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_sigterm_checkpoints_exits_0_and_resumes_exactly(tiny_data, tmp_path):
    args = tiny_overrides(tiny_data, tmp_path / "term", **{"schedule.epochs": 3}, **RANDOM)
    cmd = [sys.executable, "-m", "videoformer", "train", *sum((["--set", a] for a in args), [])]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    metrics = tmp_path / "term" / "metrics.jsonl"
    wait_for_train_steps(metrics, 3)
    os.kill(proc.pid, signal.SIGTERM)
    time.sleep(0.05)  # SLURM and torchrun may signal the whole group: a second one
    os.kill(proc.pid, signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-2000:]
    stopped = load_training_checkpoint(tmp_path / "term" / "checkpoint.pt")["step"]
    assert f"preempted (SIGTERM) after step {stopped}" in out and 3 <= stopped < 21
    rows = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert max(r["step"] for r in rows if r["kind"] == "train") == stopped  # no step lost or redone
    resumed = subprocess.run(cmd + ["--resume"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    Trainer(
        load_config(
            None, tiny_overrides(tiny_data, tmp_path / "whole", **{"schedule.epochs": 3}, **RANDOM)
        )
    ).fit()
    assert_equal_runs(weights(tmp_path / "whole"), weights(tmp_path / "term"))


@pytest.mark.parametrize("damage", ["truncated", "another_model", "older_format"])
def test_a_bad_checkpoint_falls_back_to_the_one_before(tiny_data, tmp_path, damage, caplog):
    run = tmp_path / "run"
    Trainer(
        load_config(
            None, tiny_overrides(tiny_data, run, max_steps=10, checkpoint_every=1, **RANDOM)
        )
    ).fit()
    latest, previous = run / "checkpoint.pt", run / "checkpoint.prev.pt"
    assert load_training_checkpoint(previous)["step"] == 10  # max_steps saves once more
    if damage == "truncated":
        latest.write_bytes(latest.read_bytes()[:1000])
    elif damage == "another_model":
        ckpt = load_training_checkpoint(latest)
        ckpt["model"] = {k: torch.zeros(1) for k in ckpt["model"]}
        torch.save(ckpt, latest)
    else:
        ckpt = load_training_checkpoint(latest)
        del ckpt["rng"]
        torch.save(ckpt, latest)
    trainer = Trainer(load_config(None, tiny_overrides(tiny_data, run, **RANDOM)), resume=True)
    assert "cannot resume from" in caplog.text and str(latest) in caplog.text
    assert f"resumed from the previous checkpoint {previous}" in caplog.text
    assert trainer.state.step == 10
    trainer.fit()
    Trainer(load_config(None, tiny_overrides(tiny_data, tmp_path / "whole", **RANDOM))).fit()
    assert_equal_runs(weights(tmp_path / "whole"), weights(run))


def test_a_failed_write_leaves_the_last_checkpoint(tiny_data, tmp_path, monkeypatch):
    run = tmp_path / "run"
    trainer = Trainer(load_config(None, tiny_overrides(tiny_data, run, max_steps=2)))
    trainer.fit()
    before = (run / "checkpoint.pt").read_bytes()

    def disk_full(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpointing.torch, "save", disk_full)
    with pytest.raises(OSError, match="No space left"):
        trainer.save()
    assert (run / "checkpoint.pt").read_bytes() == before
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(".")) == []


def test_a_file_size_limit_surfaces_as_the_files_error_not_torchs(tmp_path):
    """torch.save swallows the OSError of a failed write and raises "unexpected pos";
    atomic_save raises the OSError itself (the CLI's one line for a full disk)."""
    script = (
        "import resource, sys, torch\n"
        "from videoformer.engine.checkpointing import atomic_save\n"
        "atomic_save({'w': torch.zeros(10)}, sys.argv[1])\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))\n"
        "try:\n"
        "    atomic_save({'w': torch.zeros(100_000)}, sys.argv[1])\n"
        "except OSError as e:\n"
        "    print(type(e).__name__, e.errno)\n"
    )
    path = tmp_path / "checkpoint.pt"
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True)
    assert done.stdout.split() == ["OSError", str(errno.EFBIG)], done.stderr[-1500:]
    assert torch.load(path, weights_only=True)["w"].shape == (10,)
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]


def test_resume_with_a_changed_config_names_the_fields(tiny_data, tmp_path):
    run = tmp_path / "run"
    Trainer(load_config(None, tiny_overrides(tiny_data, run, max_steps=3))).fit()
    config_before = (run / "config.yaml").read_text()
    changed = tiny_overrides(tiny_data, run, **{"optim.lr": 0.01, "batch_size": 2})
    with pytest.raises(
        ConfigChanged, match=r"batch_size: 4 in the checkpoint, 2 now; optim.lr: 0.001 .* 0.01 now"
    ):
        Trainer(load_config(None, changed), resume=True)
    assert (run / "config.yaml").read_text() == config_before
    longer = tiny_overrides(tiny_data, run, **{"schedule.epochs": 3, "data.num_workers": 1})
    assert Trainer(load_config(None, longer), resume=True).state.step == 3  # safe changes


def test_resume_clears_what_a_killed_run_left(tiny_data, tmp_path):
    """A SIGKILL leaves temporary checkpoints (full size) and metric rows of steps the
    checkpoint does not hold; resuming removes the first and logs each step once."""
    run = tmp_path / "run"
    Trainer(
        load_config(None, tiny_overrides(tiny_data, run, max_steps=3, checkpoint_every=1))
    ).fit()
    orphan = run / ".checkpoint.pt.tmp-999999"
    orphan.write_bytes(b"half a checkpoint")
    with open(run / "metrics.jsonl", "a") as f:  # steps 4 and 5 were logged, then the kill
        for step in (4, 5):
            f.write(json.dumps({"kind": "train", "epoch": 0, "step": step, "loss": 1.0}) + "\n")
    Trainer(load_config(None, tiny_overrides(tiny_data, run)), resume=True).fit()
    assert not orphan.exists()
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in rows if r["kind"] == "train"]
    assert steps == list(range(1, 15))  # each step once, in order


def test_resume_follows_moved_data_and_refuses_other_data(tiny_data, tmp_path):
    import shutil

    from videoformer.engine.config import ConfigChanged

    run = tmp_path / "run"
    Trainer(load_config(None, tiny_overrides(tiny_data, run, max_steps=3))).fit()
    moved = tmp_path / "moved"
    shutil.copytree(tiny_data, moved)
    assert Trainer(load_config(None, tiny_overrides(moved, run)), resume=True).state.step == 3
    first = sorted((moved / "videos" / "growing").glob("*.mp4"))[0]
    first.write_bytes(first.read_bytes() + b"\0")  # another file under the same name
    with pytest.raises(ConfigChanged, match="is not what this run trained on"):
        Trainer(load_config(None, tiny_overrides(moved, run)), resume=True)
