"""The interface every tokenizer keeps, and saving/loading them by kind.

A tokenizer is a `tf.Module`: strings in, ids out, in-graph, so it runs in
`tf.data`, inside `tf.function` and inside a SavedModel. Its vocabulary is a
file read by `tf.lookup` tables or a `tf.saved_model.Asset`, so saving a
module that holds a tokenizer copies the file into the SavedModel's
`assets/`, and the reloaded graph needs only `tensorflow` and
`tensorflow_text`.

Shared behaviour:
- `normalize` (see `normalization.py`): invalid UTF-8 -> U+FFFD, optional
  lower-casing, NFKC, white space collapsed. `tokenize` applies it first.
- Special ids (`special_ids`, docs/design.md): the project's tokenizers reserve
  0 [PAD], 1 [UNK], 2 [START], 3 [END], and learned tokens take ids
  4 .. vocab_size - 1; a SentencePiece model trained elsewhere keeps its own
  ids. `tokenize` never emits the pad, start or end id.
- `detokenize` reads each row up to its first end id, drops the special and
  out-of-range ids, and joins the rest. So
  `detokenize(tokenize(x)) == normalize(x)` whenever `x` has no unknown
  symbols.
"""

import atexit
import json
import os
import shutil
import tempfile

import tensorflow as tf

from s2s_keras.data.normalization import check_normalization_form, normalize_text
from s2s_keras.data.special_ids import DEFAULT_SPECIAL_IDS, RESERVED_TOKENS, SpecialIds

CONFIG_FILENAME = "tokenizer.json"
FORMAT_VERSION = 1
_TOKENIZER_CLASSES = {}


def new_asset_directory():
    """A fresh temporary directory for vocabulary files, removed when Python exits."""
    path = tempfile.mkdtemp(prefix="s2s_keras_tokenizer_")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def iterate_normalized(texts, normalize, batch_size=4096):
    """Yields the normalised Python strings of `texts`, normalised in-graph in batches.

    Args:
        texts: an iterable of `str`/`bytes`, or a `tf.data.Dataset` of scalar strings.
        normalize: the tokenizer's `normalize` function.
        batch_size: strings normalised per call.

    Returns:
        A generator of `str`.
    """
    if isinstance(texts, tf.data.Dataset):
        for batch in texts.batch(batch_size).map(normalize).as_numpy_iterator():
            yield from (t.decode("utf-8") for t in batch)
        return
    batch = []
    for t in texts:
        batch.append(t)
        if len(batch) == batch_size:
            yield from (s.decode("utf-8") for s in normalize(tf.constant(batch)).numpy())
            batch = []
    if batch:
        yield from (s.decode("utf-8") for s in normalize(tf.constant(batch)).numpy())


