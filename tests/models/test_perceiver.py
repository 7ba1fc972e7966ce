"""Perceiver (paper) and Perceiver IO (HF): references, Fourier features, sharing, cost."""

import dataclasses
import math

import pytest
import torch

from tests.conftest import GOLDEN, assert_checkpointing_keeps_gradients, load_golden
from videoformer import create_model, load_checkpoint
from videoformer.flops import count_flops, count_params
from videoformer.layers import fourier_features, linear_positions
from videoformer.models.perceiver import AUDIO, ByteArray, PerceiverBlock

TINY = dict(
    num_latents=8,
    latent_dim=32,
    num_cross_attends=3,
    latent_blocks_per_cross_attend=2,
    latent_heads=4,
    num_classes=5,
)
IMAGE = ByteArray("image", "BCS", 3, (1, 1), num_bands=4, max_resolution=(16, 16))
VIDEO = ByteArray("video", "BCS", 3, (2, 4, 4), num_bands=4, max_resolution=(2, 4, 4))
SMALL_AUDIO = ByteArray("audio", "BS", 1, (16,), num_bands=4, max_resolution=(32,))


def test_hf_fourier_reference_through_a_file(tmp_path):
    g = load_golden("perceiver_hf_fourier")
    cfg = dict(g["kwargs"]["config"])
    cfg["num_classes"] = cfg.pop("num_labels")
    torch.save(g["state_dict"], tmp_path / "pytorch_model.bin")
    model = create_model("perceiver_io", **cfg).eval()
    assert load_checkpoint(model, tmp_path / "pytorch_model.bin").layout == "perceiver_io_hf"
    with torch.no_grad():
        torch.testing.assert_close(model(g["input"]), g["output"], atol=1e-6, rtol=0)  # README


@pytest.mark.parametrize("kind", ["learned", "conv"])
def test_hf_learned_and_conv_directories(kind):
    ref = torch.load(GOLDEN / f"hf_perceiver_{kind}" / "reference.pt", weights_only=True)
    model = create_model("perceiver_io", pretrained=GOLDEN / f"hf_perceiver_{kind}").eval()
    assert model.config.preprocessor == kind and model.config.num_classes == 6
    with torch.no_grad():
        torch.testing.assert_close(model(ref["input"]), ref["output"], atol=1e-6, rtol=0)


def test_perceiver_io_layer_norm_eps_matters():
    """HF's config says layer_norm_eps 1e-12 but its modules use 1e-5; using 1e-12 must show."""
    g = load_golden("perceiver_hf_fourier")
    cfg = dict(g["kwargs"]["config"])
    cfg["num_classes"] = cfg.pop("num_labels")
    model = create_model("perceiver_io", **cfg).eval()
    load_checkpoint(model, g["state_dict"])
    for m in model.modules():
        if isinstance(m, torch.nn.LayerNorm):
            m.eps = 1e-12
    with torch.no_grad():
        assert (model(g["input"]) - g["output"]).abs().max() > 1e-5


@pytest.mark.parametrize(
    ("name", "params", "gflop"),
    [
        ("perceiver_io_imagenet_fourier", 48_440_627, 406.1),
        ("perceiver_io_imagenet_learned", 62_255_848, 478.0),
    ],
)
def test_perceiver_io_sizes_match_hf(name, params, gflop):
    with torch.device("meta"):
        model = create_model(name).eval()
    assert count_params(model) == params
    assert abs(count_flops(model, (1, 3, 224, 224)) / 1e9 - gflop) / gflop < 0.01


def test_paper_imagenet_model_size_and_flops():
    with torch.device("meta"):
        model = create_model("perceiver_imagenet", cache_cross_kv=False).eval()
    assert model.config.byte_width == 261
    assert abs(count_params(model) - 44_912_254) / 44_912_254 < 0.01
    assert abs(count_flops(model, (1, 3, 224, 224)) / 1e9 - 707.2) / 707.2 < 0.02


def test_fourier_features_against_the_formula():
    pos = torch.tensor([[0.5, -0.25], [1.0, 0.0]])
    feats = fourier_features(pos, num_bands=3, max_resolution=(8, 4))
    fy, fx = torch.linspace(1, 4, 3), torch.linspace(1, 2, 3)
    for row, (y, x) in enumerate(pos.tolist()):
        expected = (
            [y, x]
            + [math.sin(math.pi * y * f) for f in fy]
            + [math.sin(math.pi * x * f) for f in fx]
            + [math.cos(math.pi * y * f) for f in fy]
            + [math.cos(math.pi * x * f) for f in fx]
        )
        torch.testing.assert_close(feats[row], torch.tensor(expected), atol=1e-6, rtol=0)


@pytest.mark.parametrize("dims", [(7,), (4, 5), (2, 3, 4)])
def test_fourier_shapes_for_1_2_3_axes(dims):
    pos = linear_positions(dims)
    assert pos.shape == (math.prod(dims), len(dims))
    assert pos[0].tolist() == [-1.0] * len(dims) and pos[-1].tolist() == [1.0] * len(dims)
    feats = fourier_features(pos, num_bands=6, max_resolution=dims)
    assert feats.shape == (math.prod(dims), len(dims) * 13)


def test_shared_parameter_count_is_independent_of_repeats():
    counts = [
        count_params(create_model("perceiver", inputs=(IMAGE,), **{**TINY, "num_cross_attends": r}))
        for r in (2, 3, 6)
    ]
    assert counts[0] == counts[1] == counts[2]
    unshared = [
        count_params(
            create_model(
                "perceiver",
                inputs=(IMAGE,),
                **{**TINY, "num_cross_attends": r},
                share_cross_weights=False,
            )
        )
        for r in (2, 3)
    ]
    assert unshared[1] > unshared[0]


