"""A complete training run in an output folder: settings, data, tokenizers, model, fit, resume.

This is what `s2s-keras train` calls. Settings the user does not give come from the
model's recipe (`TrainSettings`, `resolve_settings`). The folder holds everything a run
needs to resume and to be used afterwards:

    OUTPUT/run.json              the resolved settings, where each came from, the precision's reason
    OUTPUT/tokenizers/source/    OUTPUT/tokenizers/target/
    OUTPUT/backup/               the full training state while training (`ResumableBackup`)
    OUTPUT/checkpoints/          the weights of the last epochs (for `s2s-keras average`) and of the best one
    OUTPUT/model.keras           the trained model: the best epoch's weights with keep="best" (replaced atomically)
    OUTPUT/history.json          per-epoch logs of every call, appended (loss, val_loss, val_bleu, val_chrf, ...)
    OUTPUT/training_curves.png   loss and validation BLEU per epoch
"""

import contextlib
import dataclasses
import json
import os
import shutil
import warnings
import zipfile

import keras
import tensorflow as tf

from s2s_keras.data import (
    EpochOrder,
    build_tokenizers,
    count_batches,
    load_parallel_text,
    load_tfds,
    load_tokenizer,
    load_tsv,
    make_dataset,
    task_source,
)
from s2s_keras.decoding import GreedySearch
from s2s_keras.evaluation import BleuCallback, group_references, plot_history, spread_sample
from s2s_keras.models import REGISTRY, build_model
from s2s_keras.training.averaging import average_checkpoints
from s2s_keras.training.backup import ResumableBackup, backup_position
from s2s_keras.training.callbacks import (  # noqa: F401  (TimeBudget: also importable from here)
    EpochCheckpoints,
    EpochHistory,
    EpochProgress,
    KeepBestEpoch,
    StopOnNaN,
    TimeBudget,
    epoch_checkpoints,
    read_history,
)
from s2s_keras.training.distribute import distribute_options, is_chief, make_strategy
from s2s_keras.training.losses import masked_loss
from s2s_keras.training.metrics import MaskedAccuracy
from s2s_keras.training.optimizers import FusedAdam
from s2s_keras.training.precision import global_dtype_policy, resolve_dtype_policy
from s2s_keras.training.schedules import recipe_learning_rate
from s2s_keras.training.settings import (  # noqa: F401  (TrainSettings, FIXED_SETTINGS: importable from here)
    FIXED_SETTINGS,
    FROM_RECIPE,
    TrainSettings,
    as_json,
    changed_fixed_settings,
    recipe_of,
    resolve_settings,
)
from s2s_keras.translator import Translator

RUN_FILE = "run.json"
MODEL_FILE = "model.keras"
CURVES_FILE = "training_curves.png"
HISTORY_FILE = "history.json"
UNLIMITED_EPOCHS = 100_000  # with a time budget and no epoch count, the budget ends training


def open_source(spec, columns=(0, 1), tfds_keys=None, split="train", task_size=20000, seed=0):
    """A dataset of `(source, target)` strings from a data spec (see `TrainSettings.data`)."""
    if spec.startswith("task:"):
        return task_source(spec[len("task:"):], task_size, seed=seed)
    if spec.startswith("tfds:"):
        return load_tfds(spec[len("tfds:"):], split=split, keys=tfds_keys)
    paths = spec.split(",")
    for path in paths:
        if not os.path.isfile(path):
            raise ValueError(f"No such data file: {path!r}")
    if len(paths) == 2:
        return load_parallel_text(paths[0], paths[1])
    if len(paths) == 1:
        return load_tsv(paths[0], columns=tuple(columns))
    raise ValueError(f"Data must be one TSV file or two parallel files 'SOURCE,TARGET'. Received: {spec!r}")


def has_trained(output):
    """Whether the run folder holds a trained step: a backup of a started run, or a finished `model.keras`."""
    return os.path.exists(os.path.join(output, "backup")) or os.path.exists(os.path.join(output, MODEL_FILE))


