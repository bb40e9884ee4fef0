"""Callbacks for long runs: stop on NaN with a clear message, keep the last epoch checkpoints and the best one."""

import contextlib
import glob
import json
import math
import os
import re
import time

import keras

from s2s_keras.atomic_save import save_weights_atomically, write_json_atomically
from s2s_keras.checks import check_positive_int


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


class EpochProgress(keras.callbacks.ProgbarLogger):
    """Keras's progress bar, with each epoch's number of batches known from its first batch.

    A `tf.data` pipeline that buckets by length has no cardinality, so Keras
    shows `1/Unknown` and no ETA until the first epoch ends. Given the count
    (`data.count_batches`), every epoch shows its total; a pass that resumes
    after skipped batches (`EpochOrder.skip_batches`) shows the rest.

    Args:
        batches_per_epoch: the batches of one full pass of the training data.
        order: the run's `EpochOrder`, or None.

    Example:
    >>> progress = EpochProgress(count_batches(train_ds), order)  # doctest: +SKIP
    >>> model.fit(train_ds, epochs=10, callbacks=[backup, progress])  # doctest: +SKIP
    """

    def __init__(self, batches_per_epoch, order=None):
        super().__init__()
        self.batches_per_epoch = int(batches_per_epoch)
        self.order = order

    def on_epoch_begin(self, epoch, logs=None):
        skipped = int(self.order.skip_batches.numpy()) if self.order is not None else 0
        self.target = max(self.batches_per_epoch - skipped, 1)
        super().on_epoch_begin(epoch, logs)


class TimeBudget(keras.callbacks.Callback):
    """Stops training at the end of the epoch in which `minutes` of training are used up.

    The time used is kept in `path`, so a resumed run continues the same budget.
    """

    def __init__(self, minutes, path, write=True):
        super().__init__()
        self.seconds = minutes * 60.0
        self.path, self.write = path, write
        self.used = 0.0
        if os.path.exists(path):
            with open(path) as f:
                try:
                    self.used = float(json.load(f)["seconds"])
                except (KeyError, TypeError, ValueError) as error:
                    raise ValueError(f"{path!r} is damaged ({error!r}); delete it to restart the time budget.") \
                        from error

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.time()

    def on_train_batch_end(self, batch, logs=None):
        if self.used + time.time() - self.started >= self.seconds:
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        self.used += time.time() - self.started
        if self.write:
            write_json_atomically(self.path, {"seconds": self.used})
        if self.used >= self.seconds:
            self.model.stop_training = True


class EpochCheckpoints(keras.callbacks.Callback):
    """Saves the weights after every epoch as `epoch-NNN.weights.h5`, keeping the last `keep`.

    These are the checkpoints `average_checkpoints` averages. Each file is
    written beside its final name and renamed, so none is ever half-written.
    """

    PATTERN = re.compile(r"epoch-(\d+)\.weights\.h5$")

    def __init__(self, folder, keep=5):
        super().__init__()
        check_positive_int("keep", keep)
        self.folder, self.keep = folder, keep

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(self.folder, exist_ok=True)
        save_weights_atomically(self.model, os.path.join(self.folder, f"epoch-{epoch + 1:03d}.weights.h5"))
        for old in epoch_checkpoints(self.folder)[: -self.keep]:
            os.remove(old)


def epoch_checkpoints(folder):
    """The epoch checkpoint files in `folder`, oldest first."""
    paths = [p for p in glob.glob(os.path.join(folder, "epoch-*.weights.h5")) if EpochCheckpoints.PATTERN.search(p)]
    return sorted(paths, key=lambda p: int(EpochCheckpoints.PATTERN.search(p).group(1)))


