"""A stack of Transformer encoder blocks: the "encoder" of a Transformer model."""

import keras

from s2s_keras.layers.transformer_encoder_block import TransformerEncoderBlock
from s2s_keras.layers.transformer_stack import TransformerStack


@keras.saving.register_keras_serializable(package="s2s_keras")
class TransformerEncoder(TransformerStack):
    """Dropout on the embedded source, then `num_layers` `TransformerEncoderBlock`s.

    With `normalize_first` (pre-norm blocks) a final layer normalisation
    follows the last block. Outputs at padded positions are computed but never
    read: every attention over them is masked.

    Args:
        See `TransformerStack` (num_layers, num_heads, intermediate_dim,
        dropout, attention_dropout, activation_dropout, activation,
        normalize_first, layer_norm_epsilon).

    Call arguments:
        inputs: `(batch, src_len, d_model)` embedded source.
        mask: optional bool `(batch, src_len)`, False on padding.
        training: whether dropout is active.

    Returns:
        `(batch, src_len, d_model)`, what `TransformerDecoder.prepare_memory` takes.

    Example:
    >>> import numpy as np
    >>> encoder = TransformerEncoder(num_layers=2, num_heads=2, intermediate_dim=32)
    >>> encoder(np.ones((2, 5, 8)), mask=np.array([[1, 1, 1, 0, 0], [1] * 5], bool)).shape
    TensorShape([2, 5, 8])
    """

    block_class = TransformerEncoderBlock

    def __init__(self, num_layers, num_heads, intermediate_dim, **kwargs):
        super().__init__(num_layers, num_heads, intermediate_dim, **kwargs)
        self.supports_masking = True

    def build(self, inputs_shape):
        for block in self.blocks:
            block.build(inputs_shape)
        self._build_final_norm(inputs_shape)
        self.built = True

    def call(self, inputs, mask=None, training=None):
        x = self.dropout_layer(inputs, training=training)  # (batch, src_len, d_model)
        for block in self.blocks:
            x = block(x, mask=mask, training=training)
        return self._final(x)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, inputs_shape):
        return tuple(inputs_shape)
