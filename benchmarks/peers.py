"""The implementations people use, built beside videoformer's on the same weights.

``build(case)`` makes the peer with random weights (normal, std 0.02) and videoformer's
model from the peer's state dict through ``create_model(..., pretrained=state_dict)``, so
the converters run too. Both take the same input in videoformer's layout; ``Pair.run_peer``
adapts it where the peer wants another one. Needs the peers venv
(``bash benchmarks/install_peers.sh``, versions in ../shared/PEERS.md).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from videoformer import create_model

CASES = (
    "timesformer_divided",
    "timesformer_joint",
    "swin_tiny",
    "video_swin_tiny",
    "perceiver_io_fourier",
)


@dataclass
class Pair:
    ours: nn.Module
    peer: nn.Module
    input_shape: tuple[int, ...]  # one sample, videoformer's layout
    peer_logits: Callable[[nn.Module, Tensor], Tensor]  # (peer, x in our layout) -> logits
    label: str

    def run_peer(self, x: Tensor) -> Tensor:
        return self.peer_logits(self.peer, x)


def build(case: str, training: bool = False) -> Pair:
    """Both models of ``case``; ``training`` sets the same regularisation on both (the
    peer's defaults: no drop path for TimeSformer, 0.1 and head dropout 0.5 for Video
    Swin) and leaves them in train mode."""
    torch.manual_seed(0)
    pair = BUILDERS[case](training)
    for model in (pair.ours, pair.peer):
        model.train(training)
    return pair


def _randomise(model: nn.Module) -> nn.Module:
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.02)
    return model


def _timesformer(attention: str) -> Callable[[bool], Pair]:
    def make(training: bool) -> Pair:
        from transformers import TimesformerConfig, TimesformerForVideoClassification

        name = {"divided": "divided_space_time", "joint": "joint_space_time"}[attention]
        config = TimesformerConfig(attention_type=name, num_labels=400)  # no drop path
        peer = _randomise(TimesformerForVideoClassification(config))
        ours = create_model(
            "timesformer_base",
            pretrained=peer.state_dict(),
            attention_type=name,
            drop_path_rate=0.0,
        )
        return Pair(
            ours,
            peer,
            (3, 8, 224, 224),
            lambda m, x: m(pixel_values=x.transpose(1, 2)).logits,  # HF: (B, T, C, H, W)
            f"HF transformers TimesformerForVideoClassification ({name})",
        )

    return make


def _swin_tiny(training: bool) -> Pair:
    install_torchvision_stand_in()
    import timm

    peer = _randomise(timm.create_model("swin_tiny_patch4_window7_224", pretrained=False))
    ours = create_model("swin_tiny", pretrained=peer.state_dict())
    return Pair(
        ours,
        peer,
        (3, 224, 224),
        lambda m, x: m(x),
        f"timm {timm.__version__} swin_tiny_patch4_window7_224",
    )


class _MMActionRecognizer(nn.Module):
    """mmaction2's Recognizer3D with I3DHead (dropout, linear on the mean-pooled features)."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.cls_head = nn.Module()
        self.cls_head.dropout = nn.Dropout(0.5)
        self.cls_head.fc_cls = nn.Linear(768, 400)

    def forward(self, x: Tensor) -> Tensor:
        pooled = self.backbone(x).mean((2, 3, 4))
        return self.cls_head.fc_cls(self.cls_head.dropout(pooled))


def _video_swin_tiny(training: bool) -> Pair:
    # mmaction2's package does not import here; its Video Swin backbone file loads alone
    import mmaction

    path = os.path.join(os.path.dirname(mmaction.__file__), "models", "backbones", "swin.py")
    spec = importlib.util.spec_from_file_location("mmaction_video_swin", path)
    swin3d = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(swin3d)
    backbone = swin3d.SwinTransformer3D(arch="tiny", pretrained=None)  # drop path 0.1
    peer = _randomise(_MMActionRecognizer(backbone))
    ours = create_model("video_swin_tiny", pretrained=peer.state_dict())  # 0.1, head 0.5
    return Pair(
        ours,
        peer,
        (3, 32, 224, 224),
        lambda m, x: m(x),
        f"mmaction2 {mmaction.__version__} SwinTransformer3D (tiny) + I3D head",
    )


def _perceiver_io_fourier(training: bool) -> Pair:
    from transformers import PerceiverConfig, PerceiverForImageClassificationFourier

    config = PerceiverConfig(
        num_latents=512,
        d_latents=1024,
        d_model=261,
        num_blocks=8,
        num_self_attends_per_block=6,
        num_self_attention_heads=8,
        num_cross_attention_heads=1,
        image_size=224,
        num_labels=1000,
    )  # HF's default PerceiverConfig is the language model's
    peer = _randomise(PerceiverForImageClassificationFourier(config))
    ours = create_model("perceiver_io_imagenet_fourier", pretrained=peer.state_dict())
    return Pair(
        ours,
        peer,
        (3, 224, 224),
        lambda m, x: m(inputs=x).logits,
        "HF transformers PerceiverForImageClassificationFourier (ImageNet config)",
    )


BUILDERS: dict[str, Callable[[bool], Pair]] = {
    "timesformer_divided": _timesformer("divided"),
    "timesformer_joint": _timesformer("joint"),
    "swin_tiny": _swin_tiny,
    "video_swin_tiny": _video_swin_tiny,
    "perceiver_io_fourier": _perceiver_io_fourier,
}


# timm imports torchvision at load time, and torchvision does not import beside the CPU
# torch 2.13.0: where it does not import, timm gets an empty stand-in whose every name is
# a placeholder (Swin's forward uses none of them). transformers checks for the real
# torchvision, so only timm's process installs this.
class _AnyAttribute(type):  # InterpolationMode.NEAREST and the like: a placeholder string
    def __getattr__(cls, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return f"{cls.__name__}.{attr}"


class _Names(types.ModuleType):
    __path__: list[str] = []

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        value = _AnyAttribute(name, (), {"__init__": lambda self, *a, **k: None})
        setattr(self, name, value)
        return value


class _StandIn(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path, target=None):
        if name == "torchvision" or name.startswith("torchvision."):
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        return _Names(spec.name)

    def exec_module(self, module):
        pass


def install_torchvision_stand_in() -> None:
    """The stand-in, unless a real torchvision imports (a GPU machine's does): the real
    one is never shadowed, and a failed import leaves none of its modules behind."""
    if any(isinstance(finder, _StandIn) for finder in sys.meta_path):
        return
    try:
        import torchvision  # noqa: F401
    except Exception:  # absent, or built for another torch (RuntimeError on its operators)
        for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
            del sys.modules[name]
        sys.meta_path.insert(0, _StandIn())
