"""A stack of Transformer decoder blocks with a cached incremental step: the "decoder"."""

import keras
import tensorflow as tf
from keras import ops

from s2s_keras.checks import check_positive_int
from s2s_keras.layers.transformer_decoder_block import TransformerDecoderBlock
from s2s_keras.layers.transformer_stack import TransformerStack


@keras.saving.register_keras_serializable(package="s2s_keras")
class TransformerDecoder(TransformerStack):
    """Dropout on the embedded target, then `num_layers` `TransformerDecoderBlock`s.

    It keeps the decoder protocol of `Seq2SeqModel` (the same as `RNNDecoder`):

    - `prepare_memory(encoder_outputs, source_mask)` → memory, computed once
      per source and never reordered by beam search (only tiled):
      `{"mask": bool (batch, src_len),
        "keys": [(batch, heads, src_len, key_dim)] * num_layers,
        "values": [(batch, heads, src_len, key_dim)] * num_layers}`,
      the cross-attention keys and values of every block;
    - `initial_state(memory, max_length)` → state, the self-attention caches,
      zeros preallocated to `max_length` positions:
      `{"keys": [(batch, heads, max_length, key_dim)] * num_layers,
        "values": [(batch, heads, max_length, key_dim)] * num_layers}`.
      Every leaf is per row, batch first: beam search must reorder all of them
      by beam origin;
    - `step(inputs, state, memory, step)` writes row `step` of every cache and
      attends over rows 0..step; it needs `step < max_length`.

    `call` runs the same blocks over the whole target with a causal mask.

    Args:
        See `TransformerStack` (num_layers, num_heads, intermediate_dim,
        dropout, attention_dropout, activation_dropout, activation,
        normalize_first, layer_norm_epsilon), and:
        max_length: cache size when `initial_state` is given no `max_length`.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: `(batch, tgt_len, d_model)` embedded target (teacher forcing).
        encoder_result: `(batch, src_len, d_memory)`, the encoder outputs.
        source_mask: optional bool `(batch, src_len)`, False on padding.
        training: whether dropout is active.
        return_attention: also return the attention weights.

    Returns:
        outputs `(batch, tgt_len, d_model)`, and with `return_attention` the last
        block's cross-attention weights averaged over heads `(batch, tgt_len, src_len)`.

    Example:
    >>> import numpy as np
    >>> decoder = TransformerDecoder(num_layers=2, num_heads=2, intermediate_dim=32)
    >>> decoder(np.ones((2, 4, 8)), np.ones((2, 6, 8))).shape
    TensorShape([2, 4, 8])
    """

    block_class = TransformerDecoderBlock

    def __init__(self, num_layers, num_heads, intermediate_dim, max_length=256, **kwargs):
        super().__init__(num_layers, num_heads, intermediate_dim, **kwargs)
        self.max_length = check_positive_int("max_length", max_length)

    def build(self, inputs_shape, encoder_result_shape=None, source_mask_shape=None):
        for block in self.blocks:
            block.build(inputs_shape, encoder_result_shape)
        self._build_final_norm(inputs_shape)
        self.built = True

    # --- the inference contract: memory, state, one step -------------------------------

    def prepare_memory(self, encoder_result, source_mask=None):
        """The cross-attention keys and values of every block (see the class docstring)."""
        if source_mask is None:
            source_mask = ops.ones(ops.shape(encoder_result)[:2], dtype="bool")
        keys, values = [], []
        for block in self.blocks:
            key, value = block.prepare_memory(encoder_result)  # (batch, heads, src_len, key_dim)
            keys.append(key)
            values.append(value)
        return {"mask": ops.cast(source_mask, "bool"), "keys": keys, "values": values}

    def initial_state(self, memory, max_length=None, static_shapes=True):
        """Empty self-attention caches (see the class docstring).

        With `static_shapes` (for XLA), `(batch, heads, max_length, key_dim)`
        zeros per block, written one row per step; without, `(batch, heads, 0,
        key_dim)` caches that grow one row per step (`grown_keys` /
        `grown_values`, whose time axis has no static size), so that each step
        attends over, and beam search reorders, only the rows written so far.
        """
        max_length = self.max_length if max_length is None else check_positive_int("max_length", max_length)
        batch_size = ops.shape(memory["mask"])[0]
        if not static_shapes:
            def empty(block):  # the time axis left unknown, so the while-loop lets it grow
                zeros = tf.zeros((batch_size, self.num_heads, 0, block.key_dim), dtype=self.compute_dtype)
                return tf.compat.v1.placeholder_with_default(zeros, (None, self.num_heads, None, block.key_dim))

            return {"grown_keys": [empty(block) for block in self.blocks],
                    "grown_values": [empty(block) for block in self.blocks]}
        shapes = [(batch_size, self.num_heads, max_length, block.key_dim) for block in self.blocks]
        return {
            "keys": [ops.zeros(shape, dtype=self.compute_dtype) for shape in shapes],
            "values": [ops.zeros(shape, dtype=self.compute_dtype) for shape in shapes],
        }

    def step(self, inputs, state, memory, step=0, training=None):
        """One decoding step at target position `step`.

        Args:
            inputs: `(batch, d_model)` the embedded previous token (at position `step`).
            state: as `initial_state` returns; rows 0..step-1 filled.
            memory: as `prepare_memory` returns.
            step: int or scalar int32 tensor, the target position.
            training: whether dropout is active.

        Returns:
            `(output (batch, d_model), new_state, weights (batch, src_len))`:
            the weights are the last block's cross-attention, averaged over heads.
        """
        x = ops.expand_dims(self.dropout_layer(inputs, training=training), 1)  # (batch, 1, d_model)
        growing = "grown_keys" in state
        prefix = "grown_" if growing else ""
        keys, values = [], []
        for block, cache_key, cache_value, memory_key, memory_value in zip(
            self.blocks, state[prefix + "keys"], state[prefix + "values"], memory["keys"], memory["values"]
        ):
            x, cache_key, cache_value, weights = block.step(
                x, cache_key, cache_value, memory_key, memory_value, memory["mask"], step, training=training,
                grow=growing,
            )
            keys.append(cache_key)
            values.append(cache_value)
        output = self._final(x)[:, 0]  # (batch, d_model)
        weights = ops.mean(weights[:, :, 0], axis=1)  # (batch, heads, 1, src_len) -> (batch, src_len)
        return output, {prefix + "keys": keys, prefix + "values": values}, weights

    # --- training: the same blocks over the whole target ---------------------------------

    def call(self, inputs, encoder_result, source_mask=None, training=None, return_attention=False):
        memory = self.prepare_memory(encoder_result, source_mask)
        x = self.dropout_layer(inputs, training=training)  # (batch, tgt_len, d_model)
        for block, memory_key, memory_value in zip(self.blocks, memory["keys"], memory["values"]):
            x, weights = block.forward(x, memory_key, memory_value, memory["mask"], training=training)
        outputs = self._final(x)
        if return_attention:
            return outputs, ops.mean(weights, axis=1)  # (batch, tgt_len, src_len)
        return outputs

    def compute_output_shape(self, inputs_shape, encoder_result_shape=None, source_mask_shape=None):
        return tuple(inputs_shape)

    def get_config(self):
        return {**super().get_config(), "max_length": self.max_length}
