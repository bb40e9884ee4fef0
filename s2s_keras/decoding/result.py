"""What every search strategy returns."""

from typing import NamedTuple

import tensorflow as tf


class DecodeResult(NamedTuple):
    """Decoded hypotheses, best first.

    Attributes:
        ids: int32 `(batch, n_best, max_length)`: tokens after `[START]`, ending
            with `[END]` (when produced) and 0 after it.
        scores: float32 `(batch, n_best)`: the strategy's score (sum of token
            log-probabilities for greedy; beam search's ranking score with its
            penalties), sorted best first.
        lengths: int32 `(batch, n_best)`: tokens produced, `[END]` included.
        log_probs: float32 `(batch, n_best)`: log P of each hypothesis (under
            the search's temperature), without any penalty.
        token_log_probs: float32 `(batch, n_best, max_length)`: each token's
            log-probability, 0 after the hypothesis ends.
        valid: bool `(batch, n_best)`: False for the filler hypotheses a beam
            returns when fewer than `n_best` distinct ones exist.
        alignments: float32 `(batch, n_best, max_length, src_len)`: each
            token's attention weights over the source (for plotting or
            unknown-word replacement), from a search made with
            `alignment_history=True`; `(batch, n_best, 0, 0)` otherwise.
    """

    ids: tf.Tensor
    scores: tf.Tensor
    lengths: tf.Tensor
    log_probs: tf.Tensor
    token_log_probs: tf.Tensor
    valid: tf.Tensor
    alignments: tf.Tensor

