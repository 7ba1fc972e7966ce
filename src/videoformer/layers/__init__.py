"""Reusable blocks with no model identity."""

from .attention import Attention, dot_product_attention, merge_heads, record_attention, split_heads
from .attribution import (
    METHODS,
    AttentionGraph,
    Relevance,
    grad_cam,
    gradient_weighted,
    grouped_rollout,
    latent_rollout,
    normalised,
    rollout_step,
    scatter_groups,
)
from .drop import DropPath, drop_path, drop_path_rates
from .folded_linears import folded_linears
from .fourier import fourier_channels, fourier_features, grid_fourier_features, linear_positions
from .in_place import add_residual, may_overwrite
from .mlp import Mlp
from .patch_embed import PatchEmbedNd
from .pos_embed import resample_pos_embed, resample_time_embed, sincos_2d
from .rel_pos import relative_position_bias, relative_position_index
from .windows import (
    WindowLayout,
    effective_window,
    padded_size,
    shift_mask,
    window_layout,
    window_partition,
)

__all__ = [
    "WindowLayout",
    "Attention",
    "AttentionGraph",
    "METHODS",
    "Relevance",
    "grouped_rollout",
    "latent_rollout",
    "normalised",
    "dot_product_attention",
    "grad_cam",
    "gradient_weighted",
    "record_attention",
    "rollout_step",
    "scatter_groups",
    "DropPath",
    "add_residual",
    "may_overwrite",
    "Mlp",
    "PatchEmbedNd",
    "drop_path",
    "drop_path_rates",
    "effective_window",
    "folded_linears",
    "fourier_channels",
    "fourier_features",
    "grid_fourier_features",
    "linear_positions",
    "merge_heads",
    "padded_size",
    "relative_position_bias",
    "relative_position_index",
    "resample_pos_embed",
    "resample_time_embed",
    "shift_mask",
    "sincos_2d",
    "split_heads",
    "window_partition",
    "window_layout",
]
