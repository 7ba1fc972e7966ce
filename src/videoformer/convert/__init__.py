"""Pure state-dict converters, one module per official release, and the layout table.

A converter takes a state dict in a foreign layout plus the *target config* and
returns a state dict with videoformer's keys. A family's resizer then resamples
tensors whose shape depends on the config (position embeddings, bias tables).
No I/O happens here; ``videoformer.weights.loading`` reads files and picks the layout.
Importing this package registers every layout.
"""

from . import (  # noqa: F401  (register layouts)
    perceiver_hf,
    shapes,
    swin_official,
    timesformer_hf,
    timesformer_mmaction,
    timesformer_official,
    video_swin_official,
    vit_imagenet,
)
from .layouts import (
    CONFIG_FROM_SHAPES,
    HF_CONFIGS,
    LAYOUTS,
    RESIZERS,
    HFConfigReader,
    Layout,
    StateDict,
    claiming_layouts,
    hf_reader_for,
    layouts_for,
    register_hf_config,
    register_layout,
)
from .timesformer_official import resize_timesformer_embeddings
from .video_swin_official import inflate_swin_2d_to_3d

__all__ = [
    "CONFIG_FROM_SHAPES",
    "HF_CONFIGS",
    "HFConfigReader",
    "LAYOUTS",
    "RESIZERS",
    "Layout",
    "StateDict",
    "claiming_layouts",
    "hf_reader_for",
    "inflate_swin_2d_to_3d",
    "layouts_for",
    "register_hf_config",
    "register_layout",
    "resize_timesformer_embeddings",
]
