"""The opt-in torch.compile path: the same logits, nothing compiled in checkpoints, and
the Swin family traced whole."""

import pytest
import torch
from safetensors.torch import load_file

import videoformer
from videoformer import create_model
from videoformer.layers import window_layout

TINY = dict(
    img_size=32, patch_size=8, num_frames=4, embed_dim=32, depth=1, num_heads=2, num_classes=5
)


def test_compiled_model_gives_the_same_logits_and_saves_clean(tmp_path):
    model = create_model("timesformer", **TINY).eval()
    compiled = videoformer.compile_model(model)
    x = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        # docs/performance.md: within 3e-8 here, so within 10x of it
        torch.testing.assert_close(compiled(x), model(x), atol=3e-7, rtol=0)
    assert videoformer.unwrap_model(compiled) is model
    assert any(k.startswith("_orig_mod.") for k in compiled.state_dict())  # what must not leak
    path = videoformer.save_model(compiled, tmp_path / "m.safetensors")
    assert set(load_file(path)) == set(model.state_dict())


# shifted windows in both stages, with other shift groups in each (Video Swin: along T, H
# and W in the first, T only in the second)
SWIN_FAMILY = [
    ("swin", dict(img_size=56, embed_dim=48, depths=(2, 2), num_heads=(3, 6)), (1, 3, 56, 56)),
    (
        "video_swin",
        dict(embed_dim=48, depths=(2, 2), num_heads=(3, 6), window_size=(2, 7, 7)),
        (1, 3, 8, 56, 56),
    ),
]


@pytest.mark.parametrize("name, config, shape", SWIN_FAMILY, ids=["swin", "video_swin"])
@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
def test_the_swin_family_traces_as_one_graph(name, config, shape, training):
    """A graph break inside a shape-only helper (window layout, bias index) made Dynamo
    compile every block on its own for each stage's size, then with dynamic shapes, and
    the compiled model slower than eager (docs/performance.md): none is left."""
    model = create_model(name, **config).train(training)
    try:
        explanation = torch._dynamo.explain(model)(torch.randn(shape))
    finally:
        torch._dynamo.reset()
    assert explanation.graph_break_count == 0, [b.reason for b in explanation.break_reasons]
    assert explanation.graph_count == 1


@pytest.mark.parametrize("name, config, shape", SWIN_FAMILY, ids=["swin", "video_swin"])
def test_the_window_layouts_enter_the_graph_as_constants_from_the_eager_cache(name, config, shape):
    """The shift, the partition order and the masks are made once, for real, when Dynamo
    traces (not rebuilt by the graph at every call, nor their Python traced: minutes of
    compile), and kept in the cache the eager calls use."""
    model = create_model(name, **config).eval()
    x = torch.randn(shape)
    window_layout.cache_clear()
    try:
        explanation = torch._dynamo.explain(model)(x)
    finally:
        torch._dynamo.reset()
    ops = [str(n.target) for g in explanation.graphs for n in g.graph.nodes]
    assert not [op for op in ops if "roll" in op or "masked_fill" in op]
    made = window_layout.cache_info().misses
    # each stage unshifted and shifted, but Swin's 7x7 second stage is not shifted
    assert made == {"swin": 3, "video_swin": 4}[name]
    with torch.no_grad():
        model(x)  # eager: real tensors from the same cache
    assert window_layout.cache_info().misses == made
