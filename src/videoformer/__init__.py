"""videoformer: TimeSformer, Perceiver, Swin and Video Swin, faithful to the official code."""

from .checkpoint import CheckpointError, LoadReport, load_checkpoint
from .factory import create_model
from .models import WeightsSpec, list_models, register_model

__version__ = "0.1.0"

__all__ = [
    "CheckpointError",
    "LoadReport",
    "WeightsSpec",
    "create_model",
    "list_models",
    "load_checkpoint",
    "register_model",
]
