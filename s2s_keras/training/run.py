"""A complete training run in an output folder: settings, data, tokenizers, model, fit, resume.

This is what `s2s-keras train` calls. Settings the user does not give come from the
model's recipe (`TrainSettings`, `resolve_settings`). `train` runs the steps below in
order; the folder it writes, and what reads a run back, are in
`s2s_keras.training.run_folder`.
"""

import contextlib
import dataclasses
import os
import warnings

import keras
import tensorflow as tf

from s2s_keras.atomic_save import save_model_atomically, save_tokenizers_atomically
from s2s_keras.checks import check_choice
from s2s_keras.data import (
    EpochOrder,
    build_tokenizers,
    count_batches,
    make_dataset,
    open_source,
)
from s2s_keras.decoding import GreedySearch
from s2s_keras.evaluation import group_references, spread_sample
from s2s_keras.models import REGISTRY, build_model
from s2s_keras.models.recipe import KEEP
from s2s_keras.plotting import plot_history
from s2s_keras.training.backup import ResumableBackup, backup_position
from s2s_keras.training.bleu_callback import BleuCallback
from s2s_keras.training.callbacks import (
    EpochCheckpoints,
    EpochHistory,
    EpochProgress,
    KeepBestEpoch,
    StopOnNaN,
    TimeBudget,
    read_history,
)
from s2s_keras.training.distribute import distribute_options, is_chief, make_strategy
from s2s_keras.training.losses import masked_loss
from s2s_keras.training.metrics import MaskedAccuracy
from s2s_keras.training.optimizers import FusedAdam
from s2s_keras.training.precision import global_dtype_policy, resolve_dtype_policy
from s2s_keras.training.run_folder import (
    BACKUP_FOLDER,
    CHECKPOINTS_FOLDER,
    CURVES_FILE,
    HISTORY_FILE,
    MODEL_FILE,
    TIME_USED_FILE,
    TOKENIZERS_FOLDER,
    check_same_run,
    forget_untrained_run,
    is_finished,
    load_run,
    load_tokenizers,
    recorded_settings,
    write_run_file,
)
from s2s_keras.training.schedules import recipe_learning_rate
from s2s_keras.training.settings import (  # noqa: F401  (TrainSettings: the example of `train`; importable from here)
    TrainSettings,
    recipe_of,
    resolve_settings,
)
from s2s_keras.translator import Translator

UNLIMITED_EPOCHS = 100_000  # with a time budget and no epoch count, the budget ends training


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
    _check_settings(settings)
    strategy = make_strategy(settings.strategy)  # first: a multi-worker strategy must precede any op
    settings, record, recorded = resolve_run_settings(settings)
    _check_model_settings(settings)  # a bad override fails before anything is written
    chief = is_chief(strategy)
    if settings.deterministic:
        tf.config.experimental.enable_op_determinism()
    train_source, valid_source = _open_data(settings)
    _prepare_folder(settings, record, recorded, chief)
    if is_finished(settings.output):
        print(f"{settings.output!r} is a finished run; loading it (use a new --output to train again).")
        return (*load_run(settings.output), {})
    print(_describe(settings, record["provenance"]))
    keras.utils.set_random_seed(settings.seed)
    tokenizers = _tokenizers(settings, train_source, write=chief)
    order = EpochOrder(settings.seed)
    train_ds, valid_ds, batches_per_epoch = _make_datasets(settings, strategy, order, tokenizers,
                                                           train_source, valid_source)
    model = _compile_model(settings, strategy, tokenizers)
    fit_callbacks, resumable, best = _callbacks(settings, strategy, chief, order, batches_per_epoch,
                                                valid_source, tokenizers)
    logs, epochs_done = _fit(settings, model, train_ds, valid_ds, fit_callbacks + list(callbacks))
    if chief:
        _finish(settings, model, best, resumable, logs, epochs_done)
    return (model, *tokenizers, logs)


def _check_settings(settings):
    """Fails on a setting that cannot work (an unknown model, a flag without what it needs) before anything runs."""
    REGISTRY.get(settings.model)  # an unknown name fails before anything is done
    if settings.strategy == "multi-worker" and settings.time_budget is not None:
        raise ValueError("--time-budget cannot be used with the multi-worker strategy: workers would stop at "
                         "different steps. Use --epochs.")
    if settings.patience is not None and not _has_validation(settings):
        raise ValueError("--patience needs validation data (--valid).")


def _has_validation(settings):
    """Whether the run validates: on `settings.valid`, or on more pairs of its embedded task."""
    return bool(settings.valid) or settings.data.startswith("task:")


