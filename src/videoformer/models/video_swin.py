"""Video Swin Transformer: Swin's blocks in 3D windows.

Paper: https://arxiv.org/abs/2106.13230 (Liu et al., CVPR 2022).

Reuses ``SwinStage``/``SwinBlock``/``PatchMerging`` from ``swin.py`` with windows
``(Wt, Wh, Ww)``. Any T, H, W is accepted, computed as the official code does: the
tubelet embedding pads to multiples of the patch; every block pads to multiples of
the window after norm1 (padded tokens unmasked); windows clamp to small feature
sizes with the bias index sliced from the full window's index; merging is spatial.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from torch import Tensor, nn

from ..layers import PatchEmbedNd
from ..specs import IMAGENET_MEAN, IMAGENET_STD, DataSpec, WeightsSpec, reported
from .base import init_weights, make_head
from .registry import apply_overrides, register_model
from .swin import SwinBackbone


@dataclass(frozen=True)
class VideoSwinConfig:
    patch_size: tuple[int, int, int] = (2, 4, 4)
    in_chans: int = 3
    embed_dim: int = 96
    depths: tuple[int, ...] = (2, 2, 6, 2)
    num_heads: tuple[int, ...] = (3, 6, 12, 24)
    window_size: tuple[int, int, int] = (8, 7, 7)
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    drop_rate: float = 0.0
    attn_drop_rate: float = 0.0
    drop_path_rate: float = 0.1
    patch_norm: bool = True
    num_classes: int = 400
    head_drop_rate: float = 0.5  # mmaction I3DHead dropout_ratio
    frozen_stages: int = -1
    num_frames: int = 32  # default clip length (input_shape, FLOPs); any T is accepted
    img_size: int = 224

    def __post_init__(self) -> None:
        if len(self.depths) != len(self.num_heads):
            raise ValueError(
                f"depths {self.depths} and num_heads {self.num_heads} differ in length"
            )
        if len(self.window_size) != 3 or len(self.patch_size) != 3:
            raise ValueError(
                f"window_size and patch_size need 3 entries (t, h, w), got {self.window_size}, "
                f"{self.patch_size}"
            )


class VideoSwin(SwinBackbone):
    """Video Swin classifier. Input ``(B, C, T, H, W)``, logits ``(B, num_classes)``."""

    family: ClassVar[str] = "video_swin"

    def __init__(self, config: VideoSwinConfig) -> None:
        super().__init__()
        c = self.config = config
        self.patch_embed = PatchEmbedNd(tuple(c.patch_size), c.in_chans, c.embed_dim, c.patch_norm)
        window = tuple(c.window_size)
        shift = tuple(w // 2 for w in window)
        self._build_stages(c, [window] * len(c.depths), [shift] * len(c.depths))
        self.head_drop = nn.Dropout(c.head_drop_rate)
        self.head = make_head(self.num_features, c.num_classes)
        init_weights(self)
        self.train()

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        c = self.config
        return (c.in_chans, c.num_frames, c.img_size, c.img_size)

    def default_data_config(self) -> DataSpec:
        """The official Kinetics test: 4 clips of frame interval 2."""
        c = self.config
        return DataSpec(
            c.img_size, f"{c.num_frames}x2x4", IMAGENET_MEAN, IMAGENET_STD, labels="kinetics400"
        )

    def embed(self, x: Tensor) -> Tensor:
        if x.ndim != 5 or x.shape[1] != self.config.in_chans:
            raise ValueError(
                f"Video Swin expects (B, {self.config.in_chans}, T, H, W) clips, got "
                f"{tuple(x.shape)}"
            )
        return self.pos_drop(self.patch_embed(x))  # (B, T', H', W', D)


def _video_swin(base: VideoSwinConfig, overrides: dict) -> VideoSwin:
    return VideoSwin(apply_overrides(base, overrides))


VIDEO_SWIN = "https://github.com/SwinTransformer/Video-Swin-Transformer/blob/master/README.md"
MMACTION = "https://github.com/open-mmlab/mmaction2/blob/main/configs/recognition/swin/README.md"
LABELS = {400: "kinetics400", 600: "kinetics600", 700: "kinetics700", 174: "ssv2"}
K400 = "Kinetics-400 val, 4 clips x 3 crops, top-1/top-5 of the official README"
K600 = "Kinetics-600 val, 4 clips x 3 crops, top-1/top-5 of the official README"
SSV2 = "Something-Something v2 val, 1 clip x 3 crops, top-1/top-5 of the official README"
MMACTION_K400 = "Kinetics-400 val, 4 clips x 3 crops, top-1/top-5 of mmaction2's README"
MMACTION_K700 = "Kinetics-700 val, 4 clips x 3 crops, top-1/top-5 of mmaction2's README"


def _weights(
    tag: str,
    url: str,
    source: str,
    classes: int = 400,
    sha256: str = "",
    config: dict | None = None,
) -> WeightsSpec:
    """A released Video Swin checkpoint and mmaction2's test protocol for it: 4 clips of
    32 frames 2 apart x 3 crops; SSv2: 32 segment frames (``frame_uniform``) x 3 crops."""
    ssv2 = classes == 174
    data = DataSpec(
        224,
        "32x1x1" if ssv2 else "32x2x4",
        IMAGENET_MEAN,
        IMAGENET_STD,
        sampler="segment" if ssv2 else "dense",
        labels=LABELS[classes],
        test_short_side=224,
        protocol="mmaction",
        num_crops=3,
    )
    return WeightsSpec(
        tag=tag,
        url=url,
        source=source,
        layout="video_swin_official",
        license="Apache-2.0",
        data=data,
        num_classes=classes,
        sha256=sha256,
        config={"num_classes": classes, **(config or {})},
    )


def _official(tag: str, file: str, classes: int = 400, config: dict | None = None) -> WeightsSpec:
    url = f"https://github.com/SwinTransformer/storage/releases/download/v1.0.4/{file}"
    return _weights(tag, url, VIDEO_SWIN, classes, config=config)


def _mmaction(tag: str, name: str, stamp: str, classes: int) -> WeightsSpec:
    """mmaction2's model zoo (its files end in the first 8 hex digits of their sha256)."""
    url = f"https://download.openmmlab.com/mmaction/v1.0/recognition/swin/{name}/{name}_{stamp}.pth"
    return _weights(tag, url, MMACTION, classes, sha256=stamp.split("-")[1])


