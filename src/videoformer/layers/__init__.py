"""Reusable blocks with no model identity."""

from .attention import Attention, merge_heads, split_heads
from .drop import DropPath, drop_path, drop_path_rates
from .mlp import Mlp
from .patch_embed import PatchEmbed2d
from .pos_embed import resample_pos_embed, resample_time_embed

__all__ = [
    "Attention",
    "DropPath",
    "Mlp",
    "PatchEmbed2d",
    "drop_path",
    "drop_path_rates",
    "merge_heads",
    "resample_pos_embed",
    "resample_time_embed",
    "split_heads",
]
