"""Video Swin checkpoints: the official mmaction release, torchvision ``swin3d_*``, and
2D Swin checkpoints inflated to 3D as the Video Swin paper initialises from ImageNet.

Official files hold ``state_dict`` with ``backbone.*`` (our names) and
``cls_head.fc_cls.*``; mmaction2 1.x names the final norm after its output stage
(``backbone.norm3``, out_indices (3,)) where the original release says ``backbone.norm``.
torchvision numbers its modules: ``features.0`` is the patch embedding, odd
``features.{2i+1}`` are the stages' blocks, even ``features.{2i+2}`` the PatchMergings;
MLP Linears are ``mlp.0`` and ``mlp.3``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from torch import Tensor

from .layouts import Layout, StateDict, register_layout
from .swin_official import (
    convert_timm_swin,
    drop_rebuilt_buffers,
    is_swin,
    is_swin_2d,
    is_timm_swin,
    resize_bias_table,
)


def convert_official_video_swin(sd: Mapping[str, Tensor], config=None) -> StateDict:
    out = {}
    for key, value in drop_rebuilt_buffers(sd).items():
        if key.startswith("backbone.norm3."):  # mmaction2 1.x
            out["norm." + key.removeprefix("backbone.norm3.")] = value
        elif key.startswith("backbone."):
            out[key.removeprefix("backbone.")] = value
        elif key.startswith("cls_head.fc_cls."):
            out["head." + key.removeprefix("cls_head.fc_cls.")] = value
        else:
            raise KeyError(f"official Video Swin key {key!r} has no videoformer counterpart")
    return out


def rename_torchvision_key(key: str) -> str:
    if m := re.match(r"features\.0\.(.+)", key):
        return f"patch_embed.{m.group(1)}"
    if m := re.match(r"features\.(\d+)\.(\d+)\.(.+)", key):  # a block of stage (n-1)/2
        stage, block, rest = (int(m.group(1)) - 1) // 2, m.group(2), m.group(3)
        rest = rest.replace("mlp.0.", "mlp.fc1.").replace("mlp.3.", "mlp.fc2.")
        return f"layers.{stage}.blocks.{block}.{rest}"
    if m := re.match(r"features\.(\d+)\.(.+)", key):  # PatchMerging after stage n/2 - 1
        return f"layers.{int(m.group(1)) // 2 - 1}.downsample.{m.group(2)}"
    if key.startswith(("norm.", "head.")):
        return key
    raise KeyError(f"torchvision swin3d key {key!r} has no videoformer counterpart")


def convert_torchvision_video_swin(sd: Mapping[str, Tensor], config=None) -> StateDict:
    return {rename_torchvision_key(k): v for k, v in drop_rebuilt_buffers(sd).items()}


def inflate_swin_2d_to_3d(sd: Mapping[str, Tensor], config) -> StateDict:
    """A 2D Swin state dict (official or our keys) -> Video Swin for ``config``.

    The patch embedding is repeated over the temporal patch size and divided by it (a
    static clip then embeds like the image); each bias table is resampled (bicubic) if
    the spatial window differs and tiled over the ``2*Wt-1`` temporal offsets.
    """
    out = {}
    Wt, Wh, Ww = config.window_size
    pt = config.patch_size[0]
    for key, value in drop_rebuilt_buffers(sd).items():
        if key == "patch_embed.proj.weight":
            value = value.unsqueeze(2).repeat(1, 1, pt, 1, 1) / pt  # (D, C, pt, ph, pw)
        elif key.endswith("relative_position_bias_table"):
            side = round(value.shape[0] ** 0.5)
            src = ((side + 1) // 2,) * 2
            value = resize_bias_table(value, src, (Wh, Ww)).repeat(2 * Wt - 1, 1)
        out[key] = value
    return out


register_layout(
    Layout(
        name="video_swin_official",
        family="video_swin",
        detect=lambda sd: "backbone.patch_embed.proj.weight" in sd,
        convert=convert_official_video_swin,
        description=(
            "SwinTransformer/Video-Swin-Transformer (mmaction): backbone.*, cls_head.fc_cls.*"
        ),
    )
)

register_layout(
    Layout(
        name="video_swin_torchvision",
        family="video_swin",
        detect=lambda sd: "features.0.proj.weight" in sd,
        convert=convert_torchvision_video_swin,
        description="torchvision swin3d_t/s/b: features.*, norm, head",
    )
)

register_layout(
    Layout(
        name="swin2d_inflated",
        family="video_swin",
        detect=is_swin_2d,
        convert=lambda sd, config: inflate_swin_2d_to_3d(
            convert_timm_swin(sd) if is_timm_swin(sd) else sd, config
        ),
        description="a 2D Swin checkpoint (official or timm) inflated to 3D "
        "(ImageNet initialisation)",
    )
)

register_layout(
    Layout(
        name="video_swin_videoformer",
        family="video_swin",
        detect=lambda sd: is_swin(sd, 5),
        convert=lambda sd, config: drop_rebuilt_buffers(sd),
        description="videoformer's own Video Swin keys (= the official backbone names)",
    )
)
