"""The fine-tuning recipe end to end at tiny scale: class folders of videos, a tiny
official-layout checkpoint from a file, a new head, training, predictions with names."""

import shutil

import pytest
import torch

from videoformer import create_model
from videoformer.cli import main
from videoformer.engine.checkpointing import load_training_checkpoint
from videoformer.engine.config import load_config
from videoformer.engine.train import Trainer

TINY = "{img_size: 32, patch_size: 8, num_frames: 4, embed_dim: 32, depth: 2, num_heads: 2}"
CLASSES = ("growing", "moving_left", "rotating_clockwise")


@pytest.fixture
def folders(tiny_data, tmp_path):
    """root/{train,val}/<class>/*.mp4 from the tiny synthetic set (3 classes)."""
    root = tmp_path / "my_videos"
    for cls in CLASSES:
        files = sorted((tiny_data / "videos" / cls).glob("*.mp4"))
        for split, chosen in (("train", files[:3]), ("val", files[3:])):
            (root / split / cls).mkdir(parents=True)
            for f in chosen:
                shutil.copy(f, root / split / cls / f.name)
    return root


@pytest.fixture
def official_file(tmp_path):
    """A tiny Kinetics-style TimeSformer in the official .pyth layout (400-way head)."""
    model = create_model(
        "timesformer",
        img_size=32,
        patch_size=8,
        num_frames=4,
        embed_dim=32,
        depth=2,
        num_heads=2,
        num_classes=400,
    )
    path = tmp_path / "tiny_k400.pyth"
    torch.save({"model_state": {f"model.{k}": v for k, v in model.state_dict().items()}}, path)
    return path, model


def recipe(folders, official, out, **extra):
    overrides = {
        "data.root": folders,
        "pretrained": official,
        "model_overrides": TINY,
        "data.clip": "4x2x1",
        "data.size": 32,
        "data.short_side": "[32, 36]",
        "data.test_short_side": 32,
        "data.num_workers": 0,
        "batch_size": 3,
        "schedule.epochs": 2,
        "out": out,
        **extra,
    }
    return load_config("finetune_folders", [f"{k}={v}" for k, v in overrides.items()])


def test_finetune_on_class_folders_predicts_names(folders, official_file, tmp_path, capsys):
    path, official = official_file
    trainer = Trainer(recipe(folders, path, tmp_path / "run"))
    report = trainer.model.load_report
    assert report.layout == "timesformer_official" and trainer.model.head.out_features == 3
    assert [r.split(":")[0] for r in report.reinitialised] == ["head.bias", "head.weight"]
    assert torch.equal(trainer.model.blocks[1].attn.qkv.weight, official.blocks[1].attn.qkv.weight)
    assert {g["lr_mult"] for g in trainer.optimizer.param_groups} >= {0.75**3, 1.0}  # layer decay
    trainer.fit()
    rows = [r for r in trainer.state.history if r["kind"] == "eval"]
    assert [r["epoch"] for r in rows] == [1, 2]  # evaluated every epoch
    ckpt = load_training_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert ckpt["meta"]["labels"] == list(CLASSES)
    video = sorted((folders / "val" / "growing").glob("*.mp4"))[0]
    assert (
        main(
            [
                "predict",
                str(video),
                "--checkpoint",
                str(tmp_path / "run" / "model.safetensors"),
                "--topk",
                "3",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert all(name in printed for name in CLASSES)


def test_wrong_folder_layout_names_the_layout_and_the_path(folders, official_file, tmp_path):
    for name in CLASSES:
        shutil.rmtree(folders / "val" / name)
    (folders / "val" / "stray.mp4").write_bytes(b"")
    with pytest.raises(
        ValueError, match=r"val has no class folders \(expected .*/val/<class>/<file>"
    ):
        Trainer(recipe(folders, official_file[0], tmp_path / "run"))
    (folders / "val" / "growing").mkdir()
    with pytest.raises(ValueError, match=r"val/growing has no files of a known kind"):
        Trainer(recipe(folders, official_file[0], tmp_path / "run"))
    assert not (tmp_path / "run").exists()  # refused before anything was written
