"""A Transformer encoder over speech frames: convolutional subsampling, then Transformer blocks."""

import keras

from s2s_keras.layers.conv_subsampling import ConvSubsampling
from s2s_keras.layers.transformer_encoder import TransformerEncoder


@keras.saving.register_keras_serializable(package="s2s_keras")
class SpeechTransformerEncoder(keras.layers.Layer):
    """`ConvSubsampling` (frames / 4, sine positions), then a `TransformerEncoder`.

    Args:
        d_model: size of every block.
        num_layers, num_heads, intermediate_dim: the Transformer blocks.
        filters: channels of the subsampling convolutions.
        **stack_args: `TransformerEncoder`'s other arguments (dropout,
            attention_dropout, activation_dropout, activation, normalize_first)
            and the base layer arguments.

    Call arguments:
        inputs: `(batch, frames, features)`.
        mask: bool `(batch, frames)`, False on padding.
        training: whether dropout is active.

    Returns:
        `(outputs, mask)`: `(batch, steps, d_model)`, what
        `TransformerDecoder.prepare_memory` takes, and the bool mask of the steps.

    Example:
    >>> import numpy as np
    >>> encoder = SpeechTransformerEncoder(d_model=16, num_layers=1, num_heads=2, intermediate_dim=32, filters=4)
    >>> outputs, mask = encoder(np.ones((2, 60, 20), "float32"), mask=np.ones((2, 60), bool))
    >>> outputs.shape
    TensorShape([2, 14, 16])
    """

    STACK_ARGUMENTS = ("dropout", "attention_dropout", "activation_dropout", "activation", "normalize_first",
                       "layer_norm_epsilon")

    def __init__(self, d_model, num_layers, num_heads, intermediate_dim, filters=64, **kwargs):
        stack_args = {key: kwargs.pop(key) for key in self.STACK_ARGUMENTS if key in kwargs}
        super().__init__(**kwargs)
        self.d_model, self.filters, self.stack_args = d_model, filters, stack_args
        self.subsampling = ConvSubsampling(d_model, filters=filters, dtype=self.dtype_policy, name="subsampling")
        self.transformer = TransformerEncoder(num_layers, num_heads, intermediate_dim, dtype=self.dtype_policy,
                                              name="transformer", **stack_args)

    def build(self, inputs_shape):
        self.subsampling.build(inputs_shape)
        self.transformer.build((None, None, self.d_model))
        self.built = True

    def call(self, inputs, mask=None, training=None):
        x, mask = self.subsampling(inputs, mask=mask)  # (batch, steps, d_model), (batch, steps)
        return self.transformer(x, mask=mask, training=training), mask

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        return {**super().get_config(), "d_model": self.d_model, "num_layers": self.transformer.num_layers,
                "num_heads": self.transformer.num_heads, "intermediate_dim": self.transformer.intermediate_dim,
                "filters": self.filters, **self.stack_args}
