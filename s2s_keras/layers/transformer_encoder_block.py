"""One Transformer encoder block: self-attention and a feed-forward network."""

import keras
from keras import ops

from s2s_keras.layers.transformer_block import TransformerBlock


@keras.saving.register_keras_serializable(package="s2s_keras")
class TransformerEncoderBlock(TransformerBlock):
    """x ← Sublayer(x, SelfAttention); x ← Sublayer(x, FFN) (Vaswani et al. 2017, §3.1).

    Padded positions are never attended to, so the outputs at real positions
    do not depend on how much padding follows them.

    Args:
        See `TransformerBlock`.

    Call arguments:
        inputs: `(batch, src_len, d_model)`.
        mask: optional bool `(batch, src_len)`, False on padding.
        training: whether dropout is active.

    Returns:
        `(batch, src_len, d_model)`.

    Example:
    >>> import numpy as np
    >>> block = TransformerEncoderBlock(num_heads=2, intermediate_dim=32)
    >>> block(np.ones((2, 5, 8)), mask=np.array([[1, 1, 1, 0, 0], [1] * 5], bool)).shape
    TensorShape([2, 5, 8])
    """

    def __init__(self, num_heads, intermediate_dim, **kwargs):
        super().__init__(num_heads, intermediate_dim, **kwargs)
        self.self_attention = self._attention("self_attention")
        self.self_attention_norm = self._layer_norm("self_attention_norm")

    def build(self, inputs_shape):
        self._check_model_size(inputs_shape)
        self.self_attention.build(inputs_shape, inputs_shape)
        self.self_attention_norm.build(inputs_shape)
        self._build_feed_forward(inputs_shape)
        self.built = True

    def call(self, inputs, mask=None, training=None):
        attention_mask = None if mask is None else ops.expand_dims(ops.cast(mask, "bool"), 1)  # (batch, 1, src_len)
        inputs = self._without_keras_mask(inputs)
        # 1. self-attention over the real source positions
        h = self._sublayer_input(inputs, self.self_attention_norm)
        y = self.self_attention(h, h, attention_mask=attention_mask, training=training)
        x = self._residual(inputs, y, self.self_attention_norm, training)
        # 2. position-wise feed-forward
        return self._feed_forward_sublayer(x, training)

    def compute_output_shape(self, inputs_shape):
        return tuple(inputs_shape)
