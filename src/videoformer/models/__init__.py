"""Model families. Importing this package registers every variant."""

from ..specs import DataSpec, WeightsSpec
from . import perceiver, perceiver_io, swin, timesformer, video_swin  # noqa: F401  (register variants)
from .registry import (
    apply_overrides,
    get_model_entry,
    list_families,
    list_models,
    register_model,
)

__all__ = [
    "DataSpec",
    "WeightsSpec",
    "apply_overrides",
    "get_model_entry",
    "list_families",
    "list_models",
    "register_model",
]
