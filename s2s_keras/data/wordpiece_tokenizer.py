"""A WordPiece tokenizer: vocabulary learned with tensorflow-text's `bert_vocab_from_dataset`.

Words are the white-space separated pieces of the normalised text (so spacing
is kept exactly); each word is split greedily, longest match first, into a
word-initial token and `##` suffix tokens ("hello," -> "hello", "##,") by
`tensorflow_text.WordpieceTokenizer`, reading the vocabulary file through a
`tf.lookup` table. Detokenizing glues `##` tokens to the previous token and
puts one space before every other token, which restores the normalised text.

The vocabulary is learned on BERT-style words (punctuation split off), and
the learner adds the `##` form of every character it keeps, so punctuation
attached to a word costs one token. A word glued after punctuation ("¿dónde",
"(yes") is spelled with suffix tokens, which are shorter on average than a
word-initial token: one more reason the SentencePiece tokenizer suits
languages with such marks better.
"""

import functools
import os

import tensorflow as tf
import tensorflow_text as text
from tensorflow_text.tools.wordpiece_vocab.bert_vocab_from_dataset import bert_vocab_from_dataset

from s2s_keras.data.normalization import normalize_text
from s2s_keras.data.tokenizer import Tokenizer, new_asset_directory
from s2s_keras.data.special_ids import RESERVED_TOKENS, UNK_ID

VOCABULARY_FILENAME = "vocab.txt"
SUFFIX_INDICATOR = "##"
MAX_BYTES_PER_WORD = 200
LEARNING_BATCH_SIZE = 1024


def learn_wordpiece_vocabulary(batches, vocab_size, **learn_params):
    """Learns WordPiece tokens with `bert_vocab_from_dataset`.

    Args:
        batches: a `tf.data.Dataset` of normalised string batches `(None,)`.
        vocab_size: the largest vocabulary wanted, reserved tokens included.
        **learn_params: passed to `wordpiece_tokenizer_learner_lib.learn`
            (e.g. `lower_thresh`, `max_unique_chars`).

    Returns:
        The learned tokens, reserved tokens excluded (ids 4..).
    """
    vocabulary = bert_vocab_from_dataset(
        batches.prefetch(tf.data.AUTOTUNE),
        vocab_size=vocab_size,
        reserved_tokens=list(RESERVED_TOKENS),
        bert_tokenizer_params={"lower_case": False},  # normalisation is already done
        learn_params=learn_params,
    )
    if vocabulary[: len(RESERVED_TOKENS)] != list(RESERVED_TOKENS):
        raise ValueError(f"The learner moved the reserved tokens. Received: {vocabulary[:4]}")
    return vocabulary[len(RESERVED_TOKENS):]


