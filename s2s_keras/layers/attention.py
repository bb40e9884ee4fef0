"""Additive (Bahdanau) and multiplicative (Luong) attention for RNN decoders.

Both layers share one contract: a query attends over `values`, padded source
positions get weight exactly 0, and the keys derived from the values can be
precomputed once per source (`prepare_keys`) and reused at every decoding step.
"""

import keras
from keras import ops

from s2s_keras.checks import check_positive_int
from s2s_keras.layers.masking import large_negative


def additive_scores(query, keys, score_vector):
    """vᵀ tanh(q + k) for every query/key pair: `(batch, q_len, d)`, `(batch, src_len, d)` -> `(batch, q_len, src_len)`."""
    hidden = ops.tanh(ops.expand_dims(query, 2) + ops.expand_dims(keys, 1))  # (batch, q_len, src_len, d)
    return ops.sum(hidden * ops.cast(score_vector, hidden.dtype), axis=-1)


class BaseAttention(keras.layers.Layer):
    """Attention over a source sequence; subclasses override the scoring hooks.

    Subclasses implement `prepare_keys` (values -> keys, computed once per
    source), `prepare_query` (query -> scoring space) and `_calculate_scores`
    (query, keys -> scores), the way Keras's `AdditiveAttention` overrides
    only `_calculate_scores`.

    Args:
        units: size of the scoring space (where the score has one).
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        query: `(batch, units_q)` for one decoding step, or
            `(batch, q_len, units_q)` for many.
        values: `(batch, src_len, units_v)`, the encoder outputs.
        values_mask: optional bool `(batch, src_len)`, False on padding.
        keys: optional result of `prepare_keys(values)`, to skip recomputing it.

    Returns:
        `(context, weights)`: context `(batch, [q_len,] units_v)` and weights
        `(batch, [q_len,] src_len)`. Weights sum to 1 over the real positions and
        are exactly 0 on padding; a row with no real position gets all-zero
        weights and a zero context.
    """

    def __init__(self, units=None, **kwargs):
        super().__init__(**kwargs)
        self.units = check_positive_int("units", units, allow_none=True)

    def build(self, query_shape, values_shape, keys_shape=None):
        self.built = True

    def prepare_keys(self, values):
        """Maps values `(batch, src_len, units_v)` to the keys used by the score."""
        return values

    def prepare_query(self, query):
        """Maps the query `(batch, [q_len,] units_q)` into the scoring space."""
        return query

    def _calculate_scores(self, query, keys):
        """Scores `(batch, q_len, src_len)` from query `(batch, q_len, d)` and keys."""
        raise NotImplementedError

    def call(self, query, values, values_mask=None, keys=None):
        single_step = len(query.shape) == 2
        query = self.prepare_query(query)  # before expanding: a 2-D matmul per step
        if single_step:
            query = ops.expand_dims(query, 1)  # (batch, 1, units_q)
        if keys is None:
            keys = self.prepare_keys(values)
        scores = self._calculate_scores(query, keys)  # (batch, q_len, src_len)
        if values_mask is not None:
            mask = ops.expand_dims(ops.cast(values_mask, "bool"), 1)  # (batch, 1, src_len)
            scores = ops.where(mask, scores, large_negative(scores.dtype))
            weights = ops.softmax(scores, axis=-1)
            weights = ops.where(mask, weights, ops.zeros_like(weights))
        else:
            weights = ops.softmax(scores, axis=-1)
        context = ops.matmul(weights, ops.cast(values, weights.dtype))  # (batch, q_len, units_v)
        if single_step:
            context, weights = context[:, 0], weights[:, 0]
        return context, weights

    def compute_output_shape(self, query_shape, values_shape, keys_shape=None):
        prefix = tuple(query_shape[:-1])
        return prefix + (values_shape[-1],), prefix + (values_shape[1],)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="s2s_keras")
