"""A character tokenizer with a fixed vocabulary, in-graph (tf.lookup tables)."""

import tensorflow as tf

from s2s_keras.data.tokens import RESERVED_TOKENS, UNK_ID


class CharTokenizer(tf.Module):
    """Maps each Unicode character to an id from a fixed vocabulary.

    Ids 0-3 are the reserved tokens; characters take ids 4.. in vocabulary
    order; an unseen character becomes `[UNK]` (1). Invalid UTF-8 bytes are
    replaced with U+FFFD (and so become `[UNK]` unless it is in the vocabulary).
    Decoding and encoding use `tf.strings.unicode_decode` / `unicode_encode`
    and the lookups `tf.lookup` tables, so it runs inside `tf.function` and a
    SavedModel.

    Args:
        vocabulary: the characters, in id order (no reserved tokens).

    Example:
    >>> tok = CharTokenizer.from_texts(["abc"])
    >>> tok.tokenize(["cab"]).to_list()
    [[6, 4, 5]]
    >>> tok.detokenize([[6, 4, 5, 3, 0]]).numpy().tolist()
    [b'cab']
    """

    def __init__(self, vocabulary, name=None):
        super().__init__(name=name)
        vocabulary = list(vocabulary)
        if any(len(c) != 1 for c in vocabulary) or len(set(vocabulary)) != len(vocabulary):
            raise ValueError("`vocabulary` must be distinct single characters.")
        self.vocabulary = vocabulary
        first_id = len(RESERVED_TOKENS)
        code_points = tf.constant([ord(c) for c in vocabulary], tf.int32)
        ids = tf.range(first_id, first_id + len(vocabulary), dtype=tf.int32)
        self._to_id = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(code_points, ids), UNK_ID)
        self._to_code_point = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(ids, code_points), -1)

    @classmethod
    def from_texts(cls, texts):
        """A tokenizer whose vocabulary is every character of `texts`, sorted."""
        return cls(sorted({c for text in texts for c in text}))

    @property
    def vocab_size(self):
        return len(RESERVED_TOKENS) + len(self.vocabulary)

    def tokenize(self, strings):
        """Strings `(batch,)` -> ragged int32 ids `(batch, None)`, one per character."""
        strings = tf.convert_to_tensor(strings, tf.string)
        code_points = tf.strings.unicode_decode(strings, "UTF-8", errors="replace")  # (batch, None)
        return tf.ragged.map_flat_values(self._to_id.lookup, code_points)

    def detokenize(self, ids):
        """Ids `(batch, len)` (dense or ragged) -> strings; reserved ids are dropped."""
        if not isinstance(ids, tf.RaggedTensor):
            ids = tf.RaggedTensor.from_tensor(tf.convert_to_tensor(ids, tf.int32))
        ids = tf.ragged.boolean_mask(ids, ids >= len(RESERVED_TOKENS))
        code_points = tf.ragged.map_flat_values(self._to_code_point.lookup, ids)
        return tf.strings.unicode_encode(code_points, "UTF-8", errors="replace")
