"""Official TimeSformer reference outputs (tests/golden/timesformer_*.pt) through
load_checkpoint."""

import pytest
import torch

from tests.conftest import build_from_golden, load_golden
from videoformer import create_model, load_checkpoint

ATOL = 1e-5


@pytest.mark.parametrize("name", ["divided", "space_only", "joint", "divided_resize"])
def test_official_checkpoint_file_reproduces_logits(name, tmp_path):
    g = load_golden(f"timesformer_{name}")
    path = tmp_path / "official.pyth"
    torch.save({"model_state": g["state_dict"], "cfg": "yaml text"}, path)  # official container
    model = build_from_golden(g)
    report = load_checkpoint(model, path)
    assert report.layout == "timesformer_official"
    assert report.loaded == len(g["state_dict"])
    with torch.no_grad():
        out = model(g["input"])
    torch.testing.assert_close(out, g["output"], atol=ATOL, rtol=0)


def test_resized_checkpoint_equals_official_forward_resize():
    """Resampling the embeddings at load time (4 -> 8 frames, 4x4 -> 6x6 grid) gives the
    logits the official forward computes when it resizes on the fly."""
    g = load_golden("timesformer_divided_resize")
    model = build_from_golden(g, num_frames=8, img_size=48)
    report = load_checkpoint(model, {"model_state": g["state_dict"]})
    assert sorted(r.split(":")[0] for r in report.resized) == ["pos_embed", "time_embed"]
    with torch.no_grad():
        out = model(g["input"])
    torch.testing.assert_close(out, g["output"], atol=ATOL, rtol=0)


def test_golden_detects_a_wrong_layernorm_eps():
    """The reference is tight enough to catch the most common porting slip."""
    g = load_golden("timesformer_divided")
    model = build_from_golden(g, layer_norm_eps=1e-5)
    load_checkpoint(model, {"model_state": g["state_dict"]})
    with torch.no_grad():
        out = model(g["input"])
    assert (out - g["output"]).abs().max() > ATOL


@pytest.mark.parametrize("name", ["divided", "joint"])
def test_mmaction2_checkpoint_reproduces_its_logits(name, tmp_path):
    """mmaction2's own TimeSformer (tests/golden/make_mmaction_timesformer.py) on the same
    random weights, loaded through its checkpoint layout."""
    g = load_golden(f"timesformer_mmaction_{name}")
    k = g["kwargs"]
    path = tmp_path / "mmaction.pth"
    torch.save({"meta": {"mmaction": "1.2.0"}, "state_dict": g["state_dict"]}, path)
    model = create_model(
        "timesformer",
        img_size=k["img_size"],
        patch_size=k["patch_size"],
        num_frames=k["num_frames"],
        embed_dim=k["embed_dims"],
        depth=k["num_transformer_layers"],
        num_heads=k["num_heads"],
        attention_type=k["attention_type"],
        num_classes=k["num_classes"],
    ).eval()
    report = load_checkpoint(model, path)
    assert report.layout == "timesformer_mmaction" and report.loaded == len(g["state_dict"])
    with torch.no_grad():
        out = model(g["input"])
    torch.testing.assert_close(out, g["output"], atol=ATOL, rtol=0)
