"""Model families. Importing this package registers every variant."""

from . import perceiver, perceiver_io, swin, timesformer, video_swin  # noqa: F401  (register variants)
from .registry import (
    DataSpec,
    WeightsSpec,
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
