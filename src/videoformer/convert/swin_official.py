"""Swin Transformer 2D checkpoints: microsoft/Swin-Transformer and timm.

Official files hold ``checkpoint['model']`` with our key names plus the buffers
``relative_position_index`` and ``attn_mask``, which we rebuild and never load.
timm (>= 0.9) puts each PatchMerging at the start of the next stage
(``layers.{i+1}.downsample``) and the classifier under ``head.fc``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch.nn.functional as F
from torch import Tensor

from .layouts import RESIZERS, Layout, StateDict, register_layout

IGNORED = ("relative_position_index", "attn_mask")


def drop_rebuilt_buffers(sd: Mapping[str, Tensor]) -> StateDict:
    return {k: v for k, v in sd.items() if not k.endswith(IGNORED)}


def convert_official_swin(sd: Mapping[str, Tensor], config=None) -> StateDict:
    return drop_rebuilt_buffers(sd)


def convert_timm_swin(sd: Mapping[str, Tensor], config=None) -> StateDict:
    out = {}
    for key, value in drop_rebuilt_buffers(sd).items():
        m = re.match(r"layers\.(\d+)\.downsample\.(.+)", key)
        if m:
            key = f"layers.{int(m.group(1)) - 1}.downsample.{m.group(2)}"
        elif key.startswith("head.fc."):
            key = "head." + key.removeprefix("head.fc.")
        out[key] = value
    return out


def resize_bias_table(table: Tensor, src: tuple[int, int], dst: tuple[int, int]) -> Tensor:
    """A ``((2Wh-1)(2Ww-1), nH)`` table for window ``src`` resampled (bicubic) to ``dst``."""
    if src == dst:
        return table
    nH = table.shape[1]
    grid = table.T.reshape(1, nH, 2 * src[0] - 1, 2 * src[1] - 1)
    grid = F.interpolate(
        grid.float(), size=(2 * dst[0] - 1, 2 * dst[1] - 1), mode="bicubic", align_corners=False
    )
    return grid.reshape(nH, -1).T.to(table.dtype).contiguous()


def _table_window(rows: int) -> int:
    side = round(rows**0.5)
    return (side + 1) // 2


def resize_swin_tables(sd: Mapping[str, Tensor], config) -> StateDict:
    """Resample 2D bias tables (bicubic) to the windows a Swin ``config`` builds per stage."""
    out = dict(sd)
    grid = -(-config.img_size // config.patch_size)
    for key, table in sd.items():
        m = re.match(r"layers\.(\d+)\.blocks\.\d+\.attn\.relative_position_bias_table", key)
        if not m:
            continue
        res = -(-grid // 2 ** int(m.group(1)))
        w = min(config.window_size, res)
        src = _table_window(table.shape[0])
        out[key] = resize_bias_table(table, (src, src), (w, w))
    return out


RESIZERS["swin"] = resize_swin_tables


def is_swin(sd: Mapping[str, Tensor], ndim: int) -> bool:
    """A Swin state dict with our (= the official backbone) names: bias tables and an
    ``ndim``-d patch embedding (4: 2D Swin, official, timm or ours; 5: Video Swin)."""
    patch = sd.get("patch_embed.proj.weight")
    return (
        patch is not None
        and patch.ndim == ndim
        and "layers.0.blocks.0.attn.relative_position_bias_table" in sd
    )


def is_swin_2d(sd: Mapping[str, Tensor]) -> bool:
    return is_swin(sd, 4)


def is_timm_swin(sd: Mapping[str, Tensor]) -> bool:
    """timm's arrangement: classifier ``head.fc`` or merging at the start of stage 1."""
    return "head.fc.weight" in sd or (
        "layers.1.downsample.reduction.weight" in sd
        and "layers.0.downsample.reduction.weight" not in sd
    )


register_layout(
    Layout(
        name="swin_timm",
        family="swin",
        detect=lambda sd: is_swin_2d(sd) and is_timm_swin(sd),
        convert=convert_timm_swin,
        description="timm Swin (downsample at the start of the next stage, head.fc)",
    )
)

register_layout(
    Layout(
        name="swin_official",
        family="swin",
        detect=lambda sd: is_swin_2d(sd) and not is_timm_swin(sd),
        convert=convert_official_swin,
        description="microsoft/Swin-Transformer checkpoint['model'] (and videoformer's Swin keys)",
    )
)
