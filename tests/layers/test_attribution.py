"""Relevance maps: recorded attention, rollout against hand-built matrices, Grad-CAM."""

import pytest
import torch

from videoformer import create_model
from videoformer.layers import gradient_weighted, latent_rollout, record_attention, scatter_groups
from videoformer.models.timesformer import ATTENTION_TYPES

TINY = dict(
    img_size=32,
    patch_size=8,
    num_frames=4,
    embed_dim=32,
    depth=2,
    num_heads=2,
    num_classes=5,
    drop_path_rate=0.0,
)
VIDEO_SWIN = dict(
    img_size=32,
    num_frames=4,
    patch_size=[2, 4, 4],
    embed_dim=32,
    depths=[2, 2],
    num_heads=[2, 4],
    window_size=[2, 4, 4],
    num_classes=5,
)
PERCEIVER = dict(
    inputs=[
        {
            "name": "video",
            "layout": "BCS",
            "channels": 3,
            "patch_size": [1, 4, 4],
            "num_bands": 4,
            "max_resolution": [4, 8, 8],
        }
    ],
    num_latents=16,
    latent_dim=32,
    num_cross_attends=2,
    latent_blocks_per_cross_attend=2,
    latent_heads=2,
    num_classes=5,
)


def _tiny(family, **kw):
    model = create_model(family, **kw).eval()
    with torch.no_grad():  # trained-looking weights: attention far from uniform
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    return model


@pytest.mark.parametrize(
    ("family", "kw", "shape"),
    [("timesformer", {**TINY, "attention_type": a}, (1, 3, 4, 32, 32)) for a in ATTENTION_TYPES]
    + [("video_swin", VIDEO_SWIN, (2, 3, 4, 32, 32)), ("perceiver", PERCEIVER, (2, 3, 4, 32, 32))],
)
def test_recording_computes_the_same_function_and_sees_every_attention(family, kw, shape):
    model = _tiny(family, **kw)
    x = torch.randn(shape)
    with torch.no_grad():
        fused = model(x)
        with record_attention() as records:
            explicit = model(x)
    torch.testing.assert_close(explicit, fused, atol=1e-5, rtol=1e-5)
    attention_layers = {id(m) for m in model.modules() if hasattr(m, "qkv") or hasattr(m, "q")}
    assert {id(layer) for layer, _ in records} == attention_layers
    for _, probs in records:  # rows are distributions
        torch.testing.assert_close(probs.sum(-1), torch.ones(probs.shape[:-1]))


def _qkv_inputs(model):
    """Hooks that keep what every attention's qkv Linear reads: (G, L, D) per call."""
    seen = {}
    handles = [
        m.qkv.register_forward_hook(lambda mod, inp, out, m=m: seen.__setitem__(id(m), inp[0]))
        for m in model.modules()
        if hasattr(m, "qkv")
    ]
    return seen, handles


def _probs_by_hand(attn, x):
    """softmax(q kᵀ / sqrt(hd)) averaged over heads, from the layer's own weights. x: (G, L, D)."""
    G, L, D = x.shape
    q, k, _ = (x @ attn.qkv.weight.T + attn.qkv.bias).view(G, L, 3, attn.num_heads, -1).unbind(2)
    scores = torch.einsum("glhd,gmhd->ghlm", q, k) * attn.head_dim**-0.5
    return scores.softmax(-1).mean(1)  # (G, L, L)


def test_divided_rollout_equals_a_hand_built_product():
    """Divided attention: the temporal matrices (each patch over its frames) and the spatial
    ones (each frame with the cls token, whose row is the mean over frames) built by loops
    from the layers' weights, then 0.5 A + 0.5 I multiplied; the cls row is the map."""
    model = _tiny("timesformer", **TINY, attention_type="divided_space_time")
    x = torch.randn(1, 3, 4, 32, 32)
    T, h, w = 4, 4, 4
    n = 1 + T * h * w

    def token(hi, wi, t):  # tokens are (h, w, t), time fastest, after the cls token
        return 1 + (hi * w + wi) * T + t

    seen, handles = _qkv_inputs(model)
    product = torch.eye(n)
    with torch.no_grad():
        model(x)
        for blk in model.blocks:
            temporal = torch.eye(n)
            probs = _probs_by_hand(blk.temporal_attn, seen[id(blk.temporal_attn)])
            for hi in range(h):
                for wi in range(w):
                    ids = [token(hi, wi, t) for t in range(T)]
                    temporal[torch.tensor(ids)[:, None], torch.tensor(ids)] = probs[hi * w + wi]
            spatial = torch.zeros(n, n)
            probs = _probs_by_hand(blk.attn, seen[id(blk.attn)])
            for t in range(T):
                ids = torch.tensor([0] + [token(hi, wi, t) for hi in range(h) for wi in range(w)])
                spatial[ids[1:, None], ids] = probs[t, 1:]
                spatial[0, ids] += probs[t, 0] / T
            for matrix in (temporal, spatial):
                product = (0.5 * matrix + 0.5 * torch.eye(n)) @ product
    for handle in handles:
        handle.remove()
    expected = product[0, 1:].view(h, w, T).permute(2, 0, 1)
    got = model.relevance(x, method="rollout").map
    torch.testing.assert_close(got, expected / expected.sum(), atol=1e-6, rtol=1e-5)