class BahdanauAttention(BaseAttention):
    """Additive attention (Bahdanau et al., 2015): score = vᵀ tanh(W₁q + W₂k).

    Args:
        units: size of the hidden scoring layer.
        **kwargs: base layer arguments.

    Example:
    >>> import numpy as np
    >>> attention = BahdanauAttention(units=16)
    >>> context, weights = attention(np.ones((2, 8)), np.ones((2, 5, 12)))
    >>> context.shape, weights.shape
    (TensorShape([2, 12]), TensorShape([2, 5]))
    """

    def __init__(self, units, **kwargs):
        if units is None:
            raise ValueError("BahdanauAttention needs `units`. Received: units=None")
        super().__init__(units=units, **kwargs)
        self.query_dense = keras.layers.Dense(units, use_bias=False, dtype=self.dtype_policy, name="query_dense")
        self.key_dense = keras.layers.Dense(units, use_bias=False, dtype=self.dtype_policy, name="key_dense")

    def build(self, query_shape, values_shape, keys_shape=None):
        self.query_dense.build(query_shape)
        self.key_dense.build(values_shape)
        self.score_vector = self.add_weight(
            name="score_vector", shape=(self.units,), initializer="glorot_uniform"
        )
        self.built = True

    def prepare_keys(self, values):
        return self.key_dense(values)  # W₂k: (batch, src_len, units)

    def prepare_query(self, query):
        return self.query_dense(query)  # W₁q: (batch, [q_len,] units)

    def _calculate_scores(self, query, keys):
        return additive_scores(query, keys, self.score_vector)


LUONG_SCORES = ("dot", "general", "concat")


@keras.saving.register_keras_serializable(package="s2s_keras")
class LuongAttention(BaseAttention):
    """Multiplicative attention (Luong et al., 2015).

    Scores: `dot` qᵀk (query and values of one size), `general` qᵀW k, and
    `concat` vᵀ tanh(W[q; k]) (computed as vᵀ tanh(W_q q + W_k k)).

    Args:
        score: one of "dot", "general", "concat".
        units: size of the hidden scoring layer; only for "concat".
        **kwargs: base layer arguments.

    Example:
    >>> import numpy as np
    >>> attention = LuongAttention(score="general")
    >>> context, weights = attention(np.ones((2, 3, 8)), np.ones((2, 5, 12)))
    >>> context.shape, weights.shape
    (TensorShape([2, 3, 12]), TensorShape([2, 3, 5]))
    """

    def __init__(self, score="general", units=None, **kwargs):
        if score not in LUONG_SCORES:
            raise ValueError(
                f"`score` must be one of {LUONG_SCORES}. Received: score={score!r}"
            )
        if score == "concat" and units is None:
            raise ValueError("LuongAttention(score='concat') needs `units`. Received: units=None")
        super().__init__(units=units, **kwargs)
        self.score = score

    def build(self, query_shape, values_shape, keys_shape=None):
        query_units, values_units = query_shape[-1], values_shape[-1]
        if self.score == "dot" and query_units != values_units:
            raise ValueError(
                "LuongAttention(score='dot') needs query and values of one size. "
                f"Received: query_shape={query_shape}, values_shape={values_shape}"
            )
        if self.score == "general":
            self.key_dense = keras.layers.Dense(query_units, use_bias=False, dtype=self.dtype_policy, name="key_dense")
            self.key_dense.build(values_shape)
        elif self.score == "concat":
            self.query_dense = keras.layers.Dense(
                self.units, use_bias=False, dtype=self.dtype_policy, name="query_dense"
            )
            self.key_dense = keras.layers.Dense(self.units, use_bias=False, dtype=self.dtype_policy, name="key_dense")
            self.query_dense.build(query_shape)
            self.key_dense.build(values_shape)
            self.score_vector = self.add_weight(
                name="score_vector", shape=(self.units,), initializer="glorot_uniform"
            )
        self.built = True

    def prepare_keys(self, values):
        if self.score == "dot":
            return values
        return self.key_dense(values)  # (batch, src_len, units_q or units)

    def prepare_query(self, query):
        if self.score == "concat":
            return self.query_dense(query)  # W_q q: (batch, [q_len,] units)
        return query

    def _calculate_scores(self, query, keys):
        if self.score == "concat":
            return additive_scores(query, keys, self.score_vector)
        return ops.matmul(query, ops.transpose(ops.cast(keys, query.dtype), (0, 2, 1)))

    def get_config(self):
        return {**super().get_config(), "score": self.score}
