"""Engine: a tiny run end to end, exact resume (also after SIGKILL), non-finite losses."""

import json
import subprocess
import sys

import pytest
import torch

from tests.engine.conftest import STOCHASTIC, tiny_overrides, wait_for_checkpoint_step
from videoformer.engine.checkpointing import load_training_checkpoint
from videoformer.engine.config import load_config
from videoformer.engine.train import NonFiniteLossError, Trainer


def weights(out):
    return load_training_checkpoint(out / "checkpoint.pt")["model"]


def test_tiny_run_writes_everything(tiny_data, tmp_path):
    out = tmp_path / "run"
    cfg = load_config(None, tiny_overrides(tiny_data, out))
    result = Trainer(cfg).fit()
    assert 0.0 <= result["top1"] <= 1.0 and result["num_videos"] == 10
    for name in (
        "config.yaml",
        "checkpoint.pt",
        "metrics.jsonl",
        "curves.png",
        "eval.json",
        "eval_confusion.png",
        "model.safetensors",
    ):
        assert (out / name).is_file(), name
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r["kind"] == "train"] == list(
        range(1, 15)
    )  # 30 clips // 4 = 7 an epoch
    assert sum(r["kind"] == "eval" for r in rows) == 2
    ckpt = load_training_checkpoint(out / "checkpoint.pt")
    assert ckpt["epoch"] == 2 and ckpt["step"] == 14 and ckpt["meta"]["labels"][0] == "moving_left"


