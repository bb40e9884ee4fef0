"""Two strided convolutions over (time, frequency): a speech Transformer's input layer."""

import keras
import tensorflow as tf

from s2s_keras.checks import check_positive_int
from s2s_keras.layers.positional_embedding import sinusoids

KERNEL, STRIDE = 3, 2


def subsampled_lengths(lengths):
    """Output steps of two unpadded 3×3 stride-2 convolutions over `lengths` frames, at least one."""
    for _ in range(2):
        lengths = tf.math.floordiv(lengths - KERNEL, STRIDE) + 1
    return tf.maximum(lengths, 1)


@keras.saving.register_keras_serializable(package="s2s_keras")
class ConvSubsampling(keras.layers.Layer):
    """Frames to `d_model` vectors at a quarter of the frame rate, with sine positions added.

    Two `Conv2D` layers (3×3, stride 2, ReLU, no padding) over the
    `(time, features)` plane, then a `Dense` to `d_model`, then Vaswani et
    al.'s sinusoidal positions (Dong et al. 2018, "Speech-Transformer"). An
    output step exists only where its receptive field lies inside the
    utterance, so a padded batch gives each utterance its own outputs.

    Args:
        d_model: output size.
        filters: channels of both convolutions.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: `(batch, frames, features)`.
        mask: bool `(batch, frames)`, False on padding.

    Returns:
        `(outputs, mask)`: `(batch, steps, d_model)` and bool `(batch, steps)`,
        `steps = ((frames - 3) // 2 - 1) // 2 + 1` (at least one).

    Example:
    >>> import numpy as np
    >>> layer = ConvSubsampling(d_model=32, filters=8)
    >>> outputs, mask = layer(np.ones((2, 100, 40), "float32"), mask=np.ones((2, 100), bool))
    >>> outputs.shape
    TensorShape([2, 24, 32])
    """

    def __init__(self, d_model, filters=64, **kwargs):
        super().__init__(**kwargs)
        self.d_model = check_positive_int("d_model", d_model)
        self.filters = check_positive_int("filters", filters)
        self.convolutions = [
            keras.layers.Conv2D(self.filters, KERNEL, strides=STRIDE, activation="relu", dtype=self.dtype_policy,
                                name=f"conv_{i}")
            for i in range(2)
        ]
        self.projection = keras.layers.Dense(self.d_model, dtype=self.dtype_policy, name="projection")

    def build(self, inputs_shape):
        features = inputs_shape[-1]
        shape = (None, None, features, 1)
        for convolution in self.convolutions:
            convolution.build(shape)
            features = (features - KERNEL) // STRIDE + 1
            shape = (None, None, features, self.filters)
        if features < 1:
            raise ValueError(f"ConvSubsampling needs at least 7 features per frame. Received: {inputs_shape[-1]}")
        self.projection.build((None, None, features * self.filters))
        self.built = True

    def call(self, inputs, mask=None):
        batch, frames = tf.shape(inputs)[0], tf.shape(inputs)[1]
        lengths = frames if mask is None else tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)  # (batch,)
        short = tf.maximum(0, 2 * STRIDE + KERNEL - frames)  # at least one output step
        x = tf.pad(inputs, [[0, 0], [0, short], [0, 0]])[..., tf.newaxis]  # (batch, frames, features, 1)
        for convolution in self.convolutions:
            x = convolution(x)  # (batch, time / 2, features / 2, filters)
        steps = tf.shape(x)[1]
        x = tf.reshape(x, [batch, steps, x.shape[2] * self.filters])
        x = self.projection(x)  # (batch, steps, d_model)
        x = x + tf.cast(sinusoids(tf.cast(tf.range(steps), "float32"), self.d_model), x.dtype)[tf.newaxis]
        lengths = subsampled_lengths(tf.broadcast_to(lengths, [batch]))
        return x, tf.sequence_mask(lengths, steps)

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        return {**super().get_config(), "d_model": self.d_model, "filters": self.filters}
