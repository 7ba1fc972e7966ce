"""videoformer: TimeSformer, Perceiver, Swin and Video Swin, faithful to the official code."""

from .inference.explanation import explain, save_explanation
from .inference.predictor import Predictor
from .inference.preprocessing import resolve_data_spec, test_views
from .inference.saved_model import load_model, save_model
from .models import list_models, register_model
from .models.base import compile_model, unwrap_model
from .specs import DataSpec, ModelSource, WeightsSpec
from .weights.factory import create_model
from .weights.loading import CheckpointError, LoadReport, load_checkpoint
from .weights.source import resolve_source

data_config = resolve_data_spec  # the earlier name of resolve_data_spec

__version__ = "0.1.0"

__all__ = [
    "CheckpointError",
    "DataSpec",
    "LoadReport",
    "ModelSource",
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
    "resolve_data_spec",
    "resolve_source",
    "save_explanation",
    "save_model",
    "test_views",
    "unwrap_model",
]
