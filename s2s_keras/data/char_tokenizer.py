"""A character tokenizer: `tensorflow_text.UnicodeCharTokenizer` + a vocabulary file."""

import collections
import functools
import os

import tensorflow as tf
import tensorflow_text as text

from s2s_keras.data.normalization import normalize_text
from s2s_keras.data.tokenizer import Tokenizer, iterate_normalized, new_asset_directory
from s2s_keras.data.special_ids import RESERVED_TOKENS, UNK_ID

VOCABULARY_FILENAME = "characters.tsv"


def _write_vocabulary(path, vocabulary):
    """One line per id: `code point<TAB>character`; reserved lines get code points -1 .. -4."""
    with open(path, "w", encoding="utf-8") as f:
        for i, token in enumerate(RESERVED_TOKENS):
            f.write(f"{-(i + 1)}\t{token}\n")
        for c in vocabulary:
            f.write(f"{ord(c)}\t{c if c.isprintable() and c != chr(9) else ''}\n")


def _read_vocabulary(path):
    with open(path, encoding="utf-8") as f:
        code_points = [int(line.split("\t", 1)[0]) for line in f]
    return [chr(c) for c in code_points[len(RESERVED_TOKENS):]]


class CharTokenizer(Tokenizer):
    """Maps each Unicode character to an id from a fixed vocabulary.

    Text is normalised (NFKC, white space collapsed, optional lower-casing;
    invalid UTF-8 becomes U+FFFD), split into code points with
    `tensorflow_text.UnicodeCharTokenizer`, and looked up in a table read from
    the vocabulary file (`code point<TAB>character` a line, line number = id).
    Ids 0-3 are the reserved tokens; characters take ids 4.. in vocabulary
    order; an unseen character becomes `[UNK]` (1).

    Args:
        vocabulary: the characters, in id order (no reserved tokens).
        lower: lower-case text before tokenizing.
        normalization_form: "NFKC" (default), "NFC" or None.
        name: the module name.

    Example:
    >>> tok = CharTokenizer.from_texts(["abc"])
    >>> tok.tokenize(["cab"]).to_list()
    [[6, 4, 5]]
    >>> tok.detokenize([[6, 4, 5, 3, 0]]).numpy().tolist()
    [b'cab']
    """

    kind = "char"

    def __init__(self, vocabulary, *, lower=False, normalization_form="NFKC", name=None):
        super().__init__(lower=lower, normalization_form=normalization_form, name=name)
        vocabulary = list(vocabulary)
        if any(not isinstance(c, str) or len(c) != 1 for c in vocabulary) or len(set(vocabulary)) != len(vocabulary):
            raise ValueError(f"`vocabulary` must be distinct single characters. Received: {vocabulary[:20]}...")
        if "\n" in vocabulary:
            raise ValueError("`vocabulary` cannot hold a newline: normalisation turns it into a space.")
        self._vocabulary = vocabulary
        self._path = os.path.join(new_asset_directory(), VOCABULARY_FILENAME)
        _write_vocabulary(self._path, vocabulary)
        code_point, line_number = 0, tf.lookup.TextFileIndex.LINE_NUMBER  # the file's columns
        self._to_id = tf.lookup.StaticHashTable(
            tf.lookup.TextFileInitializer(self._path, tf.int64, code_point, tf.int64, line_number, delimiter="\t"),
            default_value=UNK_ID,
        )
        self._to_code_point = tf.lookup.StaticHashTable(
            tf.lookup.TextFileInitializer(self._path, tf.int64, line_number, tf.int64, code_point, delimiter="\t"),
            default_value=-1,
        )
        self._characters = text.UnicodeCharTokenizer()

    @classmethod
    def from_texts(cls, texts, *, vocab_size=None, lower=False, normalization_form="NFKC"):
        """A tokenizer over the characters of `texts` (after normalisation), sorted.

        Args:
            texts: an iterable of strings, or a `tf.data.Dataset` of scalar strings.
            vocab_size: keep only the `vocab_size - 4` most frequent characters
                (default: all of them).
            lower, normalization_form: as in the constructor.

        Returns:
            A `CharTokenizer`.
        """
        normalize = functools.partial(normalize_text, lower=lower, normalization_form=normalization_form)
        counts = collections.Counter()
        for t in iterate_normalized(texts, normalize):
            counts.update(t)
        if vocab_size is not None:
            if vocab_size <= len(RESERVED_TOKENS):
                raise ValueError(f"`vocab_size` must exceed {len(RESERVED_TOKENS)}. Received: vocab_size={vocab_size}")
            counts = dict(counts.most_common(vocab_size - len(RESERVED_TOKENS)))
        return cls(sorted(counts), lower=lower, normalization_form=normalization_form)

    @property
    def vocabulary(self):
        return list(self._vocabulary)

    @property
    def vocabulary_files(self):
        return [self._path]

    def _tokenize_normalized(self, strings):
        code_points = self._characters.tokenize(strings)  # (batch, None) int32
        return tf.ragged.map_flat_values(lambda c: self._to_id.lookup(tf.cast(c, tf.int64)), code_points)

    def _detokenize_ids(self, ids):
        code_points = tf.ragged.map_flat_values(
            lambda i: tf.cast(self._to_code_point.lookup(tf.cast(i, tf.int64)), tf.int32), ids
        )  # (batch, None)
        return self._characters.detokenize(code_points)

    def _write_files(self, directory):
        _write_vocabulary(os.path.join(directory, VOCABULARY_FILENAME), self._vocabulary)

    @classmethod
    def _from_directory(cls, directory, config):
        return cls(_read_vocabulary(os.path.join(directory, VOCABULARY_FILENAME)), **config)
