"""Multi-head scaled dot-product attention whose projections can be cached."""

import keras
import tensorflow as tf
from keras import ops

from s2s_keras.checks import check_positive_int, check_rate
from s2s_keras.layers.dropout import FastDropout
from s2s_keras.layers.masking import large_negative


@keras.saving.register_keras_serializable(package="s2s_keras")
class HeadsProjection(keras.layers.EinsumDense):
    """An `EinsumDense` that splits into heads or merges them with one 2-D matmul.

    For `btd,dhk->bthk` (split) and `bthk,hkd->btd` (merge), the two equations
    `CachedMultiHeadAttention` uses.

    Keras's TensorFlow einsum runs these equations as a broadcast batch matmul
    whose kernel gradient is a per-example matmul and a sum, much slower on CPU
    than the 2-D matmul used here (docs/tuning.md), whose bias TensorFlow fuses
    into the matmul's kernel. The variables (`kernel` `(d, heads,
    key_dim)` or `(heads, key_dim, d)`, `bias`) are those of `EinsumDense`, so
    saved weights load either way. LoRA and quantization are not supported.

    Args:
        equation: `"btd,dhk->bthk"` (split) or `"bthk,hkd->btd"` (merge).
        **kwargs: `EinsumDense` arguments.

    Example:
    >>> import numpy as np
    >>> split = HeadsProjection("btd,dhk->bthk", output_shape=(None, 8, 32), bias_axes="hk")
    >>> split(np.ones((2, 5, 256))).shape
    TensorShape([2, 5, 8, 32])
    """

    def call(self, inputs, training=None):
        kernel = ops.cast(self.kernel, self.compute_dtype)
        inputs_spec, outputs_spec = self.equation.split(",")[0], self.equation.split("->")[1]
        split = len(outputs_spec) > len(inputs_spec)
        # split: (..., d) @ (d, heads * key_dim) -> (..., heads, key_dim); merge: (..., heads, key_dim) -> (..., d)
        kernel = ops.reshape(kernel, (kernel.shape[0], -1) if split else (-1, kernel.shape[-1]))  # 2-D
        leading = ops.shape(inputs)[:-1] if split else ops.shape(inputs)[:-2]
        flat = tf.matmul(ops.reshape(inputs, (-1, kernel.shape[0])), kernel)  # (rows, out)
        if self.bias is not None:  # right after the matmul, so that TensorFlow fuses the two into one kernel
            flat = tf.nn.bias_add(flat, ops.reshape(ops.cast(self.bias, self.compute_dtype), (-1,)))
        return ops.reshape(flat, (*leading, *(self.kernel.shape[1:] if split else self.kernel.shape[-1:])))


