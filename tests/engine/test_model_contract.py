"""A family the engine and the tools have never heard of trains with layer-wise lr decay,
gradient checkpointing and FSDP, and goes through save, load, predict, explain, convert
and export, from what the model and its layouts declare (tests/engine/toy_family.py)."""

import pytest
import torch
from torch.distributed.fsdp import FSDPModule

import videoformer
from tests.engine import toy_family
from tests.engine.conftest import free_port, run_worker, tiny_overrides
from videoformer.cli import main
from videoformer.convert import layouts
from videoformer.data.synthetic import write_video
from videoformer.engine.checkpointing import load_training_checkpoint
from videoformer.engine.config import load_config
from videoformer.engine.train import Trainer
from videoformer.models import registry

TOY = {
    "model": "toy_video",
    "model_overrides": "{}",
    "optim.layer_decay": 0.5,
    "grad_checkpointing": True,
    "max_steps": 1,
    "schedule.epochs": 1,
}


@pytest.fixture
def toy_registered(monkeypatch):
    monkeypatch.setattr(registry, "_MODELS", dict(registry._MODELS))
    monkeypatch.setattr(registry, "_FAMILY_BASE", dict(registry._FAMILY_BASE))
    monkeypatch.setattr(layouts, "LAYOUTS", list(layouts.LAYOUTS))
    toy_family.register()


def test_toy_family_goes_through_every_tool(toy_registered, tmp_path, capsys):
    """save_model, load_model, Predictor and predict, explain, convert from a foreign
    layout, ONNX export: none of them names the family."""
    labels = ["a", "b", "c"]
    model = videoformer.create_model("toy_video", num_classes=3).eval()
    model.label_names = labels
    x = torch.randn(2, 3, 4, 32, 32)
    saved = videoformer.save_model(model, tmp_path / "toy.safetensors")
    loaded = videoformer.load_model(saved)
    torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)
    assert loaded.label_names == labels and isinstance(loaded, toy_family.ToyVideo)

    frames = torch.randint(0, 256, (12, 40, 48, 3), dtype=torch.uint8).numpy()
    write_video(tmp_path / "clip.mp4", frames)
    prediction = videoformer.Predictor(saved).predict(tmp_path / "clip.mp4", topk=3)
    assert sorted(label for label, _ in prediction.topk) == labels
    assert sum(p for _, p in prediction.topk) == pytest.approx(1.0)
    assert main(["predict", str(tmp_path / "clip.mp4"), "--checkpoint", str(saved)]) == 0

    explanation = videoformer.explain(saved, tmp_path / "clip.mp4", target="b")
    assert explanation.tokens.shape == (4, 4, 4) and explanation.label == "b"
    assert explanation.method == "Grad-CAM of the last block"
    with pytest.raises(ValueError, match="relevance methods: grad_cam; got 'rollout'"):
        videoformer.explain(saved, tmp_path / "clip.mp4", method="rollout")

    torch.save(toy_family.to_foreign(model.state_dict()), tmp_path / "foreign.pth")
    converted = tmp_path / "converted.safetensors"
    argv = [
        "convert",
        str(tmp_path / "foreign.pth"),
        "--model",
        "toy_video",
        "--out",
        str(converted),
    ]
    assert main(argv) == 0
    assert "layout toy_foreign" in capsys.readouterr().out
    torch.testing.assert_close(videoformer.load_model(converted)(x), model(x), rtol=0, atol=0)

    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from videoformer.inference.export import export_onnx

    assert export_onnx(loaded, tmp_path / "toy.onnx").relative_diff < 1e-5


def test_toy_family_trains_with_layer_decay_and_checkpointing(toy_registered, tiny_data, tmp_path):
    trainer = Trainer(load_config(None, tiny_overrides(tiny_data, tmp_path / "toy", **TOY)))
    model = trainer.model
    assert isinstance(model, toy_family.ToyVideo) and model.num_layers == 3
    mult = {n: g["lr_mult"] for g in trainer.optimizer.param_groups for n in g["names"]}
    decay = {n: g["weight_decay"] > 0 for g in trainer.optimizer.param_groups for n in g["names"]}
    assert mult["to_tokens.weight"] == mult["frame_embed"] == 0.5**4  # stem: layer 0 of L = 3
    assert [mult[f"stages.{i}.fc.weight"] for i in range(3)] == [0.5**3, 0.5**2, 0.5]
    assert mult["norm.weight"] == mult["head.weight"] == 1.0
    assert decay["to_tokens.weight"] and decay["stages.0.fc.weight"] and decay["head.weight"]
    assert not decay["frame_embed"] and not decay["stages.0.fc.bias"] and not decay["norm.weight"]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    toy_family.ToyBlock.calls = 0
    trainer.train_epoch()
    assert trainer.state.step == 1
    assert toy_family.ToyBlock.calls == 2 * 3  # every block ran again during backward
    assert all(not torch.equal(before[k], v) for k, v in model.state_dict().items())


def _toy_worker(rank: int, world: int, port: int, overrides: list[str]) -> None:
    toy_family.register()
    original = Trainer.__init__

    def init_and_check(self, *args, **kwargs):  # the blocks the model declares are sharded
        original(self, *args, **kwargs)
        blocks = [m for m in self.model.modules() if isinstance(m, toy_family.ToyBlock)]
        assert len(blocks) == 3 and all(isinstance(b, FSDPModule) for b in blocks)

    Trainer.__init__ = init_and_check
    run_worker(rank, world, port, overrides)


def test_toy_family_under_fsdp_equals_one_process(toy_registered, tiny_data, tmp_path):
    import torch.multiprocessing as mp

    common = {
        **TOY,
        "max_steps": 2,
        "optim.name": "sgd",
        "optim.lr": 0.1,
        "optim.weight_decay": 0.0,
    }
    single = load_config(
        None, tiny_overrides(tiny_data, tmp_path / "single", batch_size=4, **common)
    )
    Trainer(single).fit()
    sharded = tiny_overrides(
        tiny_data, tmp_path / "fsdp", batch_size=2, distributed="fsdp", **common
    )
    mp.start_processes(_toy_worker, args=(2, free_port(), sharded), nprocs=2, start_method="spawn")
    a = load_training_checkpoint(tmp_path / "single" / "checkpoint.pt")
    b = load_training_checkpoint(tmp_path / "fsdp" / "checkpoint.pt")
    assert a["step"] == b["step"] == 2
    for k, v in a["model"].items():
        torch.testing.assert_close(b["model"][k], v, atol=1e-6, rtol=0)
