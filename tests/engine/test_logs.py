"""Logs people can read: progress lines (not carriage returns) off a terminal, TensorBoard
closed and optional, a confusion figure of bounded size."""

import io
import json
import time

import pytest
from PIL import Image

from tests.engine.conftest import tiny_overrides
from videoformer.engine.config import load_config
from videoformer.engine.plots import most_confused, plot_confusion
from videoformer.engine.train import Trainer
from videoformer.progress import Progress


def test_progress_off_a_terminal_writes_a_line_every_interval():
    stream = io.StringIO()
    bar = Progress(range(5), 5, "epoch 1/2", interval=0.05, stream=stream)
    for i in bar:
        bar.set_postfix(loss=f"{1 / (i + 1):.3f}")
        time.sleep(0.03)
    bar.close()
    lines = stream.getvalue().splitlines()
    assert "\\r" not in stream.getvalue() and 2 <= len(lines) <= 4
    assert lines[-1].startswith("epoch 1/2: 5/5, loss=0.200, ") and lines[-1].endswith("ETA 0 s")


def test_tensorboard_can_be_switched_off(tiny_data, tmp_path):
    cfg = load_config(
        None,
        tiny_overrides(tiny_data, tmp_path / "run", max_steps=2, **{"logging.tensorboard": False}),
    )
    Trainer(cfg).fit()
    assert not (tmp_path / "run" / "tensorboard").exists()


def test_confusion_figure_of_many_classes_shows_the_most_confused(tmp_path):
    n = 400
    confusion = [[0] * n for _ in range(n)]
    for c in range(n):
        confusion[c][c] = 5
    confusion[17][3] = 4  # the errors: 17 -> 3 and 250 -> 251
    confusion[250][251] = 2
    keep = most_confused(confusion, 30)
    assert len(keep) == 30 and {3, 17, 250, 251} <= set(keep)
    plot_confusion(confusion, None, tmp_path / "c.png")
    with Image.open(tmp_path / "c.png") as img:
        assert max(img.size) <= 1600  # was 0.45 * 400 + 2 inches: 18,200 pixels


def test_weights_and_biases_gets_the_rows(tiny_data, tmp_path, monkeypatch):
    """With logging.wandb set and wandb importable (a stand-in recording the calls here)."""
    import sys
    import types

    calls = []

    class Run:
        def log(self, values, step):
            calls.append(("log", step, sorted(values)))

        def finish(self):
            calls.append(("finish",))

    fake = types.ModuleType("wandb")
    fake.init = lambda **kwargs: calls.append(("init", kwargs["project"])) or Run()
    monkeypatch.setitem(sys.modules, "wandb", fake)
    cfg = load_config(
        None,
        tiny_overrides(
            tiny_data,
            tmp_path / "run",
            max_steps=2,
            **{"logging.wandb": "my-project", "logging.tensorboard": False},
        ),
    )
    Trainer(cfg).fit()
    assert calls[0] == ("init", "my-project") and calls[-1] == ("finish",)
    assert [c[1] for c in calls if c[0] == "log"] == [1, 2]
    assert calls[1][2] == ["train/clips_per_s", "train/loss", "train/lr"]


def test_smoothed_loss_follows_the_trend():
    from videoformer.engine.plots import smooth

    values = [float(v) for v in range(100, 0, -1)]
    smoothed = smooth(values)
    assert smoothed[0] == values[0] and all(a >= b for a, b in zip(smoothed, smoothed[1:]))


def test_a_run_reports_its_start_and_each_evaluation_without_verbose(tiny_data, tmp_path, capsys):
    """The summary line and one line per evaluation, and the logged lr is the base lr
    (the classifier's), not the first parameter group's after layer decay."""
    from videoformer.cli import main

    out = tmp_path / "run"
    sets = tiny_overrides(tiny_data, out, **{"optim.layer_decay": 0.5, "schedule.epochs": 2})
    assert main(["train", *sum((["--set", o] for o in sets), [])]) == 0
    err = capsys.readouterr().err
    assert "training timesformer (" in err and "parameters, 10 classes) on 30 clips" in err
    assert "evaluating 10 videos x 1 views" in err
    evals = [line for line in err.splitlines() if "mean class accuracy" in line]
    assert [line.split(":")[0] for line in evals] == ["epoch 1/2", "epoch 2/2"]
    rows = [json.loads(r) for r in (out / "metrics.jsonl").read_text().splitlines()]
    first = next(r for r in rows if r["kind"] == "train")
    # warm-up-free cosine: the first step's lr is optim.lr (1e-3) times the schedule factor
    from videoformer.engine.config import ScheduleConfig
    from videoformer.engine.optim import lr_factor

    assert first["lr"] == pytest.approx(1e-3 * lr_factor(1, 7, ScheduleConfig(epochs=2)))
