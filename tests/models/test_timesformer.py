"""TimeSformer: sizes, FLOPs, the attention types against a dense reference, bad input."""

import pytest
import torch

from tests.conftest import assert_checkpointing_keeps_gradients, build_from_golden, load_golden
from videoformer import create_model
from videoformer.flops import count_flops, count_params
from videoformer.layers.folded_linears import folding_pays
from videoformer.models.timesformer import STEPS, TimeSformerBlock

TINY = dict(
    img_size=32, patch_size=8, num_frames=4, embed_dim=32, depth=2, num_heads=2, num_classes=5
)


def meta_model(name="timesformer", **overrides):
    with torch.device("meta"):
        return create_model(name, **overrides)


@pytest.mark.parametrize(
    ("name", "overrides", "expected"),
    [
        ("timesformer", {"attention_type": "space_only"}, 86_106_256),
        ("timesformer", {"attention_type": "joint_space_time"}, 86_112_400),
        ("timesformer", {"attention_type": "divided_space_time"}, 121_566_352),
        ("timesformer_base", {}, 121_566_352),
        ("timesformer_hr", {}, 122_024_080),
        ("timesformer_large", {}, 121_633_936),
    ],
)
def test_parameter_counts_match_official_code(name, overrides, expected):
    assert count_params(meta_model(name, **overrides)) == expected


@pytest.mark.parametrize(
    ("attention_type", "paper"), [("sparse_local_global", 121.4e6), ("axial", 156.8e6)]
)
def test_parameter_counts_match_paper_table_1(attention_type, paper):
    params = count_params(meta_model(attention_type=attention_type))
    assert abs(params - paper) / paper < 0.005


@pytest.mark.parametrize(
    ("attention_type", "official_gflop"),
    [("space_only", 281.0), ("joint_space_time", 359.1), ("divided_space_time", 391.7)],
)
def test_flops_per_8x224_clip_match_official_count(attention_type, official_gflop):
    flops = count_flops(meta_model(attention_type=attention_type).eval(), (1, 3, 8, 224, 224))
    assert abs(flops / 1e9 - official_gflop) / official_gflop < 0.02


# the table in models/timesformer.py; official names where official code exists
BLOCK_PARAMETERS = {
    "divided_space_time": ["temporal_norm1", "temporal_attn", "temporal_fc", "norm1", "attn"],
    "joint_space_time": ["norm1", "attn"],
    "space_only": ["norm1", "attn"],
    "sparse_local_global": ["local_norm1", "local_attn", "local_fc", "norm1", "attn"],
    "axial": [
        "temporal_norm1",
        "temporal_attn",
        "temporal_fc",
        "width_norm1",
        "width_attn",
        "width_fc",
        "norm1",
        "attn",
    ],
}


@pytest.mark.parametrize("attention_type", sorted(BLOCK_PARAMETERS))
def test_block_parameter_names(attention_type):
    keys = meta_model(**TINY, attention_type=attention_type).blocks[0].state_dict()
    modules = list(dict.fromkeys(k.split(".")[0] for k in keys))
    assert modules == [*BLOCK_PARAMETERS[attention_type], "norm2", "mlp"]


@pytest.mark.parametrize("name", ["divided", "joint", "space_only"])
def test_state_dict_keys_are_the_official_keys(name):
    official = {k.removeprefix("model.") for k in load_golden(f"timesformer_{name}")["state_dict"]}
    assert set(build_from_golden(load_golden(f"timesformer_{name}")).state_dict()) == official


def test_family_name_builds_exactly_the_overrides():
    model = create_model(
        "timesformer", **{**TINY, "attention_type": "joint_space_time", "num_classes": 7}
    )
    c = model.config
    assert (c.img_size, c.patch_size, c.embed_dim, c.depth, c.num_heads, c.num_frames) == (
        32,
        8,
        32,
        2,
        2,
        4,
    )
    assert c.qkv_bias and c.mlp_ratio == 4.0  # official defaults kept
    assert model.head.out_features == 7 and len(model.blocks) == 2
    assert not hasattr(model.blocks[0], "temporal_attn")


def test_unknown_override_names_the_valid_fields():
    with pytest.raises(
        ValueError, match=r"unknown TimeSformerConfig field.*'embed_dims'.*valid fields: img_size"
    ):
        create_model("timesformer", embed_dims=64)


