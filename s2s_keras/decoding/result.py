"""What every search strategy returns, and `decode`, the model-facing entry point."""

from typing import NamedTuple

import tensorflow as tf


class DecodeResult(NamedTuple):
    """Decoded hypotheses, best first.

    Attributes:
        ids: int32 `(batch, n_best, max_length)`: tokens after `[START]`, ending
            with `[END]` (when produced) and 0 after it.
        scores: float32 `(batch, n_best)`: the strategy's score (sum of token
            log-probabilities for greedy), sorted best first.
        lengths: int32 `(batch, n_best)`: tokens produced, `[END]` included.
    """

    ids: tf.Tensor
    scores: tf.Tensor
    lengths: tf.Tensor


def decode(model, source_ids, search):
    """Decodes `source_ids` `(batch, src_len)` with `model`'s inference functions.

    Args:
        model: anything with `encode`, `initial_state` and `decode_step`
            (every registered model).
        source_ids: int32 `(batch, src_len)`, padded with 0.
        search: a search strategy, e.g. `GreedySearch(max_length=50)`.

    Returns:
        A `DecodeResult`.

    Example:
    >>> result = decode(model, source_ids, GreedySearch(max_length=20))  # doctest: +SKIP
    >>> result.ids.shape  # (batch, 1, 20)  # doctest: +SKIP
    """
    return search(model.encode, model.initial_state, model.decode_step, source_ids)