class Tokenizer(tf.Module):
    """Base class: normalisation, reserved ids, detokenization rules, save/load.

    Subclasses set `kind` and implement `_tokenize_normalized`,
    `_detokenize_ids`, `vocabulary`, `_config` and `_write_files` /
    `_from_directory`.

    Args:
        lower: lower-case text before tokenizing.
        normalization_form: "NFKC" (default), "NFC" or None.
        name: the module name.
    """

    kind = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.kind is not None:
            _TOKENIZER_CLASSES[cls.kind] = cls

    def __init__(self, *, lower=False, normalization_form="NFKC", name=None):
        super().__init__(name=name)
        check_normalization_form(normalization_form)
        self.lower = bool(lower)
        self.normalization_form = normalization_form

    # --- the interface -------------------------------------------------------------------------

    @property
    def vocab_size(self):
        """Number of ids, reserved ones included (the model's vocabulary size)."""
        return len(RESERVED_TOKENS) + len(self.vocabulary)

    @property
    def vocabulary(self):
        """The learned tokens, in id order from id 4 (reserved tokens excluded)."""
        raise NotImplementedError

    @property
    def special_ids(self):
        """The `SpecialIds` of this vocabulary (pad, unk, start, end)."""
        return DEFAULT_SPECIAL_IDS

    @property
    def pad_id(self):
        """The padding id (`special_ids.pad`)."""
        return self.special_ids.pad

    @property
    def unk_id(self):
        """The unknown-token id (`special_ids.unk`)."""
        return self.special_ids.unk

    @property
    def start_id(self):
        """The start id (`special_ids.start`)."""
        return self.special_ids.start

    @property
    def end_id(self):
        """The end id (`special_ids.end`)."""
        return self.special_ids.end

    @property
    def tokens(self):
        """Every id's token string, in id order (`len(tokens) == vocab_size`), special ones included."""
        return [*RESERVED_TOKENS, *self.vocabulary]

    @property
    def vocabulary_files(self):
        """The vocabulary or model files behind the tokenizer.

        Saving a module that holds the tokenizer copies them into `assets/`.
        """
        raise NotImplementedError

    def normalize(self, strings):
        """The text `tokenize` actually sees: `tf.string` of the same shape."""
        return normalize_text(strings, lower=self.lower, normalization_form=self.normalization_form)

    def tokenize(self, strings):
        """Strings -> ids.

        Args:
            strings: `tf.string` `(batch,)` (a list of Python strings works), or a scalar.

        Returns:
            int32 `tf.RaggedTensor` `(batch, None)`; for a scalar, a 1-D int32 tensor.
        """
        strings = tf.convert_to_tensor(strings, tf.string)
        if strings.shape.rank == 0:
            return self.tokenize(strings[tf.newaxis])[0]
        if strings.shape.rank != 1:
            raise ValueError(f"`strings` must have rank 0 or 1. Received: shape={strings.shape}")
        ids = self._tokenize_normalized(self.normalize(strings))  # (batch, None)
        return tf.cast(ids, tf.int32)

    def detokenize(self, ids):
        """Ids -> strings: each row up to its first end id, special ids dropped.

        Args:
            ids: int ids `(batch, length)`, dense (padded) or ragged, or one
                sequence `(length,)`.

        Returns:
            `tf.string` `(batch,)` (a scalar for one sequence).
        """
        if not isinstance(ids, tf.RaggedTensor):
            ids = tf.convert_to_tensor(ids)
            if ids.shape.rank == 1:
                return self.detokenize(ids[tf.newaxis])[0]
            ids = tf.RaggedTensor.from_tensor(ids)
        if ids.shape.rank != 2:
            raise ValueError(f"`ids` must have rank 1 or 2. Received: shape={ids.shape}")
        ids = tf.cast(ids, tf.int32)
        special = self.special_ids
        dense = ids.to_tensor(default_value=special.pad)  # (batch, length)
        before_end = tf.math.cumsum(tf.cast(dense == special.end, tf.int32), axis=1) == 0
        is_special = tf.reduce_any(dense[..., tf.newaxis] == tf.constant(special.as_tuple()), axis=-1)
        keep = before_end & ~is_special & (dense >= 0) & (dense < self.vocab_size)
        return self._detokenize_ids(tf.ragged.boolean_mask(dense, keep))  # (batch,)

    # --- hooks -----------------------------------------------------------------------------------

    def _tokenize_normalized(self, strings):
        """Normalised strings `(batch,)` -> int ragged ids `(batch, None)`."""
        raise NotImplementedError

    def _detokenize_ids(self, ids):
        """Ragged int32 ids `(batch, None)`, all learned tokens -> `tf.string` `(batch,)`."""
        raise NotImplementedError

    def _config(self):
        """Constructor arguments (besides the vocabulary) stored in `tokenizer.json`."""
        return {"lower": self.lower, "normalization_form": self.normalization_form}

    def _write_files(self, directory):
        """Writes the vocabulary file(s) into `directory`."""
        raise NotImplementedError

    @classmethod
    def _from_directory(cls, directory, config):
        """Rebuilds the tokenizer from the files `_write_files` wrote and `config`."""
        raise NotImplementedError

    # --- saving and loading ---------------------------------------------------------------------

    def save(self, directory):
        """Writes `tokenizer.json` and the vocabulary file(s) into `directory`.

        Example:
        >>> tokenizer.save("tokenizers/source")  # doctest: +SKIP
        >>> Tokenizer.load("tokenizers/source")  # doctest: +SKIP
        """
        os.makedirs(directory, exist_ok=True)
        self._write_files(directory)
        config = {"kind": self.kind, "format_version": FORMAT_VERSION, "vocab_size": self.vocab_size,
                  "special_ids": self.special_ids.to_config(), **self._config()}
        with open(os.path.join(directory, CONFIG_FILENAME), "w", encoding="utf-8") as f:
            json.dump(config, f, indent=2)

    @classmethod
    def load(cls, directory):
        """Loads a tokenizer written by `save`, whatever its kind.

        Called on a subclass, the saved kind must be that subclass's.

        Raises:
            ValueError: when `directory` holds no tokenizer, a damaged one, or one of another kind.
        """
        path = os.path.join(directory, CONFIG_FILENAME)
        if not os.path.exists(path):
            raise ValueError(f"No {CONFIG_FILENAME} in the directory. Received: directory={directory!r}")
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
        required = {"kind", "format_version", "vocab_size"}
        if not isinstance(config, dict) or not required <= config.keys():
            raise ValueError(f"{path!r} is damaged: it needs the entries {', '.join(sorted(required))}.")
        kind = config.pop("kind")
        config.pop("format_version")
        vocab_size = config.pop("vocab_size")
        special_ids = config.pop("special_ids", None)  # None: written before special ids were recorded
        klass = tokenizer_class(kind)
        if cls.kind is not None and klass is not cls:
            raise ValueError(f"{directory!r} holds a {kind!r} tokenizer, not a {cls.kind!r} one.")
        tokenizer = klass._from_directory(directory, config)
        if tokenizer.vocab_size != vocab_size:
            raise ValueError(
                f"{directory!r}: the vocabulary has {tokenizer.vocab_size} ids, {CONFIG_FILENAME} says {vocab_size}."
            )
        if special_ids is not None and SpecialIds.from_config(special_ids) != tokenizer.special_ids:
            raise ValueError(f"{directory!r}: the vocabulary's special ids are {tokenizer.special_ids.to_config()}, "
                             f"{CONFIG_FILENAME} says {special_ids}.")
        return tokenizer


def load_tokenizer(directory):
    """Loads any tokenizer written by `Tokenizer.save` (same as `Tokenizer.load`)."""
    return Tokenizer.load(directory)


def tokenizer_class(kind):
    """The tokenizer class registered under `kind`.

    Raises:
        ValueError: for an unknown kind, listing the valid ones.
    """
    if kind not in _TOKENIZER_CLASSES:
        raise ValueError(f"`kind` must be one of {tokenizer_kinds()}. Received: kind={kind!r}")
    return _TOKENIZER_CLASSES[kind]


def tokenizer_kinds():
    """The registered tokenizer kinds, e.g. `["char", "sentencepiece", "wordpiece"]`."""
    return sorted(_TOKENIZER_CLASSES)
