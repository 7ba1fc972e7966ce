"""FLOP counting with ``torch.utils.flop_counter`` (2 FLOPs per multiply-add).

The papers count multiply-adds ("FLOPs" in their tables); this counter reports
twice that. PyTorch has no formula for the CPU flash-attention kernel, so one is
registered here with the same count as its SDPA formula; without it every
attention model looks cheaper than it is. Two Linears the library runs as one
product (``layers/folded_linears.py``) are counted as the two the model defines, so
counts are the architecture's, comparable with the papers' and the official code's.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

from .layers.folded_linears import as_written


def _cpu_flash_attention_flops(query, key, value, *args, out_shape=None, **kwargs) -> int:
    return sdpa_flop_count(query, key, value)


CUSTOM_FLOPS = {
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _cpu_flash_attention_flops
}


def count_flops(model: nn.Module, inputs: torch.Tensor | tuple[int, ...] | dict) -> int:
    """FLOPs (2 per MAC) of one forward. ``inputs`` is a tensor, a shape, or a dict of
    either; shapes become zeros on the model's device (``meta`` counts instantly)."""
    device = next(model.parameters()).device
    if isinstance(inputs, tuple):
        inputs = torch.zeros(inputs, device=device)
    elif isinstance(inputs, dict):
        inputs = {
            k: torch.zeros(v, device=device) if isinstance(v, tuple) else v
            for k, v in inputs.items()
        }
    counter = FlopCounterMode(display=False, custom_mapping=CUSTOM_FLOPS)
    # The counter's module tracker fails on inputs that require grad but have no grad_fn
    # (seen with the Perceivers): count with gradients off everywhere, then restore.
    trainable = [p for p in model.parameters() if p.requires_grad]
    try:
        for p in trainable:
            p.requires_grad_(False)
        with torch.no_grad(), as_written(), counter:
            model(inputs)
    finally:
        for p in trainable:
            p.requires_grad_(True)
    return counter.get_total_flops()


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
