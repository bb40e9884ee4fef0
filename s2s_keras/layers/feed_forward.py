"""The position-wise feed-forward network of a Transformer block."""

import keras
from keras import ops

from s2s_keras.checks import check_positive_int, check_rate
from s2s_keras.layers.dropout import FastDropout


@keras.saving.register_keras_serializable(package="s2s_keras")
class FeedForward(keras.layers.Layer):
    """FFN(x) = W₂ dropout(activation(W₁ x + b₁)) + b₂, applied at every position (§3.3).

    Args:
        intermediate_dim: size of the hidden layer (d_ff).
        output_dim: size of the output; defaults to the input's last dimension.
        activation: activation of the hidden layer ("relu" in Vaswani et al.).
        dropout: dropout rate on the hidden activations.
        kernel_initializer: initializer of both kernels.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: `(batch, length, d)`.
        training: whether dropout is active.

    Returns:
        `(batch, length, output_dim or d)`.

    Example:
    >>> import numpy as np
    >>> FeedForward(intermediate_dim=32)(np.ones((2, 5, 8))).shape
    TensorShape([2, 5, 8])
    """

    def __init__(
        self,
        intermediate_dim,
        output_dim=None,
        activation="relu",
        dropout=0.0,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.intermediate_dim = check_positive_int("intermediate_dim", intermediate_dim)
        self.output_dim = None if output_dim is None else check_positive_int("output_dim", output_dim)
        self.activation = keras.activations.get(activation)
        self.dropout = check_rate("dropout", dropout)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.dropout_layer = FastDropout(self.dropout, dtype=self.dtype_policy)

    def build(self, inputs_shape):
        def dense(units, activation, name):
            initializer = self.kernel_initializer.__class__.from_config(self.kernel_initializer.get_config())
            return keras.layers.Dense(
                units, activation=activation, kernel_initializer=initializer, dtype=self.dtype_policy, name=name
            )

        self.inner_dense = dense(self.intermediate_dim, self.activation, "intermediate")
        self.output_dense = dense(self.output_dim or inputs_shape[-1], None, "output")
        self.inner_dense.build(tuple(inputs_shape))
        self.output_dense.build(tuple(inputs_shape[:-1]) + (self.intermediate_dim,))
        self.built = True

    def call(self, inputs, training=None):
        # On 2-D rows, so that each Dense is one matmul that TensorFlow fuses with its bias and activation
        # (on 3-D inputs Keras multiplies through `tensordot`, whose reshape keeps them apart).
        rows = ops.reshape(inputs, (-1, inputs.shape[-1]))  # (batch * length, d)
        hidden = self.dropout_layer(self.inner_dense(rows), training=training)  # (batch * length, d_ff)
        outputs = self.output_dense(hidden)
        return ops.reshape(outputs, (*ops.shape(inputs)[:-1], outputs.shape[-1]))

    def compute_output_shape(self, inputs_shape):
        return tuple(inputs_shape[:-1]) + (self.output_dim or inputs_shape[-1],)

    def get_config(self):
        return {
            **super().get_config(),
            "intermediate_dim": self.intermediate_dim,
            "output_dim": self.output_dim,
            "activation": keras.activations.serialize(self.activation),
            "dropout": self.dropout,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }
