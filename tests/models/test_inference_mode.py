"""A model run under ``torch.inference_mode()`` trains afterwards in the same process, for
every family: no cached tensor keeps the grad mode it was made under (predict, then
fine-tune in one notebook)."""

import pytest
import torch

from tests.layers.test_attribution import PERCEIVER, VIDEO_SWIN
from videoformer import create_model

FAMILIES = {
    "timesformer": dict(
        img_size=32, patch_size=8, num_frames=4, embed_dim=32, depth=1, num_heads=2, num_classes=5
    ),
    "swin": dict(img_size=56, embed_dim=16, depths=(2, 2), num_heads=(2, 4), num_classes=5),
    "video_swin": VIDEO_SWIN,
    "perceiver": PERCEIVER,
    "perceiver_io": dict(
        num_latents=8,
        d_latents=32,
        num_blocks=1,
        num_self_attends_per_block=1,
        num_self_attention_heads=2,
        image_size=32,
        num_classes=5,
        preprocessor="learned",
        d_model=512,
    ),
}


@pytest.mark.parametrize("family", FAMILIES)
def test_inference_then_a_training_step(family):
    model = create_model(family, **FAMILIES[family])
    x = torch.randn(2, *model.input_shape)
    with torch.inference_mode():
        model.eval()(x)
    model.train()
    model(x).sum().backward()  # "Inference tensors cannot be saved for backward" before
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
