"""Training pieces: masked losses and metrics."""

from s2s_keras.training import losses, metrics
from s2s_keras.training.losses import MaskedSparseCategoricalCrossentropy, masked_loss
from s2s_keras.training.metrics import MaskedAccuracy, masked_accuracy

__all__ = ["MaskedAccuracy", "MaskedSparseCategoricalCrossentropy", "losses", "masked_accuracy", "masked_loss", "metrics"]
