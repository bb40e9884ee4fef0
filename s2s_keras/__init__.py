"""s2s_keras: sequence-to-sequence models, search and export for Keras 3."""

from s2s_keras import data, decoding, evaluation, export, layers, models, training
from s2s_keras.models import build_model, get_recipe, list_models
from s2s_keras.training import losses, metrics
from s2s_keras.translator import Translator

__version__ = "0.1.0"
__all__ = [
    "Translator", "build_model", "data", "decoding", "evaluation", "export", "get_recipe", "layers", "list_models",
    "losses",
    "metrics", "models", "training",
]
