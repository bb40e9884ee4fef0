"""s2s_keras: sequence-to-sequence models, search and export for Keras 3."""

from s2s_keras import data, decoding, layers, models, training
from s2s_keras.models import build_model, list_models
from s2s_keras.training import losses, metrics

__version__ = "0.1.0"
__all__ = ["build_model", "data", "decoding", "layers", "list_models", "losses", "metrics", "models", "training"]
