"""One Transformer decoder block, run over a whole target or one cached step at a time."""

import keras
from keras import ops

from s2s_keras.layers.transformer_block import TransformerBlock


def causal_mask(length):
    """bool `(1, length, length)`: position t may attend to positions 0..t."""
    positions = ops.arange(length, dtype="int32")
    return ops.expand_dims(ops.greater_equal(ops.expand_dims(positions, 1), ops.expand_dims(positions, 0)), 0)


@keras.saving.register_keras_serializable(package="s2s_keras")
class TransformerDecoderBlock(TransformerBlock):
    """Causal self-attention, cross-attention over the memory, feed-forward (§3.1).

    The same three sublayers run in two ways, sharing `_sublayers`:

    - `call` / `forward`: the whole target at once with a causal mask
      (training, teacher forcing);
    - `step`: one new position. Its self-attention key and value are written
      at row `step` of a preallocated cache `(batch, heads, max_length, key_dim)`
      and the query attends over rows 0..step; the cross-attention keys and
      values come precomputed from `prepare_memory`.

    Args:
        See `TransformerBlock`.

    Call arguments:
        inputs: `(batch, tgt_len, d_model)` embedded target.
        memory: `(batch, src_len, d_memory)` encoder outputs.
        memory_mask: optional bool `(batch, src_len)`, False on padding.
        training: whether dropout is active.
        return_attention: also return the cross-attention weights.

    Returns:
        `(batch, tgt_len, d_model)`, and with `return_attention` the
        cross-attention weights `(batch, heads, tgt_len, src_len)`.

    Example:
    >>> import numpy as np
    >>> block = TransformerDecoderBlock(num_heads=2, intermediate_dim=32)
    >>> block(np.ones((2, 4, 8)), np.ones((2, 6, 8))).shape
    TensorShape([2, 4, 8])
    """

    def __init__(self, num_heads, intermediate_dim, **kwargs):
        super().__init__(num_heads, intermediate_dim, **kwargs)
        self.self_attention = self._attention("self_attention")
        self.self_attention_norm = self._layer_norm("self_attention_norm")
        self.cross_attention = self._attention("cross_attention")
        self.cross_attention_norm = self._layer_norm("cross_attention_norm")

    def build(self, inputs_shape, memory_shape=None, memory_mask_shape=None):
        self._check_model_size(inputs_shape)
        memory_shape = tuple(inputs_shape) if memory_shape is None else tuple(memory_shape)
        self.self_attention.build(inputs_shape, inputs_shape)
        self.self_attention_norm.build(inputs_shape)
        self.cross_attention.build(inputs_shape, memory_shape)
        self.cross_attention_norm.build(inputs_shape)
        self._build_feed_forward(inputs_shape)
        self.built = True

    @property
    def key_dim(self):
        """Size of each attention head."""
        return self.self_attention._key_dim

    def prepare_memory(self, memory):
        """Cross-attention keys and values, two `(batch, heads, src_len, key_dim)`, computed once per source."""
        return self.cross_attention.project_key_value(memory)

    def _sublayers(self, inputs, self_attend, memory_key, memory_value, memory_mask, training):
        """The block's three sublayers; `self_attend(h)` is the full or the cached self-attention."""
        inputs = self._without_keras_mask(inputs)
        # 1. masked self-attention
        h = self._sublayer_input(inputs, self.self_attention_norm)
        x = self._residual(inputs, self_attend(h), self.self_attention_norm, training)
        # 2. cross-attention over the memory
        h = self._sublayer_input(x, self.cross_attention_norm)
        memory_mask = None if memory_mask is None else ops.expand_dims(ops.cast(memory_mask, "bool"), 1)
        y, weights = self.cross_attention.attend(
            self.cross_attention.project_query(h), memory_key, memory_value, memory_mask, training=training
        )  # (batch, q_len, d_model), (batch, heads, q_len, src_len)
        x = self._residual(x, y, self.cross_attention_norm, training)
        # 3. position-wise feed-forward
        return self._feed_forward_sublayer(x, training), weights

    def forward(self, inputs, memory_key, memory_value, memory_mask=None, training=None):
        """The whole target `(batch, tgt_len, d_model)` with precomputed memory keys and values.

        Returns `(outputs (batch, tgt_len, d_model), weights (batch, heads, tgt_len, src_len))`.
        """
        mask = causal_mask(ops.shape(inputs)[1])  # (1, tgt_len, tgt_len)

        def self_attend(h):
            attention = self.self_attention
            key, value = attention.project_key_value(h)  # (batch, heads, tgt_len, key_dim)
            output, _ = attention.attend(attention.project_query(h), key, value, mask, training=training)
            return output

        return self._sublayers(inputs, self_attend, memory_key, memory_value, memory_mask, training)

    def step(self, inputs, cache_key, cache_value, memory_key, memory_value, memory_mask, step, training=None,
             grow=False):
        """One target position with the self-attention cache.

        Args:
            inputs: `(batch, 1, d_model)`, position `step` of the target.
            cache_key, cache_value: `(batch, heads, max_length, key_dim)`, rows
                0..step-1 filled by the previous steps.
            memory_key, memory_value: from `prepare_memory`.
            memory_mask: bool `(batch, src_len)` or None.
            step: int or scalar int32 tensor, the position (< max_length).
            training: whether dropout is active.
            grow: the caches hold rows 0..step-1 only `(batch, heads, step,
                key_dim)`; the new row is appended instead of written.

        Returns:
            `(outputs (batch, 1, d_model), cache_key, cache_value, weights (batch, heads, 1, src_len))`
            with row `step` of both caches written.
        """
        caches = {}

        def self_attend(h):
            attention = self.self_attention
            key, value = attention.project_key_value(h)  # (batch, heads, 1, key_dim)
            if grow:  # (batch, heads, step + 1, key_dim): every row is visible
                caches["key"] = ops.concatenate([cache_key, ops.cast(key, cache_key.dtype)], axis=2)
                caches["value"] = ops.concatenate([cache_value, ops.cast(value, cache_value.dtype)], axis=2)
                output, _ = attention.attend(attention.project_query(h), caches["key"], caches["value"], None,
                                             training=training)
                return output
            caches["key"] = attention.update_cache(cache_key, key, step)
            caches["value"] = attention.update_cache(cache_value, value, step)
            max_length = ops.shape(cache_key)[2]
            visible = ops.less_equal(ops.arange(max_length, dtype="int32"), ops.cast(step, "int32"))
            visible = ops.reshape(visible, (1, 1, -1))  # (1, 1, max_length): rows 0..step
            output, _ = attention.attend(
                attention.project_query(h), caches["key"], caches["value"], visible, training=training
            )
            return output

        outputs, weights = self._sublayers(inputs, self_attend, memory_key, memory_value, memory_mask, training)
        return outputs, caches["key"], caches["value"], weights

    def call(self, inputs, memory, memory_mask=None, training=None, return_attention=False):
        memory_key, memory_value = self.prepare_memory(memory)
        outputs, weights = self.forward(inputs, memory_key, memory_value, memory_mask, training=training)
        if return_attention:
            return outputs, weights
        return outputs