def test_resume_mid_epoch_is_bitwise_identical(tiny_data, tmp_path):
    whole = load_config(None, tiny_overrides(tiny_data, tmp_path / "whole"))
    Trainer(whole).fit()
    first = load_config(None, tiny_overrides(tiny_data, tmp_path / "parts", max_steps=10))
    Trainer(first).fit()  # stops in the middle of epoch 2 and checkpoints
    assert load_training_checkpoint(tmp_path / "parts" / "checkpoint.pt")["batch_in_epoch"] == 3
    rest = load_config(None, tiny_overrides(tiny_data, tmp_path / "parts"))
    Trainer(rest, resume=True).fit()
    a, b = weights(tmp_path / "whole"), weights(tmp_path / "parts")
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("kill_after_step", [3])
def test_sigkill_then_resume_matches_an_uninterrupted_run(tiny_data, tmp_path, kill_after_step):
    """Killed with SIGKILL (no chance to save) mid-epoch, resumed: bitwise the weights of a
    run never stopped, with stochastic depth, dropout, mixup/cutmix, RandAugment and two
    loader workers."""
    args = tiny_overrides(
        tiny_data, tmp_path / "killed", checkpoint_every=1, **{"schedule.epochs": 3}, **STOCHASTIC
    )
    cmd = [sys.executable, "-m", "videoformer", "train", *sum((["--set", a] for a in args), [])]
    log = tmp_path / "killed.stderr"
    with log.open("wb") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
    ckpt = tmp_path / "killed" / "checkpoint.pt"
    try:
        wait_for_checkpoint_step(proc, ckpt, kill_after_step, log)
    finally:
        proc.kill()  # SIGKILL
        proc.wait()
    stopped_at = load_training_checkpoint(ckpt)["step"]
    assert kill_after_step <= stopped_at < 21
    resumed = subprocess.run(cmd + ["--resume"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    whole = load_config(
        None,
        tiny_overrides(tiny_data, tmp_path / "whole", **{"schedule.epochs": 3}, **STOCHASTIC),
    )
    Trainer(whole).fit()
    a, b = weights(tmp_path / "whole"), weights(tmp_path / "killed")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_nonfinite_loss_stops_and_names_the_step(tiny_data, tmp_path):
    cfg = load_config(None, tiny_overrides(tiny_data, tmp_path / "nan"))
    trainer = Trainer(cfg)
    with torch.no_grad():
        trainer.model.head.bias.fill_(float("nan"))
    with pytest.raises(
        NonFiniteLossError, match="loss is nan at epoch 0, step 0.*no checkpoint was written yet"
    ):
        trainer.fit()


def test_nonfinite_loss_can_skip_steps(tiny_data, tmp_path):
    cfg = load_config(
        None, tiny_overrides(tiny_data, tmp_path / "skip", nonfinite="skip", max_steps=2)
    )
    trainer = Trainer(cfg)
    with torch.no_grad():
        trainer.model.head.bias.fill_(float("nan"))
    before = trainer.model.blocks[0].attn.qkv.weight.clone()
    trainer.train_epoch()
    assert trainer.state.step == 0 and trainer.state.batch_in_epoch == 7
    assert torch.equal(trainer.model.blocks[0].attn.qkv.weight, before)


def test_config_errors_name_the_key():
    with pytest.raises(
        ValueError, match=r"config.optim: unknown key\(s\) \['learning_rate'\]; valid: name, lr"
    ):
        load_config(None, ["optim.learning_rate=0.1"])
    with pytest.raises(ValueError, match="precision = 'half' is not one of fp32, bf16, fp16"):
        load_config(None, ["precision=half"])
    with pytest.raises(FileNotFoundError, match="packaged recipes: demo"):
        load_config("no_such_recipe")


def test_packaged_recipes_load():
    for name in (
        "demo",
        "timesformer_k400",
        "timesformer_ssv2",
        "video_swin_k400",
        "perceiver_imagenet",
    ):
        cfg = load_config(name)
        assert cfg.source, name
    assert load_config("timesformer_k400").schedule.milestones == (11, 14)


def test_audiovisual_multilabel_training_and_map(tmp_path):
    """A tiny audio+video Perceiver trains with BCE on AudioSet-style data; eval reports mAP."""
    from tests.conftest import write_av

    root = tmp_path / "as"
    root.mkdir()
    rows = []
    for i in range(6):
        write_av(root / f"v{i}.mp4", seconds=1.0, tone_hz=300 + 200 * i)
        rows.append(f'v{i}, 0, 10, "{["/m/a", "/m/b", "/m/a,/m/b"][i % 3]}"')
    (root / "labels.csv").write_text("index,mid,display_name\n0,/m/a,Speech\n1,/m/b,Music\n")
    (root / "segs.csv").write_text("\n".join(rows) + "\n")
    inputs = (
        "[{name: video, layout: BCS, channels: 3, patch_size: [2, 8, 8], num_bands: 4,"
        " max_resolution: [2, 4, 4]},"
        " {name: audio, layout: BS, channels: 1, patch_size: [64], num_bands: 4,"
        " max_resolution: [32]}]"
    )
    cfg = load_config(
        None,
        [
            "model=perceiver",
            f"model_overrides={{inputs: {inputs}, num_latents: 8, latent_dim: 32,"
            " num_cross_attends: 2, latent_blocks_per_cross_attend: 1, latent_heads: 2,"
            " share_cross_weights: false, "
            "share_latent_weights: false}",
            "multi_label=true",
            "data.dataset=audioset",
            f"data.root={root}",
            "data.train=segs.csv",
            "data.val=segs.csv",
            "data.labels=labels.csv",
            "data.clip=4x2x1",
            "data.size=32",
            "data.short_side=[32, 32]",
            "data.test_short_side=32",
            "data.audio_samples=2048",
            "data.sample_rate=16000",
            "data.num_workers=0",
            "batch_size=3",
            "schedule.epochs=1",
            f"out={tmp_path / 'run'}",
        ],
    )
    result = Trainer(cfg).fit()
    assert 0.0 <= result["mAP"] <= 1.0 and result["num_videos"] == 6
    assert json.loads((tmp_path / "run" / "eval.json").read_text())["aggregate"] == "mean_sigmoid"


@pytest.mark.slow
def test_training_with_compile_writes_plain_checkpoints(tiny_data, tmp_path):
    from safetensors.torch import load_file

    cfg = load_config(None, tiny_overrides(tiny_data, tmp_path / "run", max_steps=2, compile=True))
    Trainer(cfg).fit()
    keys = load_training_checkpoint(tmp_path / "run" / "checkpoint.pt")["model"]
    assert keys and not any(k.startswith(("_orig_mod.", "module.")) for k in keys)
    assert not any(
        k.startswith("_orig_mod.") for k in load_file(tmp_path / "run" / "model.safetensors")
    )


def test_constructing_a_trainer_writes_nothing(tiny_data, tmp_path):
    """Every input is checked and the run is built in memory; the first write is fit's."""
    out = tmp_path / "run"
    trainer = Trainer(load_config(None, tiny_overrides(tiny_data, out, max_steps=1)))
    assert trainer.model is not None and not out.exists()
    trainer.fit()
    assert (out / "config.yaml").is_file() and (out / "checkpoint.pt").is_file()


def test_a_missing_synthetic_set_is_written_by_train_after_the_checks(tmp_path):
    from videoformer.engine.train import train

    root, out = tmp_path / "data", tmp_path / "run"
    overrides = tiny_overrides(root, out, max_steps=1, **{"data.synthetic_per_class": 2})
    with pytest.raises(FileNotFoundError, match="synthetic set is not written yet"):
        Trainer(load_config(None, overrides))  # Trainer() itself writes nothing
    assert not root.exists() and not out.exists()
    train(load_config(None, overrides))
    assert (root / "train.csv").is_file() and (out / "model.safetensors").is_file()
