"""Training a speech model: utterances in, a trained model and its tokenizer in a folder out.

The folder holds `model.keras` (the weights of the epoch with the lowest
validation loss, or the last ones), `tokenizers/target`, `speech_run.json`
(the settings it resolved), `history.json` and `checkpoints/`; `load_speech_run(folder)` reads it back. Settings not given come
from the model's recipe (`get_recipe("las")`), as for the text models.
"""

import os

import keras

from s2s_keras.atomic_save import save_model_atomically, write_json_atomically
from s2s_keras.data import CharTokenizer, WordPieceTokenizer, load_tokenizer, make_audio_dataset
from s2s_keras.models import REGISTRY, build_model
from s2s_keras.training.callbacks import EpochHistory, KeepBestEpoch, StopOnNaN, TimeBudget
from s2s_keras.training.losses import masked_loss
from s2s_keras.training.metrics import MaskedAccuracy
from s2s_keras.training.optimizers import FusedAdam
from s2s_keras.training.precision import global_dtype_policy, resolve_dtype_policy
from s2s_keras.training.schedules import recipe_learning_rate

SECONDS_PER_BATCH = 60.0  # seconds of audio per batch (padding included)
MAX_SECONDS = 10.0  # longer training utterances are dropped (and counted)
MODEL_FILE, TOKENIZER_FOLDER, HISTORY_FILE = "model.keras", "tokenizers/target", "history.json"
SETTINGS_FILE = "speech_run.json"  # what the run resolved; it also marks the folder as a speech run


def speech_tokenizer(kind, transcripts, vocab_size):
    """The target tokenizer a recipe asks for, learnt from the training transcripts ("char" or "wordpiece")."""
    if kind == "char":
        return CharTokenizer.from_texts(transcripts, vocab_size=vocab_size)
    if kind == "wordpiece":
        return WordPieceTokenizer.from_texts(transcripts, vocab_size=vocab_size)
    raise ValueError(f"Speech models train with a 'char' or 'wordpiece' tokenizer. Received: {kind!r}")


def train_speech(model_name, train, valid, output_dir, *, epochs=30, minutes=None, overrides=None, recipe=None,
                 seconds_per_batch=SECONDS_PER_BATCH, max_seconds=MAX_SECONDS, seed=0, verbose=2):
    """Trains a registered speech model on `(waveforms, transcripts)` and writes it to `output_dir`.

    Args:
        model_name: a speech model of the registry, e.g. "las".
        train, valid: `(waveforms, transcripts)`: lists of 1-D float32 arrays
            at the model's sample rate and their strings.
        output_dir: the run folder: new or empty (a folder holding another
            run is refused, so nothing in it is overwritten).
        epochs: passes over `train` at most.
        minutes: stop after the epoch in which this much training time is used.
        overrides: builder overrides on top of the recipe's.
        recipe: a `Recipe` (default: the model's).
        seconds_per_batch: audio per batch, padding included.
        max_seconds: longer training utterances are dropped and counted.
        seed: seeds weights, shuffling and SpecAugment.
        verbose: `model.fit`'s verbosity.

    Returns:
        `(model, target_tokenizer, history)`: the model holds the kept epoch's
        weights (`recipe.keep`), history is Keras's `History.history`.

    Example:
    >>> train_data = fsdd_utterances("fsdd", "train", 3000)  # doctest: +SKIP
    >>> valid_data = fsdd_utterances("fsdd", "test", 300, seed=1)  # doctest: +SKIP
    >>> model, tokenizer, _ = train_speech("las", train_data, valid_data, "runs/las", minutes=30)  # doctest: +SKIP
    """
    if REGISTRY.source_kind(model_name) != "audio":
        raise ValueError(f"{model_name!r} reads token ids, not audio: train it with `training.train`.")
    recipe = recipe or REGISTRY.recipe(model_name)
    if os.path.isdir(output_dir) and os.listdir(output_dir):
        raise ValueError(f"{output_dir!r} is not empty: train into a new folder (nothing in it was changed).")
    keras.utils.set_random_seed(seed)
    os.makedirs(output_dir, exist_ok=True)
    tokenizer = speech_tokenizer(recipe.tokenizer, train[1], recipe.vocab_size)
    batches = dict(seconds_per_batch=seconds_per_batch, max_seconds=max_seconds, log=verbose > 0)
    train_ds = make_audio_dataset(*train, tokenizer, seed=seed, **batches)
    valid_ds = make_audio_dataset(*valid, tokenizer, shuffle=False, name="valid", **batches)
    dtype_policy, _ = resolve_dtype_policy(recipe.dtype_policy)
    with global_dtype_policy(dtype_policy):
        model = build_model(model_name, target_vocab_size=tokenizer.vocab_size,
                            target_special_ids=tokenizer.special_ids, **{**recipe.overrides, **(overrides or {})})
    model.compile(optimizer=FusedAdam(recipe_learning_rate(recipe.learning_rate, recipe.warmup_steps)),
                  loss=masked_loss(label_smoothing=recipe.label_smoothing, pad_id=tokenizer.pad_id),
                  metrics=[MaskedAccuracy(pad_id=tokenizer.pad_id)])
    checkpoints = os.path.join(output_dir, "checkpoints")
    best = KeepBestEpoch(checkpoints)
    callbacks = [StopOnNaN(), best, EpochHistory(os.path.join(output_dir, HISTORY_FILE))]
    if minutes is not None:
        callbacks.append(TimeBudget(minutes, os.path.join(output_dir, "time_used.json")))
    history = model.fit(train_ds, validation_data=valid_ds, epochs=epochs, callbacks=callbacks, verbose=verbose)
    if recipe.keep == "best":
        best.restore(model)
    tokenizer.save(os.path.join(output_dir, TOKENIZER_FOLDER))
    write_json_atomically(os.path.join(output_dir, SETTINGS_FILE), {
        "model": model_name, "overrides": {**recipe.overrides, **(overrides or {})}, "dtype_policy": dtype_policy,
        "seconds_per_batch": seconds_per_batch, "max_seconds": max_seconds, "seed": seed,
        "recipe": recipe.settings(), "best_epoch": best.best})
    save_model_atomically(model, os.path.join(output_dir, MODEL_FILE))
    return model, tokenizer, history.history


def is_speech_run(folder):
    """Whether `folder` holds a finished speech run (a text run has `run.json` instead of `speech_run.json`)."""
    return all(os.path.exists(os.path.join(folder, name)) for name in (SETTINGS_FILE, MODEL_FILE, TOKENIZER_FOLDER))


def load_speech_run(folder):
    """`(model, target_tokenizer)` of a run written by `train_speech` (a clear ValueError if incomplete)."""
    if not is_speech_run(folder):
        raise ValueError(f"{folder!r} is not a finished speech run: {SETTINGS_FILE}, {MODEL_FILE} or "
                         f"{TOKENIZER_FOLDER} is missing.")
    model = keras.saving.load_model(os.path.join(folder, MODEL_FILE))
    return model, load_tokenizer(os.path.join(folder, TOKENIZER_FOLDER))