def _forget_untrained_run(output):
    """Removes what a run that never trained a step left (its `run.json`, its tokenizers), so it starts afresh.

    A run that failed before its first step (bad data, a missing file) must
    not make the corrected command fail: nothing in it was trained.
    """
    if not os.path.exists(os.path.join(output, RUN_FILE)) or has_trained(output):
        return
    shutil.rmtree(os.path.join(output, "tokenizers"), ignore_errors=True)
    os.remove(os.path.join(output, RUN_FILE))


def _recorded_settings(output):
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


def _check_run_file(settings, recorded, record, write=True):
    """Refuses a folder holding another run; writes `run.json` (the settings and `record`) otherwise."""
    if recorded is not None:
        changed = changed_fixed_settings(settings, recorded)
        if changed:
            raise ValueError(f"{settings.output!r} holds another run (different {', '.join(changed)}); "
                             "use a new --output folder, nothing was changed.")
    if not write:
        return
    path = os.path.join(settings.output, RUN_FILE)
    partial = path + ".partial"
    with open(partial, "w", encoding="utf-8") as f:
        json.dump({**as_json(settings), **record}, f, indent=2)
    os.replace(partial, path)


def resolve_run_settings(settings):
    """The settings a run will train with, and what `run.json` records beside them.

    Fills every setting the user did not give from the run folder's `run.json`
    (a resumed run) or the model's recipe, and resolves `dtype_policy="auto"`
    (printing the choice and its measurement).

    Returns:
        `(resolved TrainSettings, record, recorded)`: record holds "provenance",
        "recipe_settings" and "dtype_policy_reason"; recorded is the folder's
        `run.json` (None for a new run).
    """
    recorded = _recorded_settings(settings.output)
    _, recipe = recipe_of(settings)
    resolved, provenance = resolve_settings(settings, recorded)
    policy, reason = resolve_dtype_policy(resolved.dtype_policy)
    if reason:
        print(f"Precision: {reason}")
    elif recorded is not None and resolved.dtype_policy == recorded.get("dtype_policy"):
        reason = recorded.get("dtype_policy_reason")
    resolved = dataclasses.replace(resolved, dtype_policy=policy)
    record = {"provenance": provenance, "recipe_settings": recipe.settings(), "dtype_policy_reason": reason}
    return resolved, record, recorded


def _describe(settings, provenance):
    """One line per source: which settings the recipe gave and which the user."""
    groups = {}
    for key, origin in provenance.items():
        if key == "overrides":
            for name, override_origin in origin.items():
                groups.setdefault(override_origin, []).append(f"{name}={settings.overrides[name]!r}")
        else:
            groups.setdefault(origin, []).append(f"{key}={getattr(settings, key)!r}")
    return "\n".join(f"Settings ({origin}{' ' + settings.recipe if origin == 'recipe' else ''}): {', '.join(items)}"
                     for origin, items in groups.items())


def _tokenizers(settings, train_source, write=True):
    folder = os.path.join(settings.output, "tokenizers")
    if os.path.exists(os.path.join(folder, "target")):
        return load_tokenizer(os.path.join(folder, "source")), load_tokenizer(os.path.join(folder, "target"))
    source_tokenizer, target_tokenizer = build_tokenizers(
        train_source, kind=settings.tokenizer, vocab_size=settings.vocab_size, lower=settings.lower
    )
    if not write:  # a non-chief worker: the chief saves the same (deterministic) vocabularies
        return source_tokenizer, target_tokenizer
    save_tokenizers_atomically(source_tokenizer, target_tokenizer, folder)
    return source_tokenizer, target_tokenizer