class KeepBestEpoch(keras.callbacks.Callback):
    """Keeps the weights of the epoch with the lowest validation loss; optionally stops on a plateau.

    The best epoch's weights go to `folder/best-epoch-NNN.weights.h5` and
    `folder/best.json` names it (written last, atomically), so the record
    survives a killed run and a resumed run keeps comparing against it. Keras's
    `EarlyStopping(restore_best_weights=True)` keeps its best weights in memory
    only, which a resumed run would lose.

    Args:
        folder: where the best weights and `best.json` are kept.
        monitor: the logged value to minimise.
        patience: stop training when `monitor` has not improved for this many
            epochs (None: never stop).

    Example:
    >>> best = KeepBestEpoch("runs/x/checkpoints", patience=3)
    >>> model.fit(train_ds, validation_data=valid_ds, epochs=20, callbacks=[best])  # doctest: +SKIP
    >>> best.restore(model)  # doctest: +SKIP
    """

    RECORD = "best.json"

    def __init__(self, folder, monitor="val_loss", patience=None):
        super().__init__()
        check_positive_int("patience", patience, allow_none=True)
        self.folder, self.monitor, self.patience = folder, monitor, patience
        self.best = read_best_epoch(folder)

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or not math.isfinite(float(value)):
            return
        if self.best is None or float(value) < self.best[self.monitor]:
            os.makedirs(self.folder, exist_ok=True)
            name = f"best-epoch-{epoch + 1:03d}.weights.h5"
            save_weights_atomically(self.model, os.path.join(self.folder, name))
            previous = self.best
            self.best = {"epoch": epoch + 1, self.monitor: float(value), "weights": name}
            write_json_atomically(os.path.join(self.folder, self.RECORD), self.best)
            if previous and previous["weights"] != name:
                with contextlib.suppress(OSError):
                    os.remove(os.path.join(self.folder, previous["weights"]))
        elif self.patience and epoch + 1 - self.best["epoch"] >= self.patience:
            print(f"\nStopping: {self.monitor} has not improved for {epoch + 1 - self.best['epoch']} epochs "
                  f"(best {self.best[self.monitor]:.4f} at epoch {self.best['epoch']}).")
            self.model.stop_training = True

    def restore(self, model):
        """Loads the best epoch's weights into `model`; returns the record (None if there is none)."""
        if self.best is None:
            return None
        model.load_weights(os.path.join(self.folder, self.best["weights"]))
        return self.best


class EpochHistory(keras.callbacks.Callback):
    """Writes each epoch's logs to a JSON history file as soon as the epoch ends.

    The file holds one entry per callback instance, that is per training call
    (`[{"loss": [...], ...}, ...]`): a resumed run adds its epochs as a new
    entry, and a call that is killed keeps every epoch it finished. Each write
    replaces the file atomically.

    Args:
        path: the history file, e.g. `runs/x/history.json`.

    Example:
    >>> model.fit(train_ds, epochs=10, callbacks=[EpochHistory("runs/x/history.json")])  # doctest: +SKIP
    """

    def __init__(self, path):
        super().__init__()
        self.path = path
        self.calls = []

    def on_train_begin(self, logs=None):
        if not self.calls:  # a later `fit` with the same callback continues its entry
            self.calls = read_history(self.path) + [{}]

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.calls[-1].setdefault(key, []).append(float(value))
        write_json_atomically(self.path, self.calls)


def read_history(path):
    """The calls recorded in a history file (`[]` when there is none)."""
    if not os.path.exists(path):
        return []
    try:
        with open(path, encoding="utf-8") as f:
            calls = json.load(f)
        if not isinstance(calls, list) or not all(isinstance(call, dict) for call in calls):
            raise ValueError("not a list of objects")
        return calls
    except ValueError as error:
        raise ValueError(f"{path!r} is damaged ({error}); move it away to start a new history.") from error


def read_best_epoch(folder):
    """The `KeepBestEpoch` record in `folder` (`{"epoch", "val_loss", "weights"}`), or None."""
    path = os.path.join(folder, KeepBestEpoch.RECORD)
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
        if not os.path.exists(os.path.join(folder, record["weights"])):
            raise ValueError(f"its weights file {record['weights']!r} is missing")
        return record
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path!r} is damaged ({error}); delete it to forget the best epoch.") from error

