"""Training: `train(TrainSettings(...))` with each model's recipe, and its pieces: masked losses and
metrics, schedules, scheduled sampling, callbacks (validation BLEU among them), averaging, mixed
precision, and the run folder (`load_run`)."""

from s2s_keras.training import losses, metrics, schedules
from s2s_keras.training.averaging import average_checkpoints
from s2s_keras.training.bleu_callback import BleuCallback
from s2s_keras.training.callbacks import (
    EpochCheckpoints,
    EpochProgress,
    KeepBestEpoch,
    StopOnNaN,
    TimeBudget,
    TrainingDiverged,
    epoch_checkpoints,
)
from s2s_keras.training.losses import MaskedSparseCategoricalCrossentropy, masked_loss
from s2s_keras.training.metrics import MaskedAccuracy, masked_accuracy
from s2s_keras.training.optimizers import FusedAdam
from s2s_keras.training.precision import auto_dtype_policy, float32_copy, global_dtype_policy
from s2s_keras.training.scheduled_sampling import (
    ScheduledSampling,
    inverse_sigmoid_schedule,
    linear_schedule,
    mix_predictions,
)
from s2s_keras.training.run import train
from s2s_keras.training.run_folder import load_run
from s2s_keras.training.schedules import NoamSchedule, recipe_learning_rate
from s2s_keras.training.settings import TrainSettings
from s2s_keras.training.speech import load_speech_run, train_speech

__all__ = [
    "BleuCallback",
    "EpochCheckpoints",
    "EpochProgress",
    "FusedAdam",
    "KeepBestEpoch",
    "MaskedAccuracy",
    "MaskedSparseCategoricalCrossentropy",
    "NoamSchedule",
    "ScheduledSampling",
    "StopOnNaN",
    "TimeBudget",
    "TrainSettings",
    "TrainingDiverged",
    "auto_dtype_policy",
    "average_checkpoints",
    "epoch_checkpoints",
    "float32_copy",
    "global_dtype_policy",
    "inverse_sigmoid_schedule",
    "linear_schedule",
    "load_run",
    "load_speech_run",
    "losses",
    "masked_accuracy",
    "masked_loss",
    "metrics",
    "mix_predictions",
    "recipe_learning_rate",
    "schedules",
    "train",
    "train_speech",
]