@keras.saving.register_keras_serializable(package="s2s_keras")
class CachedMultiHeadAttention(keras.layers.Layer):
    """Multi-head attention split into the three steps incremental decoding reuses.

    Attention(Q, K, V) = softmax(Q Kᵀ / √k) V per head (Vaswani et al. 2017, §3.2),
    computed as:

    1. `project_query(query)` → Q `(batch, heads, q_len, key_dim)`, already
       scaled by 1/√key_dim;
    2. `project_key_value(value)` → K, V `(batch, heads, kv_len, key_dim)`;
    3. `attend(Q, K, V, mask)` → the output `(batch, q_len, output_dim)` and the
       weights `(batch, heads, q_len, kv_len)`.

    A decoder calls the steps separately: the cross-attention K and V are
    projected once from the encoder output, and the self-attention K and V of
    each new token are written into a preallocated cache (`update_cache`)
    that the next query attends over. `call` runs all three at once.

    Q, K and V are heads-first, so that both products of `attend` are batch
    matmuls over `(batch, heads)` with no transpose: a decoding step's query
    (q_len 1) and its new key and value rows only change shape, and a cache
    or the memory's keys and values are never transposed again (each step
    transposed all of them in the `(batch, len, heads, key_dim)` layout,
    about a quarter of a step's op time: docs/tuning.md).

    Args:
        num_heads: number of heads.
        key_dim: size of each head; defaults to `output_dim // num_heads`.
        output_dim: size of the output; defaults to the query's last dimension.
        dropout: dropout rate on the attention weights.
        use_bias: whether the projections have biases.
        kernel_initializer: initializer of the projection kernels.
        **kwargs: base layer arguments.

    Call arguments:
        query: `(batch, q_len, query_dim)`.
        value: `(batch, kv_len, value_dim)`; defaults to `query` (self-attention).
        attention_mask: optional bool, broadcastable to `(batch, q_len, kv_len)`,
            True where the query may attend.
        training: whether dropout is active.
        return_attention_scores: also return the weights.

    Returns:
        The output `(batch, q_len, output_dim)`, and with
        `return_attention_scores` the weights `(batch, heads, q_len, kv_len)`,
        exactly 0 where the mask is False (unless a whole row is masked).

    Example:
    >>> import numpy as np
    >>> attention = CachedMultiHeadAttention(num_heads=2)
    >>> output, weights = attention(np.ones((2, 3, 8)), np.ones((2, 5, 6)), return_attention_scores=True)
    >>> output.shape, weights.shape
    (TensorShape([2, 3, 8]), TensorShape([2, 2, 3, 5]))
    """

    def __init__(
        self,
        num_heads,
        key_dim=None,
        output_dim=None,
        dropout=0.0,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = check_positive_int("num_heads", num_heads)
        self.key_dim = None if key_dim is None else check_positive_int("key_dim", key_dim)
        self.output_dim = None if output_dim is None else check_positive_int("output_dim", output_dim)
        self.dropout = check_rate("dropout", dropout)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.dropout_layer = FastDropout(self.dropout, dtype=self.dtype_policy)

    def build(self, query_shape, value_shape=None):
        value_shape = query_shape if value_shape is None else value_shape
        output_dim = self.output_dim or query_shape[-1]
        key_dim = self.key_dim
        if key_dim is None:
            if output_dim % self.num_heads:
                raise ValueError(
                    f"The output size must be divisible by `num_heads` when `key_dim` is not given. "
                    f"Received: output_dim={output_dim}, num_heads={self.num_heads}"
                )
            key_dim = output_dim // self.num_heads
        self._key_dim, self._output_dim = key_dim, output_dim

        def projection(name, equation, shape, bias_axes):
            return HeadsProjection(
                equation, output_shape=shape, bias_axes=bias_axes if self.use_bias else None,
                kernel_initializer=self.kernel_initializer.__class__.from_config(self.kernel_initializer.get_config()),
                dtype=self.dtype_policy, name=name,
            )

        heads = (None, self.num_heads, key_dim)
        self.query_dense = projection("query", "btd,dhk->bthk", heads, "hk")
        self.key_dense = projection("key", "bsd,dhk->bshk", heads, "hk")
        self.value_dense = projection("value", "bsd,dhk->bshk", heads, "hk")
        self.output_dense = projection("attention_output", "bthk,hkd->btd", (None, output_dim), "d")
        self.query_dense.build(tuple(query_shape))
        self.key_dense.build(tuple(value_shape))
        self.value_dense.build(tuple(value_shape))
        self.output_dense.build(tuple(query_shape[:-1]) + (self.num_heads, key_dim))
        self.built = True

    # --- the three steps ---------------------------------------------------------------------

    def project_query(self, query):
        """Q / √k: `(batch, q_len, query_dim)` → `(batch, heads, q_len, key_dim)`."""
        return self._heads_first(self.query_dense(query)) * ops.cast(self._key_dim**-0.5, self.compute_dtype)

    def project_key_value(self, value):
        """K and V: `(batch, kv_len, value_dim)` → two `(batch, heads, kv_len, key_dim)`."""
        return self._heads_first(self.key_dense(value)), self._heads_first(self.value_dense(value))

    def attend(self, query, key, value, attention_mask=None, training=None):
        """Output `(batch, q_len, output_dim)` and weights `(batch, heads, q_len, kv_len)`.

        `query` comes from `project_query`, `key` and `value` from
        `project_key_value` (or a cache of them); see the class docstring for the mask.
        """
        scores = tf.linalg.matmul(query, ops.cast(key, query.dtype), transpose_b=True)  # (batch, heads, q_len, kv_len)
        weights = self._masked_softmax(scores, attention_mask)
        dropped = self.dropout_layer(weights, training=training)
        context = tf.linalg.matmul(dropped, ops.cast(value, dropped.dtype))  # (batch, heads, q_len, key_dim)
        return self.output_dense(self._heads_last(context)), weights

    @staticmethod
    def _heads_first(x):
        """`(batch, len, heads, key_dim)` → `(batch, heads, len, key_dim)`; only a reshape when len is 1."""
        if x.shape[1] == 1:
            return ops.reshape(x, (ops.shape(x)[0], x.shape[2], 1, x.shape[3]))
        return ops.transpose(x, (0, 2, 1, 3))

    @staticmethod
    def _heads_last(x):
        """`(batch, heads, len, key_dim)` → `(batch, len, heads, key_dim)`; only a reshape when len is 1."""
        if x.shape[2] == 1:
            return ops.reshape(x, (ops.shape(x)[0], 1, x.shape[1], x.shape[3]))
        return ops.transpose(x, (0, 2, 1, 3))

    def _masked_softmax(self, scores, attention_mask):
        dtype = scores.dtype
        if dtype in ("float16", "bfloat16"):
            scores = ops.cast(scores, "float32")  # softmax in float32 under mixed precision
        if attention_mask is not None:
            mask = ops.expand_dims(ops.cast(attention_mask, "bool"), 1)  # (batch, 1, q_len, kv_len): every head
            scores = ops.where(mask, scores, large_negative(scores.dtype))
        return ops.cast(ops.softmax(scores, axis=-1), dtype)

    @staticmethod
    def update_cache(cache, update, step):
        """Writes `update` `(batch, heads, 1, key_dim)` at row `step` of `cache` `(batch, heads, max_length, key_dim)`.

        `step` may be a traced scalar: the write is a scatter of one row per
        `(batch, head)`, so shapes stay static (for `tf.while_loop` and XLA),
        and XLA writes it in place: a select against a one-hot row mask
        rewrote the whole cache every step (1.3× slower beam search at batch 64
        under XLA, docs/tuning.md).
        """
        batch, heads = tf.shape(cache)[0], tf.shape(cache)[1]
        batch_head = tf.stack(tf.meshgrid(tf.range(batch), tf.range(heads), indexing="ij"), axis=-1)  # (batch, heads, 2)
        at_step = tf.fill([batch, heads, 1], tf.cast(step, tf.int32))
        indices = tf.concat([batch_head, at_step], axis=-1)  # (batch, heads, 3): where each row goes
        return tf.tensor_scatter_nd_update(cache, indices, ops.cast(update[:, :, 0], cache.dtype))

    def call(self, query, value=None, attention_mask=None, training=None, return_attention_scores=False):
        value = query if value is None else value
        key, value = self.project_key_value(value)
        output, weights = self.attend(self.project_query(query), key, value, attention_mask, training=training)
        if return_attention_scores:
            return output, weights
        return output

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "output_dim": self.output_dim,
            "dropout": self.dropout,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }
