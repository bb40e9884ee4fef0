"""Greedy search: the most probable next token at every step, in-graph."""

import tensorflow as tf

from s2s_keras.data.tokens import END_ID, PAD_ID, START_ID
from s2s_keras.decoding.result import DecodeResult


class GreedySearch:
    """Picks the argmax token at every step until `[END]` or `max_length`.

    It never sees a model: it is called with the three inference functions.
    The loop is a `tf.while_loop` with static shapes that stops as soon as
    every row has produced `[END]`, so it runs eagerly, under `tf.function`,
    with `jit_compile=True` and inside a SavedModel.

    Args:
        max_length: most tokens to produce per row, `[END]` included.

    Call arguments:
        encode: `source_ids -> memory`.
        initial_state: `(memory, max_length) -> state`.
        decode_step: `(token_ids (batch,), state, memory, step) -> (logits (batch, vocab), state)`.
        source_ids: int32 `(batch, src_len)`.

    Returns:
        A `DecodeResult` with `n_best` = 1 and scores = the sum of the chosen
        tokens' log-probabilities.

    Example:
    >>> search = GreedySearch(max_length=20)
    >>> result = search(model.encode, model.initial_state, model.decode_step, source_ids)
    """

    def __init__(self, max_length=50):
        if not isinstance(max_length, int) or max_length <= 0:
            raise ValueError(f"`max_length` must be a positive integer. Received: max_length={max_length!r}")
        self.max_length = max_length

    def __call__(self, encode, initial_state, decode_step, source_ids):
        source_ids = tf.convert_to_tensor(source_ids, dtype=tf.int32)
        batch_size = tf.shape(source_ids)[0]
        memory = encode(source_ids)
        state = initial_state(memory, self.max_length)

        ids = tf.zeros([batch_size, self.max_length], tf.int32)  # (batch, max_length)
        scores = tf.zeros([batch_size], tf.float32)
        lengths = tf.zeros([batch_size], tf.int32)
        finished = tf.zeros([batch_size], tf.bool)
        tokens = tf.fill([batch_size], START_ID)
        positions = tf.range(self.max_length)

        def condition(step, tokens, state, ids, scores, lengths, finished):
            return tf.logical_and(step < self.max_length, tf.logical_not(tf.reduce_all(finished)))

        def body(step, tokens, state, ids, scores, lengths, finished):
            logits, state = decode_step(tokens, state, memory, step)[:2]  # (batch, vocab)
            log_probs = tf.nn.log_softmax(tf.cast(logits, tf.float32), axis=-1)
            next_tokens = tf.argmax(log_probs, axis=-1, output_type=tf.int32)  # (batch,)
            next_tokens = tf.where(finished, PAD_ID, next_tokens)
            token_log_probs = tf.gather(log_probs, next_tokens, batch_dims=1)
            scores += tf.where(finished, 0.0, token_log_probs)
            lengths += tf.cast(tf.logical_not(finished), tf.int32)
            at_step = tf.equal(positions, step)[tf.newaxis, :]  # (1, max_length)
            ids = tf.where(at_step, next_tokens[:, tf.newaxis], ids)
            finished = tf.logical_or(finished, tf.equal(next_tokens, END_ID))
            return step + 1, next_tokens, state, ids, scores, lengths, finished

        _, _, _, ids, scores, lengths, _ = tf.while_loop(
            condition, body, (tf.constant(0), tokens, state, ids, scores, lengths, finished)
        )
        return DecodeResult(ids=ids[:, tf.newaxis, :], scores=scores[:, tf.newaxis], lengths=lengths[:, tf.newaxis])