def test_unknown_model_lists_closest_names():
    with pytest.raises(ValueError, match="closest: timesformer_base"):
        create_model("timesformer_bse")


def test_bad_attention_type_is_rejected():
    with pytest.raises(ValueError, match="attention_type 'divided' is not one of"):
        create_model("timesformer", attention_type="divided")


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((2, 3, 32, 32), "expects \\(B, C, T, H, W\\), got a 4-d"),
        ((1, 1, 4, 32, 32), "expected 3 channels"),
        ((1, 3, 4, 30, 32), "not a multiple of patch_size 8"),
    ],
)
def test_bad_input_raises_clear_error(shape, message):
    model = create_model("timesformer", **TINY)
    with pytest.raises(ValueError, match=message):
        model(torch.randn(shape))


def test_sparse_attention_needs_an_even_frame_count():
    model = create_model("timesformer", **TINY, attention_type="sparse_local_global")
    with pytest.raises(ValueError, match="splits frames in two, but the clip has 3"):
        model(torch.randn(1, 3, 3, 32, 32))


@pytest.mark.parametrize("attention_type", list(STEPS))
def test_every_attention_type_trains(attention_type):
    model = create_model("timesformer", **TINY, attention_type=attention_type)
    x = torch.randn(2, 3, 4, 32, 32)
    logits = model(x)
    assert logits.shape == (2, 5) and torch.isfinite(logits).all()
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    assert model.forward_features(x).shape == (2, 32)


@pytest.mark.parametrize("attention_type", ["divided_space_time", "joint_space_time", "space_only"])
def test_other_frame_counts_and_sizes_are_accepted(attention_type):
    model = create_model("timesformer", **TINY, attention_type=attention_type).eval()
    assert model(torch.randn(1, 3, 6, 48, 40)).shape == (1, 5)


def test_gradient_checkpointing_gives_the_same_gradients():
    model = create_model("timesformer", **TINY, drop_path_rate=0.0)
    assert_checkpointing_keeps_gradients(model, torch.randn(2, 3, 4, 32, 32))


def test_reset_classifier():
    model = create_model("timesformer", **TINY)
    model.reset_classifier(11)
    assert model(torch.randn(1, 3, 4, 32, 32)).shape == (1, 11)
    assert model.config.num_classes == 11


# --- Dense reference: every step as one masked attention over all tokens ------------------

