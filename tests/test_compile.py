"""The opt-in torch.compile path: the same logits, and nothing compiled in checkpoints."""

import torch
from safetensors.torch import load_file

import videoformer
from videoformer import create_model

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
