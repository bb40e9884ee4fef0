"""Greedy search: the most probable next token at every step, in-graph."""

import tensorflow as tf

from s2s_keras.decoding.token_search import TokenSearch


class GreedySearch(TokenSearch):
    """Picks the argmax token at every step until `[END]` or `max_length`.

    Args:
        max_length: most tokens per row, the ending token included.
        min_length: fewest tokens per hypothesis, counted as `max_length` is (the
            ending token included): the end id and stop ids are blocked before.
        stop_ids: more ids that end a row as the end id does.
        alignment_history: also return the attention weights of every step.

    Call arguments and returns: see `TokenSearch`.

    Example:
    >>> search = GreedySearch(max_length=20)
    >>> result = search(model.encode, model.initial_state, model.decode_step, source_ids)  # doctest: +SKIP
    >>> result.ids.shape  # (batch, 1, 20)  # doctest: +SKIP
    """

    def pick(self, log_probs, step, seed):
        return tf.argmax(log_probs, axis=-1, output_type=tf.int32)