class WordPieceTokenizer(Tokenizer):
    """Splits words into WordPiece tokens, in-graph, reversibly.

    Unknown characters become one `[UNK]` each (the rest of the word is kept);
    `detokenize` drops them. A literal reserved token in the text ("[END]")
    becomes `[UNK]` too, so no text can end a sequence early or pass for
    padding.

    Args:
        vocabulary: the tokens in id order from id 4 (no reserved tokens);
            suffix tokens start with "##".
        lower: lower-case text before tokenizing.
        normalization_form: "NFKC" (default), "NFC" or None.
        name: the module name.

    Example:
    >>> tok = WordPieceTokenizer(["!", ",", "hello", "world", "##!", "##,"])
    >>> tok.tokenize(["hello, world!"]).to_list()
    [[6, 9, 7, 8]]
    >>> tok.detokenize([[6, 9, 7, 8, 3]]).numpy().tolist()
    [b'hello, world!']
    """

    kind = "wordpiece"

    def __init__(self, vocabulary, *, lower=False, normalization_form="NFKC", name=None):
        super().__init__(lower=lower, normalization_form=normalization_form, name=name)
        vocabulary = list(vocabulary)
        bad = [t for t in vocabulary if not isinstance(t, str) or not t or {" ", "\n", "\r"} & set(t)]
        if bad or len(set(vocabulary)) != len(vocabulary) or set(vocabulary) & set(RESERVED_TOKENS):
            raise ValueError(
                "`vocabulary` must be distinct non-empty tokens without white space or reserved tokens. "
                f"Received: {bad[:5] or 'duplicates or reserved tokens'}"
            )
        self._vocabulary = vocabulary
        self._path = os.path.join(new_asset_directory(), VOCABULARY_FILENAME)
        self._write_files(os.path.dirname(self._path))
        line_number, whole_line = tf.lookup.TextFileIndex.LINE_NUMBER, tf.lookup.TextFileIndex.WHOLE_LINE
        self._to_id = tf.lookup.StaticHashTable(
            tf.lookup.TextFileInitializer(self._path, tf.string, whole_line, tf.int64, line_number),
            default_value=UNK_ID,
        )
        self._to_token = tf.lookup.StaticHashTable(
            tf.lookup.TextFileInitializer(self._path, tf.int64, line_number, tf.string, whole_line),
            default_value="",
        )
        self._wordpiece = text.WordpieceTokenizer(
            self._to_id,
            suffix_indicator=SUFFIX_INDICATOR,
            max_bytes_per_word=MAX_BYTES_PER_WORD,
            token_out_type=tf.int64,
            unknown_token=RESERVED_TOKENS[UNK_ID],
            split_unknown_characters=True,
        )

    @classmethod
    def from_texts(cls, texts, *, vocab_size=8000, lower=False, normalization_form="NFKC", **learn_params):
        """Learns a vocabulary of at most `vocab_size` ids from `texts`.

        Args:
            texts: an iterable of strings, or a `tf.data.Dataset` of scalar strings.
            vocab_size: the largest vocabulary wanted, reserved ids included.
            lower, normalization_form: as in the constructor.
            **learn_params: passed to the learner (see `learn_wordpiece_vocabulary`).

        Returns:
            A `WordPieceTokenizer`.
        """
        normalize = functools.partial(normalize_text, lower=lower, normalization_form=normalization_form)
        if not isinstance(texts, tf.data.Dataset):
            texts = tf.data.Dataset.from_tensor_slices(tf.constant(list(texts), tf.string))
        batches = texts.batch(LEARNING_BATCH_SIZE).map(normalize, num_parallel_calls=tf.data.AUTOTUNE)
        vocabulary = learn_wordpiece_vocabulary(batches, vocab_size, **learn_params)
        return cls(vocabulary, lower=lower, normalization_form=normalization_form)

    @property
    def vocabulary(self):
        return list(self._vocabulary)

    @property
    def vocabulary_files(self):
        return [self._path]

    def _tokenize_normalized(self, strings):
        words = tf.strings.split(strings)  # (batch, words): normalised text has single spaces
        pieces = self._wordpiece.tokenize(words)  # (batch, words, pieces) int64
        pieces = pieces.merge_dims(1, 2)  # (batch, pieces)
        # "[PAD]", "[START]", "[END]" written in the text: unknown, not the reserved ids
        return tf.ragged.map_flat_values(
            lambda ids: tf.where(ids < len(RESERVED_TOKENS), tf.cast(UNK_ID, ids.dtype), ids), pieces
        )

    def _detokenize_ids(self, ids):
        tokens = tf.ragged.map_flat_values(lambda i: self._to_token.lookup(tf.cast(i, tf.int64)), ids)
        is_suffix = tf.ragged.map_flat_values(
            lambda t: tf.strings.regex_full_match(t, "##.+"), tokens
        )  # (batch, None) bool
        glued = tf.ragged.map_flat_values(lambda t: tf.strings.regex_replace(t, "^##", ""), tokens)
        spaced = tf.ragged.map_flat_values(lambda t: tf.strings.join([" ", t]), tokens)
        pieces = tf.ragged.map_flat_values(tf.where, is_suffix, glued, spaced)
        return tf.strings.regex_replace(tf.strings.reduce_join(pieces, axis=-1), "^ ", "")  # (batch,)

    def _write_files(self, directory):
        with open(os.path.join(directory, VOCABULARY_FILENAME), "w", encoding="utf-8") as f:
            f.writelines(f"{t}\n" for t in (*RESERVED_TOKENS, *self._vocabulary))

    @classmethod
    def _from_directory(cls, directory, config):
        with open(os.path.join(directory, VOCABULARY_FILENAME), encoding="utf-8") as f:
            tokens = f.read().split("\n")[:-1]
        if tokens[: len(RESERVED_TOKENS)] != list(RESERVED_TOKENS):
            raise ValueError(f"{directory!r}: the vocabulary must start with {RESERVED_TOKENS}. Received: {tokens[:4]}")
        return cls(tokens[len(RESERVED_TOKENS):], **config)
