"""Inference writes residual sums, GELUs and softmaxes into its own temporaries: the same
bits as the out-of-place ops, never where autograd or a forward hook may read the
tensor overwritten."""

import sys

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from videoformer import create_model
from videoformer.layers import DropPath, Mlp, add_residual
from videoformer.layers.attention import probabilities
from videoformer.models.perceiver import ByteArray


def test_without_autograd_the_sum_is_written_into_the_branch():
    x, branch = torch.randn(2, 5, 8), torch.randn(2, 5, 8)
    expected = x + branch
    with torch.no_grad():
        out = add_residual(x, branch, DropPath(0.3).eval())
    assert out is branch and torch.equal(out, expected)


def test_with_autograd_the_branch_is_left_as_it_was():
    x = torch.randn(2, 5, 8, requires_grad=True)
    branch = torch.randn(2, 5, 8)
    before = branch.clone()
    out = add_residual(x, branch)
    assert out is not branch and torch.equal(branch, before)
    out.sum().backward()
    assert torch.equal(x.grad, torch.ones_like(x))


@pytest.mark.parametrize(
    "case", ["hook on the producer", "global hook", "other dtype", "broadcast", "strided"]
)
def test_the_branch_is_not_overwritten_where_something_else_reads_it(case):
    x, branch = torch.randn(2, 5, 8), torch.randn(2, 5, 8)
    producer = nn.Identity()
    handle = None
    if case == "hook on the producer":
        handle = producer.register_forward_hook(lambda m, i, o: None)
    elif case == "global hook":
        handle = nn.modules.module.register_module_forward_hook(lambda m, i, o: None)
    elif case == "other dtype":
        branch = branch.bfloat16()
    elif case == "broadcast":
        branch = branch[:1]
    elif case == "strided":
        branch = torch.randn(2, 8, 5).transpose(1, 2)
    before = branch.clone()
    try:
        with torch.no_grad():
            out = add_residual(x, branch, producer=producer)
    finally:
        if handle is not None:
            handle.remove()
    assert torch.equal(branch, before)
    assert out.dtype == torch.float32 and torch.equal(out, x + before)


def test_drop_path_in_training_draws_as_before():
    x, branch = torch.randn(4, 5, 8), torch.randn(4, 5, 8)
    drop = DropPath(0.5).train()
    torch.manual_seed(3)
    expected = x + drop(branch)
    torch.manual_seed(3)
    with torch.no_grad():
        assert torch.equal(add_residual(x, branch, drop), expected)


def test_the_mlp_without_autograd_matches_the_plain_path_and_spares_a_hooked_fc1():
    torch.manual_seed(0)
    mlp = Mlp(8, 32).eval()
    x = torch.randn(2, 5, 8)
    with torch.no_grad():
        expected = mlp.fc2(F.gelu(mlp.fc1(x)))
        assert torch.equal(mlp(x), expected)
        seen = []
        handle = mlp.fc1.register_forward_hook(lambda m, i, o: seen.append(o))
        assert torch.equal(mlp(x), expected)
        handle.remove()
    assert torch.equal(seen[0], mlp.fc1(x))  # fc1's output, not its GELU


@pytest.mark.parametrize("mask", [None, "same dtype", "float64", "wider than the scores"])
def test_probabilities_without_autograd_are_those_with_it(mask):
    torch.manual_seed(0)
    q, k = torch.randn(3, 2, 7, 4), torch.randn(3, 2, 7, 4)
    m = {
        None: None,
        "same dtype": torch.randn(1, 2, 7, 7),
        "float64": torch.randn(1, 2, 7, 7, dtype=torch.float64),
        "wider than the scores": torch.randn(5, 3, 2, 7, 7),
    }[mask]
    with torch.enable_grad():
        expected = probabilities(q, k, m, 0.5)
    with torch.no_grad():
        got = probabilities(q, k, m, 0.5)
    assert got.dtype == expected.dtype and torch.equal(got, expected)


FAMILIES = {
    "timesformer": (
        dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, num_frames=4),
        (2, 3, 4, 32, 32),
    ),
    "swin": (dict(img_size=56, embed_dim=24, depths=(2, 2), num_heads=(2, 4)), (2, 3, 56, 56)),
    "video_swin": (
        dict(embed_dim=24, depths=(2, 2), num_heads=(2, 4), window_size=(2, 7, 7)),
        (1, 3, 4, 56, 56),
    ),
    "perceiver": (
        dict(
            inputs=(
                ByteArray("video", "BCS", 3, (2, 4, 4), num_bands=4, max_resolution=(4, 16, 16)),
            ),
            num_latents=8,
            latent_dim=32,
            num_cross_attends=2,
            latent_blocks_per_cross_attend=2,
            latent_heads=4,
        ),
        (2, 3, 4, 16, 16),
    ),
}


@pytest.mark.parametrize("family", FAMILIES)
def test_whole_models_give_the_same_bits_and_hooks_see_true_outputs(family, monkeypatch):
    """A global no-op forward hook switches every in-place op off: logits must not move,
    and a hook on a block's MLP, or on a Linear inside it, keeps that module's own output."""
    overrides, shape = FAMILIES[family]
    torch.manual_seed(0)
    model = create_model(family, num_classes=5, **overrides).eval()
    x = torch.randn(*shape)
    mlp = next(m for m in model.modules() if isinstance(m, Mlp))
    block = next(m for m in model.modules() if any(c is mlp for c in m.children()))
    family_module = sys.modules[type(block).__module__]  # Video Swin's blocks are Swin's
    in_place = []

    def counted(x, branch, *args, **kwargs):
        out = add_residual(x, branch, *args, **kwargs)
        in_place.append(out is branch)
        return out

    monkeypatch.setattr(family_module, "add_residual", counted)
    with torch.no_grad():
        fast = model(x)
        assert in_place and all(in_place)
        handle = nn.modules.module.register_module_forward_hook(lambda m, i, o: None)
        plain = model(x)
        handle.remove()
        for hooked in (mlp, mlp.fc2):  # the MLP's output is its fc2's
            seen = []
            handle = hooked.register_forward_hook(
                lambda m, i, o, seen=seen: seen.append((i, o.clone(), o))
            )
            assert torch.equal(model(x), fast)
            handle.remove()
            (inputs, copy, kept), *_ = seen
            assert torch.equal(kept, copy)
            assert torch.equal(kept, hooked(*inputs))
    assert torch.equal(fast, plain)
