"""Training pieces: masked losses and metrics, schedules, scheduled sampling, callbacks, averaging,
mixed precision."""

from s2s_keras.training import losses, metrics, schedules
from s2s_keras.training.averaging import average_checkpoints
from s2s_keras.training.callbacks import EpochCheckpoints, StopOnNaN, TrainingDiverged, epoch_checkpoints
from s2s_keras.training.losses import MaskedSparseCategoricalCrossentropy, masked_loss
from s2s_keras.training.metrics import MaskedAccuracy, masked_accuracy
from s2s_keras.training.optimizers import FusedAdam
from s2s_keras.training.precision import float32_copy, global_dtype_policy
from s2s_keras.training.scheduled_sampling import (
    ScheduledSampling,
    inverse_sigmoid_schedule,
    linear_schedule,
    mix_predictions,
)
from s2s_keras.training.schedules import NoamSchedule

__all__ = [
    "EpochCheckpoints",
    "FusedAdam",
    "MaskedAccuracy",
    "MaskedSparseCategoricalCrossentropy",
    "NoamSchedule",
    "ScheduledSampling",
    "StopOnNaN",
    "TrainingDiverged",
    "average_checkpoints",
    "epoch_checkpoints",
    "float32_copy",
    "global_dtype_policy",
    "inverse_sigmoid_schedule",
    "linear_schedule",
    "losses",
    "masked_accuracy",
    "masked_loss",
    "metrics",
    "mix_predictions",
    "schedules",
]
