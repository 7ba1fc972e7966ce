"""Swin and Video Swin: official/timm references, sizes, FLOPs, inflation, backbone API."""

import pytest
import torch

from tests.conftest import assert_checkpointing_keeps_gradients, load_golden
from videoformer import CheckpointError, create_model, load_checkpoint
from videoformer.convert import inflate_swin_2d_to_3d
from videoformer.flops import count_flops, count_params

SWIN_SMALL = dict(img_size=56, embed_dim=48, depths=(2, 2), num_heads=(3, 6), num_classes=6)
VSWIN_SMALL = dict(
    embed_dim=48, depths=(2, 2), num_heads=(3, 6), window_size=(2, 7, 7), num_classes=6
)


def _run(model, x):
    with torch.no_grad():
        return model.eval()(x)


@pytest.mark.parametrize(
    ("golden", "container", "layout"),
    [
        ("swin2d", "model", "swin_official"),
        ("timm_swin", None, "swin_timm"),
    ],
)
def test_swin_2d_reproduces_reference_logits(golden, container, layout, tmp_path):
    g = load_golden(golden)
    path = tmp_path / "w.pth"
    torch.save({container: g["state_dict"]} if container else g["state_dict"], path)
    model = create_model("swin", **SWIN_SMALL)
    assert load_checkpoint(model, path).layout == layout
    # README: within 5e-6 (4.8e-7 observed)
    torch.testing.assert_close(_run(model, g["input"]), g["output"], atol=5e-6, rtol=0)


@pytest.mark.parametrize("golden", ["video_swin_small", "video_swin_pad"])
def test_video_swin_reproduces_official_logits(golden, tmp_path):
    g = load_golden(golden)
    path = tmp_path / "w.pth"
    torch.save({"state_dict": g["state_dict"], "meta": {"epoch": 30}}, path)
    model = create_model("video_swin", **VSWIN_SMALL)
    report = load_checkpoint(model, path)
    assert report.layout == "video_swin_official" and report.loaded == 63
    # README: within 3e-6 (2.6e-7 observed)
    torch.testing.assert_close(_run(model, g["input"]), g["output"], atol=3e-6, rtol=0)


