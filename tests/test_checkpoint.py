"""load_checkpoint and create_model(pretrained=...): layouts, containers, strictness, reports."""

import pytest
import torch
from safetensors.torch import save_file

from tests.conftest import GOLDEN, build_from_golden, load_golden
from videoformer import CheckpointError, create_model, load_checkpoint

TINY = dict(
    img_size=32, patch_size=8, num_frames=4, embed_dim=32, depth=2, num_heads=2, num_classes=5
)


def test_hf_model_directory_sets_config_labels_and_logits():
    """An HF save_pretrained directory: config.json gives the fields, id2label the names."""
    ref = torch.load(GOLDEN / "hf_timesformer" / "reference.pt", weights_only=True)
    model = create_model("timesformer", pretrained=GOLDEN / "hf_timesformer").eval()
    assert (model.config.embed_dim, model.config.depth, model.config.num_classes) == (48, 2, 6)
    assert model.load_report.layout == "timesformer_hf"
    assert model.load_report.labels == ["left", "right", "up", "down", "grow", "shrink"]
    with torch.no_grad():
        out = model(ref["input"])
    torch.testing.assert_close(out, ref["output"], atol=1e-5, rtol=0)


def test_hf_directory_with_new_class_count_keeps_a_fresh_classifier():
    model = create_model("timesformer", pretrained=GOLDEN / "hf_timesformer", num_classes=3)
    assert model.head.out_features == 3
    assert any(
        r.startswith("head.weight: checkpoint (6, 48) -> model (3, 48)")
        for r in model.load_report.reinitialised
    )


def test_pretrained_without_num_classes_takes_the_checkpoints_head(tmp_path):
    """A K600-style file loaded into a variant whose default head is another size keeps
    its trained classifier instead of silently getting a random one."""
    trained = create_model("timesformer", **TINY).eval()
    torch.save(trained.state_dict(), tmp_path / "five.pt")
    shape = {k: v for k, v in TINY.items() if k != "num_classes"}
    model = create_model("timesformer", pretrained=tmp_path / "five.pt", **shape).eval()
    assert model.head.out_features == 5 and not model.load_report.reinitialised
    x = torch.randn(1, 3, 4, 32, 32)
    torch.testing.assert_close(model(x), trained(x), rtol=0, atol=0)


def test_own_safetensors_round_trip(tmp_path):
    model = create_model("timesformer", **TINY).eval()
    save_file(model.state_dict(), tmp_path / "w.safetensors")
    other = create_model("timesformer", **TINY).eval()
    report = load_checkpoint(other, tmp_path / "w.safetensors")
    assert report.layout == "timesformer_videoformer"
    x = torch.randn(1, 3, 4, 32, 32)
    torch.testing.assert_close(other(x), model(x), rtol=0, atol=0)


def test_ddp_prefix_and_state_dict_container_are_unwrapped():
    model = create_model("timesformer", **TINY)
    sd = {f"module.{k}": v for k, v in model.state_dict().items()}
    report = load_checkpoint(create_model("timesformer", **TINY), {"state_dict": sd, "epoch": 3})
    assert report.loaded == len(sd)


def test_missing_and_mismatched_keys_are_named():
    sd = create_model("timesformer", **TINY).state_dict()
    del sd["blocks.1.norm2.bias"]
    with pytest.raises(CheckpointError, match=r"missing keys: blocks\.1\.norm2\.bias"):
        load_checkpoint(create_model("timesformer", **TINY), sd)
    sd = create_model("timesformer", **TINY).state_dict()
    with pytest.raises(
        CheckpointError,
        match=r"head\.weight checkpoint \(5, 32\) vs model \(9, 32\).*ignore=\('head\.\*',\)",
    ):
        load_checkpoint(create_model("timesformer", **{**TINY, "num_classes": 9}), sd)


def test_ignore_keeps_the_model_init_and_is_reported():
    sd = create_model("timesformer", **TINY).state_dict()
    model = create_model("timesformer", **{**TINY, "num_classes": 9})
    head = model.head.weight.clone()
    report = load_checkpoint(model, sd, ignore=("head.*",))
    assert torch.equal(model.head.weight, head)
    assert report.ignored == ["head.bias", "head.weight"]


def test_non_strict_reports_instead_of_raising():
    sd = create_model("timesformer", **TINY).state_dict()
    sd["extra.weight"] = torch.zeros(1)
    del sd["norm.weight"]
    report = load_checkpoint(create_model("timesformer", **TINY), sd, strict=False)
    assert report.missing == ["norm.weight"] and report.unexpected == ["extra.weight"]


class Payload:
    """Stands for any object a malicious checkpoint could ask the unpickler to build."""


def test_pickled_objects_are_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"model": Payload()}, path)
    with pytest.raises(CheckpointError, match="cannot read as a weights-only checkpoint"):
        load_checkpoint(create_model("timesformer", **TINY), path)


def test_missing_file_and_unknown_layout():
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        load_checkpoint(create_model("timesformer", **TINY), "/nonexistent/w.pth")
    with pytest.raises(CheckpointError, match="no known timesformer checkpoint layout"):
        load_checkpoint(create_model("timesformer", **TINY), {"backbone.x": torch.zeros(1)})


def test_imagenet_vit_inflates_to_divided_attention():
    """A ViT (official/timm keys, no time_embed) initialises a divided TimeSformer. With
    temporal_fc and time_embed at zero, a clip of identical frames gives the ViT's output."""
    g = load_golden("timesformer_space_only")  # a ViT: space-only TimeSformer keys = ViT keys
    vit_sd = {k.removeprefix("model."): v for k, v in g["state_dict"].items()}
    vit = build_from_golden(g)
    load_checkpoint(vit, vit_sd)
    divided = build_from_golden(g, attention_type="divided_space_time", num_frames=8)
    report = load_checkpoint(divided, vit_sd)
    assert report.layout == "vit_imagenet"
    assert torch.equal(divided.blocks[1].temporal_attn.qkv.weight, vit.blocks[1].attn.qkv.weight)
    frame = torch.randn(2, 3, 1, 32, 32)
    with torch.no_grad():
        expected = vit(frame)  # the image model on one frame
        out = divided(frame.expand(-1, -1, 8, -1, -1))
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)


def test_space_only_checkpoint_into_axial_copies_attention_to_every_extra_step():
    sd = create_model("timesformer", **TINY, attention_type="space_only").state_dict()
    model = create_model("timesformer", **TINY, attention_type="axial")
    load_checkpoint(model, sd)
    for name in ("temporal", "width"):
        assert torch.equal(
            getattr(model.blocks[0], f"{name}_attn").proj.weight, sd["blocks.0.attn.proj.weight"]
        )
        assert not getattr(model.blocks[0], f"{name}_fc").weight.any()