def resolve_run_settings(settings):
    """The settings a run will train with, and what `run.json` records beside them.

    Fills every setting the user did not give from the run folder's `run.json`
    (a resumed run) or the model's recipe, and resolves `dtype_policy="auto"`
    (printing the choice and its measurement).

    A new run whose recipe has `corpus_rules` counts its training pairs first
    and trains with the recipe for that corpus (`Recipe.for_corpus`).

    Returns:
        `(resolved TrainSettings, record, recorded)`: record holds "provenance",
        "recipe_settings", "corpus_rule" and "dtype_policy_reason"; recorded is
        the folder's `run.json` (None for a new run).
    """
    recorded = recorded_settings(settings.output)
    _, recipe = recipe_of(settings)
    corpus_rule = None
    if recipe.corpus_rules and recorded is None:  # a resumed run keeps what it recorded
        pairs = count_training_pairs(settings)
        recipe, rule = recipe.for_corpus(pairs)
        if rule is not None:
            corpus_rule = {"pairs": pairs, "max_pairs": rule.max_pairs, "changes": rule.changes}
            print(f"Corpus: {pairs:,} training pairs, at most {rule.max_pairs:,}: the recipe for this size changes "
                  f"{rule.changes} ({rule.note})")
    elif recorded is not None:
        corpus_rule = recorded.get("corpus_rule")
    resolved, provenance = resolve_settings(settings, recorded, recipe=recipe)
    policy, reason = resolve_dtype_policy(resolved.dtype_policy)
    if reason:
        print(f"Precision: {reason}")
    elif recorded is not None and resolved.dtype_policy == recorded.get("dtype_policy"):
        reason = recorded.get("dtype_policy_reason")
    resolved = dataclasses.replace(resolved, dtype_policy=policy)
    record = {"provenance": provenance, "recipe_settings": recipe.settings(), "corpus_rule": corpus_rule,
              "dtype_policy_reason": reason}
    return resolved, record, recorded


def count_training_pairs(settings):
    """The number of pairs in the run's training data (read once)."""
    return count_batches(_open_train_source(settings))


def _check_model_settings(settings):
    """Builds the model once with tiny vocabularies, so that an unknown model name, a bad override
    (`--set hiden=3`, `--set units=-1`) or `keep` fails before the run folder is written (an unknown dtype
    policy already failed in `resolve_dtype_policy`)."""
    check_choice("keep", settings.keep, KEEP)
    if REGISTRY.source_kind(settings.model) == "audio":
        raise ValueError(f"{settings.model!r} is a speech model: train it with `training.train_speech` (or "
                         "`s2s-keras train` on audio folders).")
    build_model(settings.model, source_vocab_size=8, target_vocab_size=8, **settings.overrides)


def _open_train_source(settings):
    """The run's training pairs as a dataset."""
    return open_source(settings.data, settings.columns, settings.tfds_keys, "train", settings.task_size, settings.seed)


