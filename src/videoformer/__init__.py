"""videoformer: TimeSformer, Perceiver, Swin and Video Swin, faithful to the official code."""

from .checkpoint import CheckpointError, LoadReport, load_checkpoint
from .engine.predict import Predictor
from .explanation import explain, save_explanation
from .factory import create_model
from .models import DataSpec, WeightsSpec, list_models, register_model
from .models.base import compile_model, unwrap_model
from .preprocessing import data_config, test_views
from .saving import load_model, save_model

__version__ = "0.1.0"

__all__ = [
    "DataSpec",
    "CheckpointError",
    "LoadReport",
    "Predictor",
    "WeightsSpec",
    "compile_model",
    "create_model",
    "data_config",
    "explain",
    "list_models",
    "load_checkpoint",
    "load_model",
    "register_model",
    "save_explanation",
    "save_model",
    "test_views",
    "unwrap_model",
]