@register_model(
    family="video_swin",
    base=True,
    weights=(
        reported(
            _official("k400_in1k", "swin_tiny_patch244_window877_kinetics400_1k.pth"),
            78.8,
            93.6,
            K400,
        ),
    ),
)
def video_swin_tiny(**overrides) -> VideoSwin:
    """Video Swin-T: 96, depths (2, 2, 6, 2), window (8, 7, 7)."""
    return _video_swin(VideoSwinConfig(), overrides)


@register_model(
    family="video_swin",
    weights=(
        reported(
            _official("k400_in1k", "swin_small_patch244_window877_kinetics400_1k.pth"),
            80.6,
            94.5,
            K400,
        ),
    ),
)
def video_swin_small(**overrides) -> VideoSwin:
    """Video Swin-S: 96, depths (2, 2, 18, 2)."""
    return _video_swin(VideoSwinConfig(depths=(2, 2, 18, 2), drop_path_rate=0.2), overrides)


@register_model(
    family="video_swin",
    weights=(
        reported(
            _official("k400_in22k", "swin_base_patch244_window877_kinetics400_22k.pth"),
            82.7,
            95.5,
            K400,
        ),
        reported(
            _official("k400_in1k", "swin_base_patch244_window877_kinetics400_1k.pth"),
            80.6,
            94.6,
            K400,
        ),
        reported(
            _official("k600_in22k", "swin_base_patch244_window877_kinetics600_22k.pth", 600),
            84.0,
            96.5,
            K600,
        ),
        reported(
            _official(
                "ssv2_k400_in22k",
                "swin_base_patch244_window1677_sthv2.pth",
                174,
                config={"window_size": (16, 7, 7)},
            ),
            69.6,
            92.7,
            SSV2,
        ),
    ),
)
def video_swin_base(**overrides) -> VideoSwin:
    """Video Swin-B: 128, depths (2, 2, 18, 2), heads (4, 8, 16, 32)."""
    config = VideoSwinConfig(
        embed_dim=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32), drop_path_rate=0.3
    )
    return _video_swin(config, overrides)


@register_model(
    family="video_swin",
    weights=(
        reported(
            _mmaction(
                "k400_in22k",
                "swin-large-p244-w877_in22k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb",
                "20220930-78ad8b11",
                400,
            ),
            83.46,
            95.91,
            MMACTION_K400,
        ),
        reported(
            _mmaction(
                "k700_in22k",
                "swin-large-p244-w877_in22k-pre_16xb8-amp-32x2x1-30e_kinetics700-rgb",
                "20220930-f8d74db7",
                700,
            ),
            75.92,
            92.72,
            MMACTION_K700,
        ),
    ),
)
def video_swin_large(**overrides) -> VideoSwin:
    """Video Swin-L: 192, depths (2, 2, 18, 2), heads (6, 12, 24, 48). The official
    repository released no L weights; mmaction2 trained and hosts these."""
    config = VideoSwinConfig(
        embed_dim=192, depths=(2, 2, 18, 2), num_heads=(6, 12, 24, 48), drop_path_rate=0.3
    )
    return _video_swin(config, overrides)
