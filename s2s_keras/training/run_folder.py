"""A training run's folder: the names of what it holds, and how to read it back.

`train` (`s2s_keras.training.run`) writes the folder; everything a run needs to
resume and to be used afterwards is in it:

    OUTPUT/run.json              the resolved settings, where each came from, the precision's reason
    OUTPUT/tokenizers/source/    OUTPUT/tokenizers/target/
    OUTPUT/backup/               the full training state while training (`ResumableBackup`)
    OUTPUT/checkpoints/          the weights of the last epochs (for `s2s-keras average`) and of the best one
    OUTPUT/time_used.json        training time used, with a time budget
    OUTPUT/model.keras           the trained model: the best epoch's weights with keep="best" (replaced atomically)
    OUTPUT/history.json          per-epoch logs of every call, appended (loss, val_loss, val_bleu, val_chrf, ...)
    OUTPUT/training_curves.png   loss and validation BLEU per epoch
"""

import json
import os
import shutil
import zipfile

import keras

from s2s_keras.atomic_save import save_model_atomically, write_json_atomically
from s2s_keras.data import load_tokenizer
from s2s_keras.training.averaging import average_checkpoints
from s2s_keras.training.callbacks import epoch_checkpoints
from s2s_keras.training.settings import as_json, changed_fixed_settings

RUN_FILE = "run.json"
TOKENIZERS_FOLDER = "tokenizers"
BACKUP_FOLDER = "backup"
CHECKPOINTS_FOLDER = "checkpoints"
TIME_USED_FILE = "time_used.json"
MODEL_FILE = "model.keras"
HISTORY_FILE = "history.json"
CURVES_FILE = "training_curves.png"


def has_trained(output):
    """Whether the run folder holds a trained step: a backup of a started run, or a finished `model.keras`."""
    return (os.path.exists(os.path.join(output, BACKUP_FOLDER))
            or os.path.exists(os.path.join(output, MODEL_FILE)))


def is_finished(output):
    """Whether the run folder holds a finished run: a `model.keras` and no backup of a run in progress."""
    return (os.path.exists(os.path.join(output, MODEL_FILE))
            and not os.path.exists(os.path.join(output, BACKUP_FOLDER)))


def forget_untrained_run(output):
    """Removes what a run that never trained a step left (its `run.json`, its tokenizers), so it starts afresh.

    A run that failed before its first step (bad data, a missing file) must
    not make the corrected command fail: nothing in it was trained.
    """
    if not os.path.exists(os.path.join(output, RUN_FILE)) or has_trained(output):
        return
    shutil.rmtree(os.path.join(output, TOKENIZERS_FOLDER), ignore_errors=True)
    os.remove(os.path.join(output, RUN_FILE))


def recorded_settings(output):
    """The run folder's `run.json`, or None for a new run (or one that never trained a step)."""
    path = os.path.join(output, RUN_FILE)
    if not os.path.exists(path) or not has_trained(output):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            recorded = json.load(f)
    except ValueError as error:
        raise ValueError(f"{path!r} is damaged ({error}); use a new --output folder.") from error
    if not isinstance(recorded, dict):
        raise ValueError(f"{path!r} is damaged (not a JSON object); use a new --output folder.")
    return recorded


def check_same_run(settings, recorded):
    """Refuses a folder holding another run: `recorded` (its `run.json`) differs in a fixed setting."""
    if recorded is None:
        return
    changed = changed_fixed_settings(settings, recorded)
    if changed:
        raise ValueError(f"{settings.output!r} holds another run (different {', '.join(changed)}); "
                         "use a new --output folder, nothing was changed.")


def write_run_file(settings, record):
    """Writes `run.json`: the resolved `settings` and `record` beside them, replaced atomically."""
    write_json_atomically(os.path.join(settings.output, RUN_FILE), {**as_json(settings), **record})


def load_run(output, model_file=None):
    """The trained model and tokenizers of a finished run folder.

    Args:
        output: the run folder.
        model_file: a `.keras` file in it to load instead of `model.keras`
            (e.g. `model_avg5.keras`).

    Returns:
        `(model, source_tokenizer, target_tokenizer)`.

    Example:
    >>> model, source_tokenizer, target_tokenizer = load_run("runs/dates")  # doctest: +SKIP
    """
    model_path = os.path.join(output, model_file or MODEL_FILE)
    if not os.path.exists(model_path):
        raise ValueError(f"{output!r} has no {model_file or MODEL_FILE}: not a finished training run.")
    return (load_model_file(model_path), *load_tokenizers(output))


def load_tokenizers(output):
    """`(source_tokenizer, target_tokenizer)` saved in the run folder (`tokenizers/source`, `tokenizers/target`).

    Example:
    >>> source_tokenizer, target_tokenizer = load_tokenizers("runs/dates")  # doctest: +SKIP
    """
    folder = os.path.join(output, TOKENIZERS_FOLDER)
    return load_tokenizer(os.path.join(folder, "source")), load_tokenizer(os.path.join(folder, "target"))


def load_model_file(path):
    """`keras.saving.load_model(path)`, with a clear error for a damaged file.

    A truncated or overwritten `.keras` file makes Keras report "File not
    found"; this says what is wrong with the file instead.

    Args:
        path: a `.keras` file.

    Returns:
        The loaded `keras.Model`.

    Example:
    >>> model = load_model_file("runs/dates/model.keras")  # doctest: +SKIP
    """
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path!r} is damaged: not a complete .keras archive (truncated, or not written by "
                         f"Keras; {os.path.getsize(path)} bytes).")
    try:
        return keras.saving.load_model(path)
    except (zipfile.BadZipFile, KeyError, OSError, EOFError) as error:
        raise ValueError(f"{path!r} is damaged: {type(error).__name__}: {error}") from None


def average_run(output, last=5, target=None):
    """Averages the last `last` epoch checkpoints of a run into a new `.keras` model.

    Args:
        output: the run folder.
        last: how many of the newest checkpoints to average.
        target: where to save (default `OUTPUT/model_avg{last}.keras`); never `model.keras`.

    Returns:
        `(path, checkpoints_used)`.

    Example:
    >>> path, used = average_run("runs/dates", last=5)  # doctest: +SKIP
    """
    found = epoch_checkpoints(os.path.join(output, CHECKPOINTS_FOLDER))
    if not found:
        raise ValueError(f"{output!r} has no epoch checkpoints to average.")
    used = found[-last:]
    model, _, _ = load_run(output)
    average_checkpoints(model, used)
    target = target or os.path.join(output, f"model_avg{len(used)}.keras")
    if os.path.abspath(target) == os.path.abspath(os.path.join(output, MODEL_FILE)):
        raise ValueError("Refusing to overwrite the run's model.keras; choose another target.")
    save_model_atomically(model, target)
    return target, used
