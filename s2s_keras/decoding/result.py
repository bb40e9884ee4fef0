"""What every search strategy returns."""

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

