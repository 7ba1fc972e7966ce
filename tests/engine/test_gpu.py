"""GPU-only paths (``-m gpu``; deselected by default, skipped without CUDA)."""

import pytest
import torch

from tests.engine.conftest import tiny_overrides
from videoformer.engine.checkpointing import load_training_checkpoint
from videoformer.engine.config import load_config
from videoformer.engine.train import Trainer

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_mixed_precision_steps_on_gpu(tiny_data, tmp_path, precision):
    cfg = load_config(
        None, tiny_overrides(tiny_data, tmp_path / precision, precision=precision, max_steps=3)
    )
    trainer = Trainer(cfg)
    assert trainer.info.device.type == "cuda"
    trainer.fit()
    ckpt = load_training_checkpoint(tmp_path / precision / "checkpoint.pt")
    assert ckpt["step"] == 3 and all(
        torch.isfinite(v).all() for v in ckpt["model"].values() if v.is_floating_point()
    )
    if precision == "fp16":
        assert ckpt["scaler"]["scale"] > 0  # the gradient scaler ran
