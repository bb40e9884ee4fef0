"""Callbacks for long runs: stop on NaN with a clear message, keep the last epoch checkpoints."""

import glob
import math
import os
import re

import keras


class TrainingDiverged(ValueError):
    """The loss became NaN or infinite; the last good checkpoints are kept."""


class StopOnNaN(keras.callbacks.Callback):
    """Raises `TrainingDiverged` as soon as a batch's loss is NaN or infinite.

    Raising (rather than `stop_training`) skips the epoch-end callbacks, so
    neither `BackupAndRestore` nor `EpochCheckpoints` ever saves the broken
    weights: the last good state stays on disk and the same command resumes
    from it.

    Args:
        hint: appended to the error message (e.g. where the good state is).
    """

    def __init__(self, hint=""):
        super().__init__()
        self.hint = hint
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise TrainingDiverged(
                f"The loss became {float(loss)} at epoch {self._epoch + 1}, step {batch + 1}; training stopped. "
                f"{self.hint}".strip()
            )


class EpochCheckpoints(keras.callbacks.Callback):
    """Saves the weights after every epoch as `epoch-NNN.weights.h5`, keeping the last `keep`.

    These are the checkpoints `average_checkpoints` averages. Each file is
    written beside its final name and renamed, so none is ever half-written.
    """

    PATTERN = re.compile(r"epoch-(\d+)\.weights\.h5$")

    def __init__(self, folder, keep=5):
        super().__init__()
        if not isinstance(keep, int) or keep <= 0:
            raise ValueError(f"`keep` must be a positive integer. Received: keep={keep!r}")
        self.folder, self.keep = folder, keep

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(self.folder, exist_ok=True)
        path = os.path.join(self.folder, f"epoch-{epoch + 1:03d}.weights.h5")
        partial = path + ".partial.weights.h5"
        self.model.save_weights(partial)
        os.replace(partial, path)
        for old in epoch_checkpoints(self.folder)[: -self.keep]:
            os.remove(old)


def epoch_checkpoints(folder):
    """The epoch checkpoint files in `folder`, oldest first."""
    paths = [p for p in glob.glob(os.path.join(folder, "epoch-*.weights.h5")) if EpochCheckpoints.PATTERN.search(p)]
    return sorted(paths, key=lambda p: int(EpochCheckpoints.PATTERN.search(p).group(1)))
