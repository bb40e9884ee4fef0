"""Training pieces: masked losses and metrics, learning-rate schedules."""

from s2s_keras.training import losses, metrics, schedules
from s2s_keras.training.losses import MaskedSparseCategoricalCrossentropy, masked_loss
from s2s_keras.training.metrics import MaskedAccuracy, masked_accuracy
from s2s_keras.training.scheduled_sampling import (
    ScheduledSampling,
    inverse_sigmoid_schedule,
    linear_schedule,
    mix_predictions,
)
from s2s_keras.training.schedules import NoamSchedule

__all__ = [
    "MaskedAccuracy",
    "MaskedSparseCategoricalCrossentropy",
    "NoamSchedule",
    "losses",
    "masked_accuracy",
    "masked_loss",
    "metrics",
    "schedules",
]
