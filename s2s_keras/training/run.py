"""A complete training run in an output folder: data, tokenizers, model, fit, resume.

This is what `s2s-keras train` calls. The folder holds everything a run
needs to resume and to be used afterwards:

    OUTPUT/run.json            the run's settings (a later call must match them)
    OUTPUT/tokenizers/source/  OUTPUT/tokenizers/target/
    OUTPUT/backup/             the full training state while training (`ResumableBackup`)
    OUTPUT/checkpoints/        the weights of the last epochs (for `s2s-keras average`)
    OUTPUT/model.keras         the trained model (replaced atomically)
    OUTPUT/history.json        per-epoch logs of every call, appended
"""

import contextlib
import dataclasses
import json
import os
import shutil
import time

import keras
import tensorflow as tf

from s2s_keras.data import (
    EpochOrder,
    build_tokenizers,
    load_parallel_text,
    load_tfds,
    load_tokenizer,
    load_tsv,
    make_dataset,
    task_source,
)
from s2s_keras.models import REGISTRY, build_model
from s2s_keras.training.averaging import average_checkpoints
from s2s_keras.training.backup import ResumableBackup
from s2s_keras.training.callbacks import EpochCheckpoints, StopOnNaN, epoch_checkpoints
from s2s_keras.training.distribute import distribute_options, is_chief, make_strategy
from s2s_keras.training.losses import masked_loss
from s2s_keras.training.metrics import MaskedAccuracy
from s2s_keras.training.optimizers import FusedAdam
from s2s_keras.training.precision import DTYPE_POLICIES, global_dtype_policy
from s2s_keras.training.schedules import NoamSchedule

RUN_FILE = "run.json"
MODEL_FILE = "model.keras"
# Settings that must not change between a run and its resumption (the batching too: the backup
# counts the batches of the epoch already trained, which other batches would not match).
FIXED_SETTINGS = ("model", "data", "columns", "tfds_keys", "tokenizer", "vocab_size", "lower", "overrides",
                  "max_length", "seed", "task_size", "batch_size", "tokens_per_batch", "bucket_width",
                  "dtype_policy")


@dataclasses.dataclass
class TrainSettings:
    """Everything `train` needs; the CLI fills it from its flags.

    Attributes:
        model: a registered model name.
        data: training data: a TSV file, "SOURCE_FILE,TARGET_FILE" (parallel
            text, plain or .gz), "tfds:NAME" (tensorflow-datasets) or
            "task:NAME" (an embedded task: dates, copy, reverse, sort).
        output: the run's folder.
        valid: validation data in the same forms (optional).
        columns: TSV columns `(source, target)`.
        tfds_keys: the TFDS feature names `(source, target)`.
        tokenizer: "wordpiece", "sentencepiece" or "char".
        vocab_size: largest vocabulary per side.
        lower: lower-case the text.
        epochs: most epochs.
        time_budget: stop after this many minutes of training (all calls together).
        batch_size / tokens_per_batch: batching (a token budget by default).
        max_length: most tokens per side; longer pairs are dropped (and counted).
        bucket_width: length buckets every this many tokens (1: one per length,
            the least padding); default: buckets 25% apart from 8 tokens.
        learning_rate: Adam's learning rate (the peak one with `warmup_steps`).
        warmup_steps: if set, a linear warm-up over this many steps to
            `learning_rate`, then inverse square-root decay (`NoamSchedule`).
        label_smoothing: of the masked cross-entropy.
        overrides: model builder overrides.
        seed: seeds weights and data order.
        task_size: pairs generated for "task:" data (validation: a tenth, another seed).
        jit_compile: compile the training step with XLA.
        keep_checkpoints: epoch checkpoints kept for averaging.
        save_every: also back up the training state every this many batches
            (default: at the end of each epoch only). Either way a killed run
            resumes exactly where its last backup was taken.
        strategy: None, "mirrored" or "multi-worker" (see `training.distribute`).
        deterministic: deterministic ops (`tf.config.experimental.enable_op_determinism`),
            so a resumed run ends bit-identical to an uninterrupted one.
        dtype_policy: "float32", "mixed_bfloat16" (CPUs with AVX-512 BF16 or AMX,
            TPUs, Ampere and newer GPUs) or "mixed_float16" (GPUs; the loss is
            scaled). Mixed policies compute in 16 bits with float32 variables,
            logits and loss; the saved model keeps its policy (see
            `training.float32_copy` to serve it in float32).
    """

    model: str
    data: str
    output: str
    valid: str = None
    columns: tuple = (0, 1)
    tfds_keys: tuple = None
    tokenizer: str = "wordpiece"
    vocab_size: int = 8000
    lower: bool = False
    epochs: int = 10
    time_budget: float = None
    batch_size: int = None
    tokens_per_batch: int = 4096
    max_length: int = 100
    bucket_width: int = None
    learning_rate: float = 1e-3
    warmup_steps: int = None
    label_smoothing: float = 0.1
    overrides: dict = dataclasses.field(default_factory=dict)
    seed: int = 0
    task_size: int = 20000
    jit_compile: bool = False
    keep_checkpoints: int = 5
    save_every: int = None
    strategy: str = None
    deterministic: bool = False
    dtype_policy: str = "float32"


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
            with open(self.path, "w") as f:
                json.dump({"seconds": self.used}, f)
        if self.used >= self.seconds:
            self.model.stop_training = True