def save_tokenizers_atomically(source_tokenizer, target_tokenizer, folder):
    """Writes `folder/source` and `folder/target` to a staging folder, then swaps it in.

    A crash leaves either the previous pair or the new one, never a mix.
    """
    staging, previous = folder + ".partial", folder + ".previous"
    shutil.rmtree(staging, ignore_errors=True)
    source_tokenizer.save(os.path.join(staging, "source"))
    target_tokenizer.save(os.path.join(staging, "target"))
    if os.path.exists(folder):
        shutil.rmtree(previous, ignore_errors=True)
        os.replace(folder, previous)
        os.replace(staging, folder)
        shutil.rmtree(previous)
    else:
        os.replace(staging, folder)


def _check_model_settings(settings):
    """Builds the model once with tiny vocabularies, so that an unknown model name, a bad override
    (`--set hiden=3`, `--set units=-1`) or `keep` fails before the run folder is written (an unknown dtype
    policy already failed in `resolve_dtype_policy`)."""
    if settings.keep not in ("best", "last"):
        raise ValueError(f"`keep` must be 'best' or 'last'. Received: keep={settings.keep!r}")
    build_model(settings.model, source_vocab_size=8, target_vocab_size=8, **settings.overrides)


def save_model_atomically(model, path):
    """Saves to a temporary file beside `path`, then renames: `path` is never half-written."""
    partial = path + ".partial.keras"
    model.save(partial)
    os.replace(partial, path)