def _open_data(settings):
    """The training and validation sources (None without validation data), opened before anything is written."""
    train_source = _open_train_source(settings)
    valid_source = None
    if _has_validation(settings):  # opened before anything is written: a missing file leaves no folder behind
        valid_source = open_source(settings.valid or settings.data, settings.columns, settings.tfds_keys,
                                   "validation", max(settings.task_size // 10, 1), settings.seed + 1)
    return train_source, valid_source


def _prepare_folder(settings, record, recorded, chief):
    """Creates the run folder, refusing one that holds another run; the chief writes its `run.json`."""
    if recorded is None and chief:
        forget_untrained_run(settings.output)
    os.makedirs(settings.output, exist_ok=True)
    check_same_run(settings, recorded)
    if chief:
        write_run_file(settings, record)


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
    """`(source_tokenizer, target_tokenizer)`: the run folder's, or built from `train_source` and saved there."""
    folder = os.path.join(settings.output, TOKENIZERS_FOLDER)
    if os.path.exists(os.path.join(folder, "target")):
        return load_tokenizers(settings.output)
    source_tokenizer, target_tokenizer = build_tokenizers(
        train_source, kind=settings.tokenizer, vocab_size=settings.vocab_size, lower=settings.lower
    )
    if not write:  # a non-chief worker: the chief saves the same (deterministic) vocabularies
        return source_tokenizer, target_tokenizer
    save_tokenizers_atomically(source_tokenizer, target_tokenizer, folder)
    return source_tokenizer, target_tokenizer


def _make_datasets(settings, strategy, order, tokenizers, train_source, valid_source):
    """`(train_ds, valid_ds, batches_per_epoch)`: the batched datasets (valid_ds None without validation data)."""
    source_tokenizer, target_tokenizer = tokenizers
    batching = dict(batch_size=settings.batch_size,
                    tokens_per_batch=None if settings.batch_size else settings.tokens_per_batch,
                    max_length=settings.max_length, bucket_width=settings.bucket_width,
                    batch_multiple=strategy.num_replicas_in_sync if strategy else 1)
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
    return train_ds, valid_ds, batches_per_epoch


def _compile_model(settings, strategy, tokenizers):
    """The model, built and compiled in the strategy's scope under the run's dtype policy."""
    source_tokenizer, target_tokenizer = tokenizers
    with strategy.scope() if strategy else contextlib.nullcontext(), global_dtype_policy(settings.dtype_policy):
        model = build_model(settings.model, source_vocab_size=source_tokenizer.vocab_size,
                            target_vocab_size=target_tokenizer.vocab_size,
                            source_special_ids=source_tokenizer.special_ids,
                            target_special_ids=target_tokenizer.special_ids, **settings.overrides)
        pad_id = target_tokenizer.pad_id
        model.compile(optimizer=FusedAdam(recipe_learning_rate(settings.learning_rate, settings.warmup_steps)),
                      loss=masked_loss(label_smoothing=settings.label_smoothing, pad_id=pad_id),
                      metrics=[MaskedAccuracy(pad_id=pad_id)], jit_compile=settings.jit_compile)
    return model


def _callbacks(settings, strategy, chief, order, batches_per_epoch, valid_source, tokenizers):
    """`(callbacks, resumable, best)`: the run's callbacks in order, its backup, its best-epoch keeper (or None)."""
    backup = os.path.join(settings.output, BACKUP_FOLDER)
    checkpoints = os.path.join(settings.output, CHECKPOINTS_FOLDER)
    # kept until model.keras is saved: a failed save leaves the run resumable
    resumable = ResumableBackup(backup, order, save_freq=settings.save_every or "epoch", is_chief=chief,
                                delete_on_train_end=False)
    best = KeepBestEpoch(checkpoints, patience=settings.patience) if valid_source is not None and chief else None
    callbacks = [  # StopOnNaN first: it raises before anything can save a broken state
        StopOnNaN(hint=f"The last good state is kept in {backup!r} and {checkpoints!r}: lower the learning rate "
                       "and run the same command to resume from it."),
    ]
    if settings.time_budget is not None:
        callbacks.append(TimeBudget(settings.time_budget, os.path.join(settings.output, TIME_USED_FILE),
                                    write=chief))
    if valid_source is not None and settings.bleu_sample and strategy is None:
        callbacks.append(_bleu_callback(settings, valid_source, *tokenizers))
    if best is not None:  # before the backup: an epoch the backup counts as done has its best weights kept
        callbacks.append(best)
    callbacks.append(resumable)
    if chief:
        callbacks.append(EpochCheckpoints(checkpoints, keep=settings.keep_checkpoints))
    if chief:  # after the backup: an epoch is in the history once the backup counts it as done
        callbacks.append(EpochHistory(os.path.join(settings.output, HISTORY_FILE)))
    if batches_per_epoch is not None:  # after the backup, which sets the pass's skipped batches
        callbacks.append(EpochProgress(batches_per_epoch, order))
    return callbacks, resumable, best


def _bleu_callback(settings, valid_source, source_tokenizer, target_tokenizer):
    """BLEU and chrF (greedy) on `settings.bleu_sample` validation sources spread over the validation data."""
    pairs = ((s.decode("utf-8", "replace"), t.decode("utf-8", "replace")) for s, t in valid_source.as_numpy_iterator())
    sources, references = group_references(pairs)
    chosen = spread_sample(range(len(sources)), settings.bleu_sample)
    search = GreedySearch(max_length=settings.max_length)
    return BleuCallback(lambda model: Translator(model, source_tokenizer, target_tokenizer, search=search,
                                                  fastest_precision=False,  # the live model
                                                  parallel_loops=1),  # training keeps every thread per op
                        [sources[i] for i in chosen], [references[i] for i in chosen])


def _fit(settings, model, train_ds, valid_ds, callbacks):
    """Trains what is left of the run; returns `(logs, epochs_done)` of this call."""
    logs, epochs_done = {}, []
    for last_epoch in _fit_phases(os.path.join(settings.output, BACKUP_FOLDER), _epochs(settings)):
        with warnings.catch_warnings():
            # each pass ends where the data does (the dataset cannot know its length), which Keras warns about
            warnings.filterwarnings("ignore", message="Your input ran out of data")
            history = model.fit(train_ds, validation_data=valid_ds, epochs=last_epoch, shuffle=False,
                                callbacks=list(callbacks))
        for key, values in history.history.items():
            logs.setdefault(key, []).extend(float(v) for v in values)
        epochs_done += history.epoch
        if model.stop_training:  # the time budget, patience: not the next phase either
            break
    return logs, epochs_done


def _finish(settings, model, best, resumable, logs, epochs_done):
    """Keeps the chosen epoch's weights, saves `model.keras` and the curves, then drops the backup."""
    if settings.keep == "best" and best is not None:
        _restore_best(model, best, epochs_done)
    save_model_atomically(model, os.path.join(settings.output, MODEL_FILE))
    final = {k: round(v[-1], 4) for k, v in logs.items() if v}
    print(f"Saved {os.path.join(settings.output, MODEL_FILE)}; "
          + (f"last epoch: {final}" if final else "no epoch was left to train."))
    _draw_curves(settings.output)
    resumable.delete()  # last: until here a rerun resumes instead of starting over


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