def _learning_rate(settings):
    if settings.warmup_steps:
        return NoamSchedule.with_peak(settings.learning_rate, settings.warmup_steps)
    return settings.learning_rate


def _check_run_file(settings, write=True):
    path = os.path.join(settings.output, RUN_FILE)
    current = json.loads(json.dumps(dataclasses.asdict(settings)))  # tuples -> lists
    if os.path.exists(path):
        with open(path) as f:
            previous = json.load(f)
        defaults = json.loads(json.dumps({f.name: f.default for f in dataclasses.fields(TrainSettings)
                                          if f.default is not dataclasses.MISSING}))
        changed = [k for k in FIXED_SETTINGS if previous.get(k, defaults.get(k)) != current.get(k)]
        if changed:
            raise ValueError(f"{settings.output!r} holds another run (different {', '.join(changed)}); "
                             "use a new --output folder, nothing was changed.")
    if not write:
        return
    with open(path, "w") as f:
        json.dump(current, f, indent=2)


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
    (`--set hiden=3`, `--set units=-1`) or dtype policy fails before the run folder is written."""
    if settings.dtype_policy not in DTYPE_POLICIES:
        raise ValueError(f"dtype_policy must be one of {', '.join(DTYPE_POLICIES)}. "
                         f"Received: {settings.dtype_policy!r}")
    build_model(settings.model, source_vocab_size=8, target_vocab_size=8, **settings.overrides)


def save_model_atomically(model, path):
    """Saves to a temporary file beside `path`, then renames: `path` is never half-written."""
    partial = path + ".partial.keras"
    model.save(partial)
    os.replace(partial, path)


def train(settings, callbacks=()):
    """Runs, resumes or (when already finished) reopens the run described by `settings`.

    An interrupted run (its `backup/` folder exists) continues from its last
    backup; a finished run (`model.keras` and no backup) is not trained again.

    Args:
        settings: a `TrainSettings`.
        callbacks: extra Keras callbacks for `fit`.

    Returns:
        `(model, source_tokenizer, target_tokenizer, logs)`: logs of this call's
        epochs (empty for a finished run).
    """
    REGISTRY.get(settings.model)  # an unknown name fails before anything is done
    if settings.strategy == "multi-worker" and settings.time_budget is not None:
        raise ValueError("--time-budget cannot be used with the multi-worker strategy: workers would stop at "
                         "different steps. Use --epochs.")
    strategy = make_strategy(settings.strategy)  # first: a multi-worker strategy must precede any op
    _check_model_settings(settings)  # a bad override fails before anything is written
    chief = is_chief(strategy)
    if settings.deterministic:
        tf.config.experimental.enable_op_determinism()
    train_source = open_source(settings.data, settings.columns, settings.tfds_keys, "train",
                               settings.task_size, settings.seed)
    os.makedirs(settings.output, exist_ok=True)
    _check_run_file(settings, write=chief)
    backup = os.path.join(settings.output, "backup")
    if os.path.exists(os.path.join(settings.output, MODEL_FILE)) and not os.path.exists(backup):
        print(f"{settings.output!r} is a finished run; loading it (use a new --output to train again).")
        return (*load_run(settings.output), {})
    keras.utils.set_random_seed(settings.seed)
    source_tokenizer, target_tokenizer = _tokenizers(settings, train_source, write=chief)
    batching = dict(batch_size=settings.batch_size,
                    tokens_per_batch=None if settings.batch_size else settings.tokens_per_batch,
                    max_length=settings.max_length, bucket_width=settings.bucket_width,
                    batch_multiple=strategy.num_replicas_in_sync if strategy else 1)
    order = EpochOrder(settings.seed)
    train_ds = make_dataset(train_source, source_tokenizer, target_tokenizer, shuffle=True, seed=settings.seed,
                            name="train", order=order, **batching)
    train_ds = distribute_options(train_ds, strategy)
    valid_ds = None
    if settings.valid or settings.data.startswith("task:"):
        valid_spec = settings.valid or settings.data
        valid_source = open_source(valid_spec, settings.columns, settings.tfds_keys, "validation",
                                   max(settings.task_size // 10, 1), settings.seed + 1)
        valid_ds = make_dataset(valid_source, source_tokenizer, target_tokenizer, shuffle=False,
                                name="validation", **batching)
        valid_ds = distribute_options(valid_ds, strategy)

    with strategy.scope() if strategy else contextlib.nullcontext(), global_dtype_policy(settings.dtype_policy):
        model = build_model(settings.model, source_vocab_size=source_tokenizer.vocab_size,
                            target_vocab_size=target_tokenizer.vocab_size, **settings.overrides)
        model.compile(optimizer=FusedAdam(_learning_rate(settings)),
                      loss=masked_loss(label_smoothing=settings.label_smoothing),
                      metrics=[MaskedAccuracy()], jit_compile=settings.jit_compile)
    checkpoints = os.path.join(settings.output, "checkpoints")
    # kept until model.keras is saved: a failed save leaves the run resumable
    resumable = ResumableBackup(backup, order, save_freq=settings.save_every or "epoch", is_chief=chief,
                                delete_on_train_end=False)
    all_callbacks = [  # StopOnNaN first: it raises before anything can save a broken state
        StopOnNaN(hint=f"The last good state is kept in {backup!r} and {checkpoints!r}: lower the learning rate "
                       "and run the same command to resume from it."),
        resumable,
    ]
    if chief:
        all_callbacks.append(EpochCheckpoints(checkpoints, keep=settings.keep_checkpoints))
    if settings.time_budget is not None:
        all_callbacks.append(TimeBudget(settings.time_budget, os.path.join(settings.output, "time_used.json"),
                                        write=chief))
    history = model.fit(train_ds, validation_data=valid_ds, epochs=settings.epochs,
                        callbacks=all_callbacks + list(callbacks))
    logs = {k: [float(v) for v in values] for k, values in history.history.items()}
    if not chief:
        return model, source_tokenizer, target_tokenizer, logs
    save_model_atomically(model, os.path.join(settings.output, MODEL_FILE))
    history_path = os.path.join(settings.output, "history.json")
    previous = []
    if os.path.exists(history_path):
        with open(history_path) as f:
            previous = json.load(f)
    with open(history_path, "w") as f:
        json.dump(previous + [logs], f, indent=2)
    resumable.delete()  # last: until here a rerun resumes instead of starting over
    return model, source_tokenizer, target_tokenizer, logs


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
    model = keras.saving.load_model(model_path)
    tokenizers = os.path.join(output, "tokenizers")
    return model, load_tokenizer(os.path.join(tokenizers, "source")), load_tokenizer(os.path.join(tokenizers, "target"))


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