def train(settings, callbacks=()):
    """Runs, resumes or (when already finished) reopens the run described by `settings`.

    Every setting left at `FROM_RECIPE` comes from the model's recipe (or from
    `run.json`, for a run being resumed). An interrupted run (its `backup/`
    folder exists) continues from its last backup; a finished run
    (`model.keras` and no backup) is not trained again.

    Args:
        settings: a `TrainSettings`.
        callbacks: extra Keras callbacks for `fit`.

    Returns:
        `(model, source_tokenizer, target_tokenizer, logs)`: logs of this call's
        epochs (empty for a finished run).

    Example:
    >>> settings = TrainSettings(model="gru_attention", data="task:dates", output="runs/dates", epochs=3)
    >>> model, source_tokenizer, target_tokenizer, logs = train(settings)  # doctest: +SKIP
    """
    REGISTRY.get(settings.model)  # an unknown name fails before anything is done
    if settings.strategy == "multi-worker" and settings.time_budget is not None:
        raise ValueError("--time-budget cannot be used with the multi-worker strategy: workers would stop at "
                         "different steps. Use --epochs.")
    has_validation = bool(settings.valid) or settings.data.startswith("task:")
    if settings.patience is not None and not has_validation:
        raise ValueError("--patience needs validation data (--valid).")
    strategy = make_strategy(settings.strategy)  # first: a multi-worker strategy must precede any op
    settings, record, recorded = resolve_run_settings(settings)
    _check_model_settings(settings)  # a bad override fails before anything is written
    chief = is_chief(strategy)
    if settings.deterministic:
        tf.config.experimental.enable_op_determinism()
    train_source = open_source(settings.data, settings.columns, settings.tfds_keys, "train",
                               settings.task_size, settings.seed)
    valid_source = None
    if has_validation:  # opened before anything is written: a missing file leaves no folder behind
        valid_source = open_source(settings.valid or settings.data, settings.columns, settings.tfds_keys,
                                   "validation", max(settings.task_size // 10, 1), settings.seed + 1)
    if recorded is None and chief:
        _forget_untrained_run(settings.output)
    os.makedirs(settings.output, exist_ok=True)
    _check_run_file(settings, recorded, record, write=chief)
    backup = os.path.join(settings.output, "backup")
    if os.path.exists(os.path.join(settings.output, MODEL_FILE)) and not os.path.exists(backup):
        print(f"{settings.output!r} is a finished run; loading it (use a new --output to train again).")
        return (*load_run(settings.output), {})
    print(_describe(settings, record["provenance"]))
    keras.utils.set_random_seed(settings.seed)
    source_tokenizer, target_tokenizer = _tokenizers(settings, train_source, write=chief)
    batching = dict(batch_size=settings.batch_size,
                    tokens_per_batch=None if settings.batch_size else settings.tokens_per_batch,
                    max_length=settings.max_length, bucket_width=settings.bucket_width,
                    batch_multiple=strategy.num_replicas_in_sync if strategy else 1)
    order = EpochOrder(settings.seed)
    train_ds = make_dataset(train_source, source_tokenizer, target_tokenizer, shuffle=True, seed=settings.seed,
                            name="train", order=order, **batching)
    # counted once, so the progress bar shows each epoch's total; a worker of several sees only its shard
    multi_worker = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    batches_per_epoch = None if multi_worker else count_batches(train_ds)
    train_ds = distribute_options(train_ds, strategy)
    valid_ds = None
    if valid_source is not None:
        valid_ds = make_dataset(valid_source, source_tokenizer, target_tokenizer, shuffle=False,
                                name="validation", **batching)
        valid_ds = distribute_options(valid_ds, strategy)

    with strategy.scope() if strategy else contextlib.nullcontext(), global_dtype_policy(settings.dtype_policy):
        model = build_model(settings.model, source_vocab_size=source_tokenizer.vocab_size,
                            target_vocab_size=target_tokenizer.vocab_size, **settings.overrides)
        model.compile(optimizer=FusedAdam(recipe_learning_rate(settings.learning_rate, settings.warmup_steps)),
                      loss=masked_loss(label_smoothing=settings.label_smoothing),
                      metrics=[MaskedAccuracy()], jit_compile=settings.jit_compile)
    checkpoints = os.path.join(settings.output, "checkpoints")
    # kept until model.keras is saved: a failed save leaves the run resumable
    resumable = ResumableBackup(backup, order, save_freq=settings.save_every or "epoch", is_chief=chief,
                                delete_on_train_end=False)
    best = KeepBestEpoch(checkpoints, patience=settings.patience) if has_validation and chief else None
    all_callbacks = [  # StopOnNaN first: it raises before anything can save a broken state
        StopOnNaN(hint=f"The last good state is kept in {backup!r} and {checkpoints!r}: lower the learning rate "
                       "and run the same command to resume from it."),
    ]
    if settings.time_budget is not None:
        all_callbacks.append(TimeBudget(settings.time_budget, os.path.join(settings.output, "time_used.json"),
                                        write=chief))
    if valid_source is not None and settings.bleu_sample and strategy is None:
        all_callbacks.append(_bleu_callback(settings, valid_source, source_tokenizer, target_tokenizer))
    if best is not None:  # before the backup: an epoch the backup counts as done has its best weights kept
        all_callbacks.append(best)
    all_callbacks.append(resumable)
    if chief:
        all_callbacks.append(EpochCheckpoints(checkpoints, keep=settings.keep_checkpoints))
    if chief:  # after the backup: an epoch is in the history once the backup counts it as done
        all_callbacks.append(EpochHistory(os.path.join(settings.output, HISTORY_FILE)))
    if batches_per_epoch is not None:  # after the backup, which sets the pass's skipped batches
        all_callbacks.append(EpochProgress(batches_per_epoch, order))
    logs, epochs_done = {}, []
    for last_epoch in _fit_phases(backup, _epochs(settings)):
        with warnings.catch_warnings():
            # each pass ends where the data does (the dataset cannot know its length), which Keras warns about
            warnings.filterwarnings("ignore", message="Your input ran out of data")
            history = model.fit(train_ds, validation_data=valid_ds, epochs=last_epoch, shuffle=False,
                                callbacks=all_callbacks + list(callbacks))
        for key, values in history.history.items():
            logs.setdefault(key, []).extend(float(v) for v in values)
        epochs_done += history.epoch
        if model.stop_training:  # the time budget, patience: not the next phase either
            break
    if not chief:
        return model, source_tokenizer, target_tokenizer, logs
    if settings.keep == "best" and best is not None:
        _restore_best(model, best, epochs_done)
    save_model_atomically(model, os.path.join(settings.output, MODEL_FILE))
    final = {k: round(v[-1], 4) for k, v in logs.items() if v}
    print(f"Saved {os.path.join(settings.output, MODEL_FILE)}; "
          + (f"last epoch: {final}" if final else "no epoch was left to train."))
    _draw_curves(settings.output)
    resumable.delete()  # last: until here a rerun resumes instead of starting over
    return model, source_tokenizer, target_tokenizer, logs


def _fit_phases(backup, epochs):
    """The `epochs` argument of each `fit` call: one call, or two when resuming inside an epoch.

    Keras learns how many batches an epoch has from the first epoch of a
    `fit` call when the dataset cannot say. A run resumed inside an epoch
    trains that epoch's remaining batches only, so the interrupted epoch gets
    a call of its own; otherwise every later epoch would stop that many
    batches short, and the run would not end as an uninterrupted one does.
    """
    position = backup_position(backup)
    if position is not None and position[1] > 0 and position[0] + 1 < epochs:
        return [position[0] + 1, epochs]
    return [epochs]


def _epochs(settings):
    """The most epochs: as given; else 10, or as many as the time budget allows."""
    if settings.epochs is not None:
        return settings.epochs
    return 10 if settings.time_budget is None else UNLIMITED_EPOCHS


def _bleu_callback(settings, valid_source, source_tokenizer, target_tokenizer):
    """BLEU and chrF (greedy) on `settings.bleu_sample` validation sources spread over the validation data."""
    pairs = ((s.decode("utf-8", "replace"), t.decode("utf-8", "replace")) for s, t in valid_source.as_numpy_iterator())
    sources, references = group_references(pairs)
    chosen = spread_sample(range(len(sources)), settings.bleu_sample)
    search = GreedySearch(max_length=settings.max_length)
    return BleuCallback(lambda model: Translator(model, source_tokenizer, target_tokenizer, search=search),
                        [sources[i] for i in chosen], [references[i] for i in chosen])


def _restore_best(model, best, epochs_trained):
    """Loads the best epoch into `model` unless training ended on it; says which epoch the run keeps."""
    record = best.best
    if record is None:
        return
    if epochs_trained and epochs_trained[-1] + 1 == record["epoch"]:
        print(f"Keeping the last epoch ({record['epoch']}): the lowest validation loss ({record['val_loss']:.4f}).")
        return
    best.restore(model)
    print(f"Keeping epoch {record['epoch']}, the lowest validation loss ({record['val_loss']:.4f}); "
          "--keep last keeps the last weights.")


def _draw_curves(output):
    """Draws every call's epochs from `history.json` in `training_curves.png`."""
    joined = {}
    for call in read_history(os.path.join(output, HISTORY_FILE)):
        for key, values in call.items():
            joined.setdefault(key, []).extend(values)
    if joined.get("loss"):
        import matplotlib.pyplot as plt

        plt.close(plot_history(joined, path=os.path.join(output, CURVES_FILE)))


def load_run(output, model_file=None):
    """The trained model and tokenizers of a finished run folder.

    Args:
        output: the run folder.
        model_file: a `.keras` file in it to load instead of `model.keras`
            (e.g. `model_avg5.keras`).

    Returns:
        `(model, source_tokenizer, target_tokenizer)`.
    """
    model_path = os.path.join(output, model_file or MODEL_FILE)
    if not os.path.exists(model_path):
        raise ValueError(f"{output!r} has no {model_file or MODEL_FILE}: not a finished training run.")
    model = load_model_file(model_path)
    tokenizers = os.path.join(output, "tokenizers")
    return model, load_tokenizer(os.path.join(tokenizers, "source")), load_tokenizer(os.path.join(tokenizers, "target"))


def load_model_file(path):
    """`keras.saving.load_model(path)`, with a clear error for a damaged file.

    A truncated or overwritten `.keras` file makes Keras report "File not
    found"; this says what is wrong with the file instead.
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
    """
    found = epoch_checkpoints(os.path.join(output, "checkpoints"))
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