# Which group a token (t, h, w) of a T x H x W grid belongs to, per grouping, written plainly.
GROUP_OF = {
    "time": lambda t, h, w, T, H, W: (h, w),
    "space": lambda t, h, w, T, H, W: t,
    "width": lambda t, h, w, T, H, W: (h, t),
    "height": lambda t, h, w, T, H, W: (w, t),
    "local": lambda t, h, w, T, H, W: (h // (H // 2), w // (W // 2)),
    "global": lambda t, h, w, T, H, W: (t % 2, h % 2, w % 2),
    "joint": lambda t, h, w, T, H, W: 0,
}


def masked_attention(attn, x, rows, allowed):
    """Attention outputs (after proj) for query positions ``rows`` of x (B, N, D) that may
    only see the keys where ``allowed`` (len(rows), N) is True."""
    B, N, D = x.shape
    q, k, v = attn.qkv(x).view(B, N, 3, attn.num_heads, -1).permute(2, 0, 3, 1, 4)
    logits = q[:, :, rows] @ k.transpose(-1, -2) * attn.scale
    probs = logits.masked_fill(~allowed, float("-inf")).softmax(-1)
    return attn.proj((probs @ v).transpose(1, 2).reshape(B, len(rows), D))


def reference_block(blk, x, steps, T, H, W):
    coords = [(t, h, w) for h in range(H) for w in range(W) for t in range(T)]  # official order
    N = len(coords)
    cls, tokens = x[:, :1], x[:, 1:]

    def groups(grouping):
        return [GROUP_OF[grouping](*c, T, H, W) for c in coords]

    for name, grouping in steps[:-1]:
        g = groups(grouping)
        allowed = torch.tensor([[g[i] == g[j] for j in range(N)] for i in range(N)])
        norm, attn, fc = (getattr(blk, f"{name}_{p}") for p in ("norm1", "attn", "fc"))
        tokens = tokens + fc(masked_attention(attn, norm(tokens), list(range(N)), allowed))
    g = groups(steps[-1][1])
    y = blk.norm1(torch.cat([cls, tokens], 1))
    # tokens see the cls token and their own group
    allowed = torch.tensor([[True] + [g[i] == g[j] for j in range(N)] for i in range(N)])
    token_out = masked_attention(blk.attn, y, list(range(1, N + 1)), allowed)
    # the cls token attends to each group in turn; its outputs are averaged
    cls_outs = [
        masked_attention(blk.attn, y, [0], torch.tensor([[True] + [gj == group for gj in g]]))
        for group in dict.fromkeys(g)
    ]
    x = torch.cat([cls, tokens], 1) + torch.cat([torch.stack(cls_outs).mean(0), token_out], 1)
    return x + blk.mlp(blk.norm2(x))


@pytest.mark.parametrize(
    "attention_type", ["sparse_local_global", "axial", "divided_space_time", "joint_space_time"]
)
def test_block_matches_dense_masked_reference(attention_type):
    T, H, W, D = 4, 4, 6, 16
    steps = STEPS[attention_type]
    blk = TimeSformerBlock(D, num_heads=2, steps=steps).eval()
    with torch.no_grad():
        for p in blk.parameters():  # no zero fc: every step must matter
            p.copy_(torch.randn_like(p) * 0.3)
        x = torch.randn(2, 1 + T * H * W, D)
        torch.testing.assert_close(
            blk(x, (T, H, W)), reference_block(blk, x, steps, T, H, W), atol=1e-5, rtol=1e-5
        )


@pytest.mark.parametrize("attention_type", ["sparse_local_global", "axial", "divided_space_time"])
def test_block_gradients_match_dense_masked_reference(attention_type):
    """In training each extra step's output projection and fc run as one folded product
    (layers/folded_linears.py): the value and every gradient are the reference's."""
    T, H, W, D = 4, 4, 6, 16
    steps = STEPS[attention_type]
    blk = TimeSformerBlock(D, num_heads=2, steps=steps).train()
    with torch.no_grad():
        for p in blk.parameters():
            p.copy_(torch.randn_like(p) * 0.3)
    x = torch.randn(2, 1 + T * H * W, D)
    weight = torch.randn(2, 1 + T * H * W, D)
    results = []
    for forward in (lambda: blk(x, (T, H, W)), lambda: reference_block(blk, x, steps, T, H, W)):
        blk.zero_grad()
        out = forward()
        (out * weight).sum().backward()
        results.append((out.detach(), {n: p.grad for n, p in blk.named_parameters()}))
    (out, grads), (ref_out, ref_grads) = results
    name = steps[0][0]
    assert folding_pays(
        2 * T * H * W, getattr(blk, f"{name}_attn").proj, getattr(blk, f"{name}_fc")
    )
    torch.testing.assert_close(out, ref_out, atol=1e-5, rtol=1e-5)
    for name, grad in grads.items():  # gradients reach ~60: float32 rounding of the largest
        atol = 2e-6 * ref_grads[name].abs().max().item()
        torch.testing.assert_close(
            grad, ref_grads[name], atol=atol, rtol=0, msg=lambda m, n=name: f"{n}: {m}"
        )


def test_official_init_is_blind_to_frame_order_and_time_embed_init_std_is_not():
    """Zero time embedding + zero temporal fc (official init): reversing the frames gives
    the same logits, the saddle a from-scratch run must leave; a random time embedding
    (``time_embed_init_std``, used by the demo recipe) breaks it from the first step."""
    x = torch.randn(2, 3, 4, 32, 32)
    official = create_model("timesformer", **TINY, drop_path_rate=0.0).eval()
    assert not official.time_embed.any()
    torch.testing.assert_close(official(x.flip(2)), official(x), atol=1e-5, rtol=0)
    scratch = create_model(
        "timesformer", **TINY, drop_path_rate=0.0, time_embed_init_std=1.0
    ).eval()
    assert 0.8 < scratch.time_embed.std().item() < 1.2
    assert (scratch(x.flip(2)) - scratch(x)).abs().max() > 1e-3


def test_pos_embed_init_sincos_and_bad_value():
    from videoformer.layers import sincos_2d

    model = create_model("timesformer", **TINY, pos_embed_init="sincos")
    torch.testing.assert_close(model.pos_embed[0, 1:].detach(), sincos_2d((4, 4), 32))
    with pytest.raises(ValueError, match="pos_embed_init 'fourier'"):
        create_model("timesformer", **TINY, pos_embed_init="fourier")
