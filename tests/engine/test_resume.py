"""Exact resume under the randomness real recipes use: each setting alone and all together,
stopped mid-epoch and at an epoch boundary, resumed, compared bitwise with a run never
stopped (CPU)."""

import pytest
import torch

from tests.engine.conftest import tiny_overrides
from videoformer.engine.checkpointing import load_training_checkpoint
from videoformer.engine.config import load_config
from videoformer.engine.train import Trainer

STOCHASTIC_MODEL = (
    "{img_size: 32, patch_size: 8, num_frames: 4, embed_dim: 32, depth: 2, num_heads: 2, "
    "drop_path_rate: 0.3, drop_rate: 0.1, attn_drop_rate: 0.1}"
)
SETTINGS = {
    "stochastic_depth": {
        "model_overrides": STOCHASTIC_MODEL.replace(
            "drop_rate: 0.1, attn_drop_rate: 0.1", ""
        ).replace(", }", "}")
    },
    "dropout": {
        "model_overrides": STOCHASTIC_MODEL.replace("drop_path_rate: 0.3, ", "").replace(
            "attn_drop_rate: 0.1", "attn_drop_rate: 0.0"
        )
    },
    "attention_dropout": {
        "model_overrides": STOCHASTIC_MODEL.replace("drop_path_rate: 0.3, drop_rate: 0.1, ", "")
    },
    "mixup_cutmix": {"mixup_alpha": 0.8, "cutmix_alpha": 1.0},
    "rand_augment": {"data.rand_augment": "[2, 9]"},
    "random_erasing": {"data.erase_prob": 0.5},
    "label_smoothing": {"label_smoothing": 0.1},
    "ema": {"ema_decay": 0.9},
    "accumulation": {"optim.accum_steps": 2, "batch_size": 2},
    "loader_workers": {"data.num_workers": 2, "data.rand_augment": "[2, 9]"},
    "bf16_autocast": {"precision": "bf16"},
}
ALL = {k: v for setting in SETTINGS.values() for k, v in setting.items()} | {
    "model_overrides": STOCHASTIC_MODEL,
    "data.rand_augment": "[2, 9]",
}


def final_weights(out):
    return load_training_checkpoint(out / "checkpoint.pt")


def run(data, out, resume_from_step=None, **extra):
    """An uninterrupted run, or one stopped after ``resume_from_step`` steps and resumed."""
    if resume_from_step is not None:
        Trainer(
            load_config(None, tiny_overrides(data, out, max_steps=resume_from_step, **extra))
        ).fit()
        Trainer(load_config(None, tiny_overrides(data, out, **extra)), resume=True).fit()
    else:
        Trainer(load_config(None, tiny_overrides(data, out, **extra))).fit()
    return final_weights(out)


def assert_same(a, b):
    for part in ("model", "ema"):
        if a[part] is None:
            continue
        different = [k for k, v in a[part].items() if not torch.equal(v, b[part][k])]
        assert not different, f"{part}: {different[:5]}"
    assert a["step"] == b["step"]


# By default every setting at once; each one alone (the whole matrix) in the slow run.
@pytest.mark.parametrize(
    "setting", ["all", *(pytest.param(name, marks=pytest.mark.slow) for name in SETTINGS)]
)
def test_resume_is_bitwise_under_each_setting(tiny_data, tmp_path, setting):
    extra = ALL if setting == "all" else SETTINGS[setting]
    steps_per_epoch = (
        30 // extra.get("batch_size", 4) // extra.get("optim.accum_steps", 1)
    )  # 30 clips
    whole = run(tiny_data, tmp_path / "whole", **extra)
    for stop in (steps_per_epoch, steps_per_epoch + 3):  # at the epoch boundary, mid-epoch
        resumed = run(tiny_data, tmp_path / f"stop{stop}", resume_from_step=stop, **extra)
        assert_same(whole, resumed)
