"""FLOP counting with ``torch.utils.flop_counter`` (2 FLOPs per multiply-add).

The papers count multiply-adds ("FLOPs" in their tables); this counter reports
twice that. PyTorch has no formula for the CPU flash-attention kernel, so one is
registered here with the same count as its SDPA formula; without it every
attention model looks cheaper than it is.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count


def _cpu_flash_attention_flops(query, key, value, *args, out_shape=None, **kwargs) -> int:
    return sdpa_flop_count(query, key, value)


CUSTOM_FLOPS = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _cpu_flash_attention_flops}


def count_flops(model: nn.Module, inputs: torch.Tensor | tuple[int, ...] | dict) -> int:
    """FLOPs (2 per MAC) of one forward. ``inputs`` is a tensor, a dict of tensors, or a
    shape; shapes are counted on the ``meta`` device when the model is on it."""
    if isinstance(inputs, tuple):
        device = next(model.parameters()).device
        inputs = torch.zeros(inputs, device=device)
    counter = FlopCounterMode(display=False, custom_mapping=CUSTOM_FLOPS)
    with torch.no_grad(), counter:
        model(inputs)
    return counter.get_total_flops()


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