def geometric_bias(table, window, n):
    """The bias a rebuilt index would give: true offsets of the clamped (2, 7, W') window,
    looked up in the configured window's table."""
    Wt, Wh, Ww = window
    eff = (Wt, Wh, n // (Wt * Wh))
    coords = torch.stack(torch.meshgrid(*[torch.arange(w) for w in eff], indexing="ij")).flatten(1)
    rel = coords[:, :, None] - coords[:, None, :]
    idx = (
        (rel[0] + Wt - 1) * (2 * Wh - 1) * (2 * Ww - 1)
        + (rel[1] + Wh - 1) * (2 * Ww - 1)
        + rel[2]
        + Ww
        - 1
    )
    return table[idx.flatten()].view(n, n, -1).permute(2, 0, 1)


def test_rebuilding_the_index_for_the_clamped_window_would_be_wrong(monkeypatch):
    """video_swin_pad stage 1 clamps W to 6: the official code slices the full window's
    index. Geometrically correct offsets change the logits, so the slice is what matters."""
    from videoformer.models import swin as swin_module

    g = load_golden("video_swin_pad")
    model = create_model("video_swin", **VSWIN_SMALL)
    load_checkpoint(model, {"state_dict": g["state_dict"]})
    monkeypatch.setattr(swin_module, "relative_position_bias", geometric_bias)
    assert (_run(model, g["input"]) - g["output"]).abs().max() > 1e-4


@pytest.mark.parametrize(
    ("name", "params", "official_gmac"),
    [
        ("swin_tiny", 28_288_354, 4.5),
        ("swin_small", 49_606_258, 8.7),
        ("swin_base", 87_768_224, 15.4),
        ("swin_large", 196_532_476, 34.5),
        ("video_swin_tiny", 28_158_070, 87.9),
        ("video_swin_small", 49_816_678, 165.9),
        ("video_swin_base", 88_048_984, 281.6),
        ("video_swin_large", 196_953_916, 604.0),
    ],
)
def test_sizes_and_flops_match_official(name, params, official_gmac):
    with torch.device("meta"):
        model = create_model(name).eval()
    assert count_params(model) == params
    flops = count_flops(model, (1, *model.input_shape))
    assert abs(flops / 2e9 - official_gmac) / official_gmac < 0.03


def test_inflated_2d_checkpoint_on_static_clip_equals_2d_model_on_one_frame():
    g = load_golden("swin2d")
    model_2d = create_model("swin", **SWIN_SMALL)
    load_checkpoint(model_2d, {"model": g["state_dict"]})
    model_3d = create_model("video_swin", **VSWIN_SMALL)
    report = load_checkpoint(model_3d, {"model": g["state_dict"]})
    assert report.layout == "swin2d_inflated"
    frame = g["input"]
    clip = frame[:, :, None].expand(
        -1, -1, 8, -1, -1
    )  # T'=4, a multiple of Wt=2: no temporal padding
    with torch.no_grad():
        torch.testing.assert_close(
            model_3d.eval().forward_features(clip),
            model_2d.eval().forward_features(frame),
            atol=1e-5,
            rtol=0,
        )


def test_inflation_shapes_and_bicubic_table_resize():
    sd = create_model("swin", **SWIN_SMALL).state_dict()
    config = create_model("video_swin", **{**VSWIN_SMALL, "window_size": (4, 5, 5)}).config
    out = inflate_swin_2d_to_3d(sd, config)
    assert out["patch_embed.proj.weight"].shape == (48, 3, 2, 4, 4)
    torch.testing.assert_close(out["patch_embed.proj.weight"].sum(2), sd["patch_embed.proj.weight"])
    table = out["layers.0.blocks.0.attn.relative_position_bias_table"]
    assert table.shape == (7 * 9 * 9, 3)  # (2*4-1) temporal offsets x (2*5-1)^2
    torch.testing.assert_close(table[:81], table[81:162], rtol=0, atol=0)  # tiled over time


def test_create_model_inflates_a_2d_file_and_keeps_a_fresh_head(tmp_path):
    path = tmp_path / "swin2d.pth"
    torch.save(
        {"model": create_model("swin", **{**SWIN_SMALL, "num_classes": 1000}).state_dict()}, path
    )
    model = create_model("video_swin", pretrained=path, **{**VSWIN_SMALL, "num_classes": 400})
    assert model.load_report.layout == "swin2d_inflated"
    assert [r.split(":")[0] for r in model.load_report.reinitialised] == [
        "head.bias",
        "head.weight",
    ]


def test_torchvision_layout():
    ours = create_model("video_swin", **VSWIN_SMALL).state_dict()
    tv = {}
    for (
        k,
        v,
    ) in ours.items():  # torchvision numbering: features.0 embed, 1 stage 0, 2 merge, 3 stage 1
        k = k.replace("patch_embed.", "features.0.").replace("layers.0.downsample.", "features.2.")
        k = k.replace("layers.0.blocks.", "features.1.").replace("layers.1.blocks.", "features.3.")
        k = k.replace("mlp.fc1.", "mlp.0.").replace("mlp.fc2.", "mlp.3.")
        tv[k] = v
    tv["features.1.0.attn.relative_position_index"] = torch.zeros(98, 98, dtype=torch.long)
    model = create_model("video_swin", **VSWIN_SMALL)
    assert load_checkpoint(model, tv).layout == "video_swin_torchvision"
    assert all(torch.equal(model.state_dict()[k], v) for k, v in ours.items())


def test_mmaction2_1x_layout_names_the_final_norm_norm3():
    """mmaction2 1.x (its model zoo, benchmarks/compare.py's peer) says backbone.norm3."""
    ours = create_model("video_swin", **VSWIN_SMALL).state_dict()
    mm = {}
    for k, v in ours.items():
        if k.startswith("head."):
            mm["cls_head.fc_cls." + k.removeprefix("head.")] = v
        else:
            mm[
                "backbone." + ("norm3." + k.removeprefix("norm.") if k.startswith("norm.") else k)
            ] = v
    assert "backbone.norm3.weight" in mm
    model = create_model("video_swin", **VSWIN_SMALL)
    assert load_checkpoint(model, mm).layout == "video_swin_official"
    assert all(torch.equal(model.state_dict()[k], v) for k, v in ours.items())


def test_any_clip_size_and_other_image_sizes():
    video = create_model("video_swin", **VSWIN_SMALL).eval()
    assert _run(video, torch.randn(1, 3, 5, 37, 51)).shape == (1, 6)


def test_2d_swin_at_another_size_equals_a_model_built_there_or_is_refused():
    """Built at 56 px (stages 14, 7: windows 7 shifted, 7 unshifted). 52 px keeps both
    stages' windows and gives what a model built at 52 px gives; 60x44 would need a 6x6
    window in stage 1 and is refused, naming what to do."""
    image = create_model("swin", **SWIN_SMALL).eval()
    built_there = create_model("swin", **{**SWIN_SMALL, "img_size": 52}).eval()
    built_there.load_state_dict(image.state_dict())
    x = torch.randn(1, 3, 52, 52)
    torch.testing.assert_close(_run(image, x), _run(built_there, x), rtol=0, atol=0)
    with pytest.raises(
        ValueError,
        match=r"built for 56x56 inputs got 60x44.*stage 1: window \(6, 6\) "
        r"shift \(0, 0\) \(built \(7, 7\).*build the model at that size",
    ):
        _run(image, torch.randn(1, 3, 60, 44))


def test_forward_intermediates_and_features():
    model = create_model("video_swin", **VSWIN_SMALL).eval()
    x = torch.randn(1, 3, 8, 56, 56)
    with torch.no_grad():
        feats = model.forward_intermediates(x)
        pooled = model.forward_features(x)
    assert [tuple(f.shape) for f in feats] == [(1, 48, 4, 14, 14), (1, 96, 4, 7, 7)]
    torch.testing.assert_close(feats[-1].flatten(2).mean(-1), pooled)


def test_frozen_stages_stay_frozen_after_train():
    model = create_model("video_swin", **{**VSWIN_SMALL, "frozen_stages": 1}).train()
    assert not any(p.requires_grad for p in model.patch_embed.parameters())
    assert not any(p.requires_grad for p in model.layers[0].parameters())
    assert all(p.requires_grad for p in model.layers[1].parameters())
    assert not model.layers[0].training and model.layers[1].training


def test_gradient_checkpointing_gives_the_same_gradients():
    model = create_model("swin", **{**SWIN_SMALL, "drop_path_rate": 0.0})
    assert_checkpointing_keeps_gradients(model, torch.randn(2, 3, 56, 56))


@pytest.mark.parametrize(
    ("name", "shape"),
    [
        ("swin", (1, 3, 4, 56, 56)),
        ("video_swin", (1, 3, 56, 56)),
        ("video_swin", (1, 1, 4, 56, 56)),
    ],
)
def test_bad_input_raises(name, shape):
    model = create_model(name, **(SWIN_SMALL if name == "swin" else VSWIN_SMALL))
    with pytest.raises(ValueError, match="expects"):
        model(torch.randn(shape))


def test_video_checkpoint_into_2d_model_is_refused():
    g = load_golden("video_swin_small")
    with pytest.raises(CheckpointError, match="no known swin checkpoint layout"):
        load_checkpoint(create_model("swin", **SWIN_SMALL), {"state_dict": g["state_dict"]})


@pytest.mark.parametrize("name", ["swin", "video_swin"])
def test_window_attention_runs_on_the_fused_kernel(name):
    """Shifted and unshifted blocks must keep SDPA on its flash kernel (a 3-d mask falls
    back to the math path, several times slower): with only flash allowed, SDPA raises
    where it would have fallen back. Same logits as with every kernel allowed. Windows of
    64 tokens and more (8x8, 2x7x7) reach SDPA; shorter ones are written out."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    kw = {**SWIN_SMALL, "window_size": 8} if name == "swin" else VSWIN_SMALL
    model = create_model(name, **kw).eval()
    x = torch.randn(2, *model.input_shape) if name == "swin" else torch.randn(2, 3, 4, 56, 56)
    with sdpa_kernel(SDPBackend.FLASH_ATTENTION), torch.profiler.profile() as prof:
        fused = _run(model, x)
    ran = {e.key for e in prof.key_averages()}
    assert "aten::_scaled_dot_product_flash_attention_for_cpu" in ran  # SDPA was reached
    with sdpa_kernel(SDPBackend.MATH):
        math = _run(model, x)
    torch.testing.assert_close(fused, math, atol=1e-5, rtol=1e-5)
