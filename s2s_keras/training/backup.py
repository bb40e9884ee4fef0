"""`ResumableBackup`: a backup from which a killed run resumes exactly.

Keras's `BackupAndRestore` keeps the weights and the epoch number: a run killed
in the middle of an epoch restarts that epoch with a fresh optimizer, and with
`tf.data`'s per-process reshuffling it sees another data order. This callback
keeps everything the next step depends on, in one file written atomically:

    BACKUP_DIR/state.npz
        model/0000 ...   every model variable (weights, and the dropout seed generators' states)
        optimizer/0000   every optimizer variable (iterations, moments, loss scale)
        position         [epoch, batches of that epoch already trained]

and drives an `EpochOrder`, so the resumed run trains on exactly the batches
it had not trained on, in the same order. With deterministic ops, a run killed
with SIGKILL at any moment and started again ends with the same weights as an
uninterrupted run (tests/training/test_resume.py).

Under a multi-worker strategy only the chief writes; every worker reads.
"""

import os
import shutil

import keras
import numpy as np

from s2s_keras.keras_compat import set_initial_epoch

STATE_FILE = "state.npz"


def backup_position(backup_dir):
    """`(epoch, batches of it already trained)` recorded in a backup, or None when there is none.

    Example:
    >>> backup_position("runs/x/backup")  # doctest: +SKIP
    (3, 120)
    """
    path = os.path.join(backup_dir, STATE_FILE)
    if not os.path.exists(path):
        return None
    try:
        with np.load(path) as state:
            epoch, skipped = (int(x) for x in state["position"])
    except (OSError, ValueError, KeyError) as error:
        raise ValueError(f"The training backup {path!r} cannot be read ({error}); move it away to train from the "
                         "start.") from error
    return epoch, skipped


class ResumableBackup(keras.callbacks.Callback):
    """Backs up the full training state every `save_freq` batches or epoch; restores it on start.

    Args:
        backup_dir: the folder of the backup.
        order: the training dataset's `EpochOrder` (None: the data order is not resumed).
        save_freq: "epoch", or save every this many batches as well.
        is_chief: whether this process writes the backup (False on non-chief workers).
        delete_on_train_end: delete the backup when `fit` returns normally, as
            Keras does. False keeps it until `delete()` is called, e.g. once the
            trained model is safely saved, so a failed save loses nothing.

    Example:
    >>> order = EpochOrder(seed=0)  # doctest: +SKIP
    >>> train_ds = make_dataset(pairs, src_tok, tgt_tok, tokens_per_batch=4096, order=order)  # doctest: +SKIP
    >>> model.fit(train_ds, epochs=10,  # doctest: +SKIP
    ...           callbacks=[ResumableBackup("run/backup", order, save_freq=500)])
    """

    def __init__(self, backup_dir, order=None, save_freq="epoch", is_chief=True, delete_on_train_end=True):
        super().__init__()
        if save_freq != "epoch" and (not isinstance(save_freq, int) or isinstance(save_freq, bool) or save_freq <= 0):
            raise ValueError(f"`save_freq` must be 'epoch' or a positive integer. Received: save_freq={save_freq}")
        self.backup_dir, self.save_freq = backup_dir, save_freq
        self.delete_on_train_end = delete_on_train_end
        self.order = order
        self.is_chief = is_chief
        self.state_path = os.path.join(backup_dir, STATE_FILE)
        self._epoch = 0
        self._skipped = 0  # batches of the current epoch trained before this process resumed it
        self._batches_done = 0  # batches of the current epoch trained in total
        self._since_save = 0  # batches trained since the last batch-count backup, across epochs
        self._announced = False

    # --- restoring ---------------------------------------------------------------------------

    def on_train_begin(self, logs=None):
        epoch, skipped = 0, 0
        if os.path.exists(self.state_path):
            epoch, skipped = self._restore()  # a later fit in this process restores what it holds: a no-op
            set_initial_epoch(self.model, epoch)
        self._epoch, self._skipped = epoch, skipped
        if self.order is not None:
            self.order.start(epoch, skipped)

    def _restore(self):
        optimizer = self.model.optimizer
        if optimizer is not None and not optimizer.built:
            optimizer.build(self.model.trainable_variables)
        try:
            with np.load(self.state_path) as state:
                self._assign(self.model.variables, state, "model")
                if optimizer is not None:
                    self._assign(optimizer.variables, state, "optimizer")
                epoch, skipped = (int(x) for x in state["position"])
        except (OSError, ValueError, KeyError) as error:
            raise ValueError(
                f"The training backup {self.state_path!r} cannot be restored ({error}). It belongs to another "
                "model or is damaged; move it away to train from the start."
            ) from error
        if not self._announced:
            print(f"Resuming from the backup: epoch {epoch + 1}, after {skipped} batches of it.")
            self._announced = True
        return epoch, skipped

    def _assign(self, variables, state, prefix):
        saved = sorted(k for k in state.files if k.startswith(prefix + "/"))
        if len(saved) != len(variables):
            raise ValueError(f"{len(saved)} {prefix} variables saved, {len(variables)} expected")
        for variable, key in zip(variables, saved):
            value = state[key]
            if tuple(value.shape) != tuple(variable.shape):
                raise ValueError(f"{variable.path} has shape {tuple(variable.shape)}, the backup {value.shape}")
            variable.assign(value)

    def delete(self):
        """Removes the backup folder (on the chief only; a no-op when there is none)."""
        if self.is_chief and os.path.exists(self.backup_dir):
            shutil.rmtree(self.backup_dir)

    # --- saving ------------------------------------------------------------------------------

    def on_epoch_begin(self, epoch, logs=None):
        if epoch != self._epoch:  # a new epoch (not the resumed one): from its start
            self._skipped = 0
        self._epoch = epoch
        self._batches_done = self._skipped
        if self.order is not None:
            self.order.start(epoch, self._skipped)

    def on_train_batch_end(self, batch, logs=None):
        done = self._skipped + batch + 1  # `batch` may jump by steps_per_execution
        self._since_save += done - self._batches_done
        self._batches_done = done
        if self.save_freq != "epoch" and self._since_save >= self.save_freq:
            self._since_save = 0
            self._save(self._epoch, self._batches_done)

    def on_epoch_end(self, epoch, logs=None):
        self._skipped = 0
        if self.model.stop_training:  # stopped within the epoch (time budget): resume where it stopped
            self._save(epoch, self._batches_done)
        else:
            self._save(epoch + 1, 0)
        self._epoch = epoch + 1

    def _save(self, epoch, batches_done):
        if not self.is_chief:
            return
        os.makedirs(self.backup_dir, exist_ok=True)
        arrays = {f"model/{i:04d}": np.asarray(v) for i, v in enumerate(self.model.variables)}
        if self.model.optimizer is not None:
            arrays.update({f"optimizer/{i:04d}": np.asarray(v) for i, v in enumerate(self.model.optimizer.variables)})
        arrays["position"] = np.array([epoch, batches_done], np.int64)
        partial = self.state_path + ".partial.npz"
        with open(partial, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, self.state_path)

    def on_train_end(self, logs=None):
        if self.delete_on_train_end:  # fit returned normally (an exception skips this)
            self.delete()
