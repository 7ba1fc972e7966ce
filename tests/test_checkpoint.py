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


def _hf_copy(tmp_path, **changes):
    import json
    import shutil

    folder = tmp_path / "hf"
    shutil.copytree(GOLDEN / "hf_timesformer", folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, **changes}))
    return folder


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {
                "hidden_size": 8192,
                "num_hidden_layers": 48,
                "intermediate_size": 32768,
                "num_attention_heads": 8,
            },
            "sizes differ: embed_dim 48 in the checkpoint, 8192 in the model",
        ),
        (
            {"id2label": {str(i): f"c{i}" for i in range(2_000_000)}},
            "2,000,000 label names for a classifier of 6 classes",
        ),
    ],
)
def test_a_config_cannot_make_videoformer_build_what_the_weights_are_not(
    tmp_path, changes, message
):
    """A 1 kB config.json claiming a 48-layer 8192-wide model (160 GB) or 2,000,000
    classes: checked against the weights' shapes on the meta device, refused before any
    memory is spent (building it would not fit this machine)."""
    with pytest.raises(CheckpointError, match=message):
        create_model("timesformer", pretrained=_hf_copy(tmp_path, **changes))


def test_a_safetensors_header_cannot_either(tmp_path):
    import json

    import videoformer

    model = create_model("timesformer", **TINY)
    path = videoformer.save_model(model, tmp_path / "m.safetensors")
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
        meta = json.loads(f.metadata()["videoformer"])
    meta["model_config"].update(embed_dim=32768, depth=200, num_heads=2)
    save_file(tensors, path, metadata={"videoformer": json.dumps(meta)})
    with pytest.raises(CheckpointError, match="sizes differ: embed_dim 32 in the checkpoint"):
        videoformer.load_model(path)


@pytest.mark.parametrize("damage", ["int8", "nan"])
def test_weights_that_a_load_would_silently_change_are_refused(tmp_path, damage):
    sd = create_model("timesformer", **TINY).state_dict()
    if damage == "int8":
        sd = {k: (v * 100).to(torch.int8) for k, v in sd.items()}
        message = "tensors hold torch.int8 values where the model has torch.float32"
    else:
        sd = {k: torch.full_like(v, float("nan")) for k, v in sd.items()}
        message = "NaN or infinite values in"
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(create_model("timesformer", **TINY), sd)