def test_gradients_reach_shared_weights_from_every_repeat():
    model = create_model("perceiver", inputs=(IMAGE,), **TINY)
    outputs = []
    shared = model.cross_attends[1]

    def keep(module, args, out):
        out.retain_grad()
        outputs.append(out)

    shared.register_forward_hook(keep)
    model(torch.randn(2, 3, 16, 16)).sum().backward()
    assert len(outputs) == TINY["num_cross_attends"] - 1
    assert all(o.grad is not None and o.grad.abs().sum() > 0 for o in outputs)
    assert shared.attn.q.weight.grad.abs().sum() > 0


def test_kv_cache_gives_the_same_logits():
    model = create_model("perceiver", inputs=(IMAGE,), **TINY).eval()
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        cached = model(x)
        model.config = dataclasses.replace(model.config, cache_cross_kv=False)
        torch.testing.assert_close(model(x), cached)


def test_one_class_for_image_video_and_audio_video():
    image = create_model("perceiver", inputs=(IMAGE,), **TINY)
    assert image(torch.randn(2, 3, 16, 16)).shape == (2, 5)
    video = create_model("perceiver", inputs=(VIDEO,), **TINY)
    assert video(torch.randn(2, 3, 4, 16, 16)).shape == (2, 5)
    av = create_model("perceiver", inputs=(VIDEO, SMALL_AUDIO), **TINY)
    logits = av({"video": torch.randn(2, 3, 4, 16, 16), "audio": torch.randn(2, 512)})
    assert logits.shape == (2, 5)
    assert set(av.modality_embed) == {"video", "audio"}
    array = create_model("perceiver", inputs=(ByteArray("x", "BSC", 7, (1,), 4, (50,)),), **TINY)
    assert array(torch.randn(2, 50, 7)).shape == (2, 5)


def test_audiovisual_variant_byte_array():
    with torch.device("meta"):
        model = create_model("perceiver_audiovisual")
    assert AUDIO.patch_size == (128,) and AUDIO.max_resolution == (480,)
    assert model.config.multi_label and model.config.num_classes == 527
    assert len(model.cross_attends) == 2 and len(model.latent_stacks) == 2  # no sharing


class CrossAttendOnly(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.block = PerceiverBlock(32, num_heads=1, kv_dim=16)

    def forward(self, inputs):
        return self.block(inputs["latents"], inputs["bytes"])


def _cross_attention_flops(M: int) -> int:
    return count_flops(CrossAttendOnly(), {"latents": (1, 8, 32), "bytes": (1, M, 16)})


def test_cross_attention_flops_double_with_the_byte_array():
    f1, f2, f4 = (_cross_attention_flops(m) for m in (1000, 2000, 4000))
    fixed = 2 * f1 - f2  # the latent-only part (query projection, MLP)
    assert f2 - fixed == 2 * (f1 - fixed) and f4 - fixed == 4 * (f1 - fixed)


def test_whole_model_flops_are_linear_in_the_input_size():
    flops = []
    for side in (16, 32, 64):  # M = 256, 1024, 4096
        model = create_model(
            "perceiver", inputs=(ByteArray("image", "BCS", 3, (1, 1), 4, (side, side)),), **TINY
        ).eval()
        flops.append(count_flops(model, (1, 3, side, side)))
    slope1 = (flops[1] - flops[0]) / (1024 - 256)
    slope2 = (flops[2] - flops[1]) / (4096 - 1024)
    assert slope1 == pytest.approx(slope2, rel=1e-9)


@pytest.mark.parametrize(
    ("model_inputs", "x", "message"),
    [
        ((IMAGE,), torch.randn(2, 1, 16, 16), "has 1 channels, expected 3"),
        ((IMAGE,), torch.randn(2, 3, 16), "needs 4 dims"),
        ((VIDEO,), torch.randn(2, 3, 3, 16, 16), "not a multiple of patch_size"),
        ((VIDEO, SMALL_AUDIO), {"video": torch.randn(1, 3, 4, 16, 16)}, "takes a dict with keys"),
    ],
)
def test_bad_input_raises(model_inputs, x, message):
    model = create_model("perceiver", inputs=model_inputs, **TINY)
    with pytest.raises(ValueError, match=message):
        model(x)


def test_perceiver_io_rejects_a_d_model_that_does_not_fit_the_preprocessor():
    with pytest.raises(
        ValueError, match="d_model 300 does not match the 'fourier' preprocessor's 261"
    ):
        create_model("perceiver_io", d_model=300)


@pytest.mark.parametrize("cache_cross_kv", [False, True])
def test_gradient_checkpointing_gives_the_same_gradients(cache_cross_kv):
    model = create_model("perceiver", inputs=(IMAGE,), **TINY, cache_cross_kv=cache_cross_kv)
    assert_checkpointing_keeps_gradients(model, torch.randn(2, 3, 16, 16))


def test_perceiver_io_gradient_checkpointing_gives_the_same_gradients():
    g = load_golden("perceiver_hf_fourier")
    cfg = dict(g["kwargs"]["config"])
    cfg["num_classes"] = cfg.pop("num_labels")
    model = create_model("perceiver_io", **cfg)
    assert_checkpointing_keeps_gradients(model, g["input"])