def test_joint_rollout_equals_a_hand_built_product():
    model = _tiny("timesformer", **TINY, attention_type="joint_space_time")
    x = torch.randn(1, 3, 4, 32, 32)
    seen, handles = _qkv_inputs(model)
    with torch.no_grad():
        model(x)
    for handle in handles:
        handle.remove()
    product = torch.eye(65)
    for blk in model.blocks:
        probs = _probs_by_hand(blk.attn, seen[id(blk.attn)])[0]
        product = (0.5 * probs + 0.5 * torch.eye(65)) @ product
    expected = product[0, 1:].view(4, 4, 4).permute(2, 0, 1)  # (h, w, t) -> (t, h, w)
    got = model.relevance(x, method="rollout").map
    torch.testing.assert_close(got, expected / expected.sum(), atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("attention", ATTENTION_TYPES)
def test_gradient_rollout_depends_on_the_class_and_plain_rollout_does_not(attention):
    model = _tiny("timesformer", **TINY, attention_type=attention)
    x = torch.randn(1, 3, 4, 32, 32)
    maps = [model.relevance(x, target=c).map for c in (0, 1)]
    assert maps[0].shape == (4, 4, 4) and not torch.allclose(maps[0], maps[1])
    plain = [model.relevance(x, target=c, method="rollout").map for c in (0, 1)]
    torch.testing.assert_close(plain[0], plain[1])
    for m in maps + plain:
        assert m.min() >= 0 and abs(float(m.sum()) - 1) < 1e-5
    assert all(p.grad is None for p in model.parameters())  # weights untouched


def test_scatter_groups_shares_and_leaves_the_rest():
    probs = torch.tensor([[[0.5, 0.5], [0.2, 0.8]], [[0.9, 0.1], [0.4, 0.6]]])
    index = torch.tensor([[0, 1], [0, 2]])  # token 0 in both groups, token 3 in none
    mean = scatter_groups(probs, index, 4)
    torch.testing.assert_close(mean[0], torch.tensor([0.7, 0.25, 0.05, 0.0]))
    torch.testing.assert_close(mean[3], torch.tensor([0.0, 0.0, 0.0, 1.0]))
    summed = scatter_groups(probs, index, 4, shared="sum", unseen=0.0)
    torch.testing.assert_close(summed[0], torch.tensor([1.4, 0.5, 0.1, 0.0]))
    assert summed[3].abs().sum() == 0


def test_latent_rollout_equals_the_augmented_product():
    """Latents and bytes as one token set whose byte rows never change."""
    N, M = 3, 5
    steps = [
        ("cross", torch.rand(N, M).softmax(-1)),
        ("self", torch.rand(N, N).softmax(-1)),
        ("cross", torch.rand(N, M).softmax(-1)),
    ]
    product = torch.eye(N + M)
    for kind, probs in steps:
        attention = torch.zeros(N + M, N + M)
        if kind == "self":
            attention[:N, :N] = probs
        else:
            attention[:N, N:] = probs
        layer = 0.5 * attention + 0.5 * torch.eye(N + M)
        layer[N:] = torch.eye(N + M)[N:]  # bytes never change
        product = layer @ product
    torch.testing.assert_close(latent_rollout(steps, N, M), product[:N])


def test_perceiver_map_is_on_the_patch_grid():
    model = _tiny("perceiver", **PERCEIVER)
    x = torch.zeros(1, 3, 4, 32, 32)
    result = model.relevance(x)
    assert result.map.shape == (4, 8, 8) and abs(float(result.map.sum()) - 1) < 1e-5
    with pytest.raises(ValueError, match="rollout"):
        model.relevance(x, method="grad_cam")


def test_grad_cam_equals_the_formula_and_needs_no_trainable_weights():
    model = _tiny("video_swin", **VIDEO_SWIN)
    x = torch.randn(1, 3, 4, 32, 32)
    kept = {}
    handle = model.layers[-1].register_forward_hook(lambda m, i, o: kept.setdefault("a", o))
    logits = model(x)[0]
    handle.remove()
    (grad,) = torch.autograd.grad(logits[3], kept["a"])
    weights = grad[0].flatten(0, -2).mean(0)
    expected = torch.relu((kept["a"][0] * weights).sum(-1)).detach()
    result = model.relevance(x, target=3)
    torch.testing.assert_close(result.map, expected / expected.sum())
    for p in model.parameters():
        p.requires_grad_(False)
    torch.testing.assert_close(model.relevance(x, target=3).map, result.map)


def test_gradient_weighting_keeps_only_the_positive_part_of_grad_times_attention():
    """Chefer et al.'s Ā = mean over heads of (∂y/∂A ⊙ A)⁺: negative products are dropped
    before the heads are averaged (clamping after averaging, or taking |.|, differs)."""
    probs = torch.tensor([[[0.5, 0.5], [0.9, 0.1]], [[0.2, 0.8], [0.6, 0.4]]])  # (nH=2, 2, 2)
    probs.requires_grad_()
    probs.grad = torch.tensor([[[1.0, -1.0], [2.0, 0.5]], [[-3.0, 1.0], [1.0, -1.0]]])
    expected = torch.tensor([[0.25, 0.4], [1.2, 0.025]])  # (max(g*a, 0) averaged over heads)
    torch.testing.assert_close(gradient_weighted(probs), expected)
    clamped_after_mean = (probs.grad * probs).mean(0).clamp(min=0).detach()
    assert not torch.allclose(gradient_weighted(probs), clamped_after_mean)
