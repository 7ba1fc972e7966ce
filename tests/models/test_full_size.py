"""Full-size variants at their default input (slow: `make test-slow`)."""

import pytest
import torch

from videoformer import create_model


@pytest.mark.slow
@pytest.mark.parametrize(
    "name", ["timesformer_base", "video_swin_tiny", "swin_tiny", "perceiver_io_imagenet_fourier"]
)
def test_full_size_forward_is_per_sample(name):
    """Finite logits of the right size, and a clip's logits do not depend on its batch."""
    model = create_model(name).eval()
    x = torch.randn(2, *model.input_shape)
    with torch.no_grad():
        both = model(x)
        alone = model(x[1:])
    assert both.shape == (2, model.config.num_classes) and torch.isfinite(both).all()
    torch.testing.assert_close(both[1:], alone, atol=1e-4, rtol=1e-4)
