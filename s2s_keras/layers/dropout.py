"""Dropout that draws half the random numbers Keras's does."""

import keras
import tensorflow as tf

from s2s_keras.checks import check_rate

RANDOM_BITS = 16  # per element: each 32-bit Philox output decides two elements
_LEVELS = 1 << RANDOM_BITS


@keras.saving.register_keras_serializable(package="s2s_keras")
class FastDropout(keras.layers.Layer):
    """Inverted dropout like `keras.layers.Dropout`, from 16 random bits per element.

    `keras.layers.Dropout` draws one 32-bit random float per element, a
    visible share of a Transformer's training step on CPU (docs/tuning.md).
    This layer splits each 32-bit draw into two 16-bit
    numbers, so it draws half as many. An element is dropped when its number
    is below `round(rate * 65536)`, so the rate is rounded to a multiple of
    1/65536 (0.1 becomes 0.100006); kept elements are scaled by
    65536 / (65536 - round(rate * 65536)), so the expected output is the input.
    Outside training (or with rate 0) the inputs pass through unchanged.

    Args:
        rate: fraction of the elements to drop, in [0, 1).
        seed: optional int seed of the layer's `SeedGenerator`.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: a float tensor of any shape.
        training: whether to drop.

    Returns:
        A tensor of the inputs' shape and dtype.

    Example:
    >>> import numpy as np
    >>> layer = FastDropout(0.5, seed=1)
    >>> outputs = layer(np.ones((2, 4), "float32"), training=True)
    >>> set(outputs.numpy().ravel().tolist()) <= {0.0, 2.0}  # each entry dropped, or scaled by 1 / (1 - rate)
    True
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = check_rate("rate", rate)
        self.seed = seed
        self.supports_masking = True
        self._threshold = int(round(self.rate * _LEVELS))
        if self._threshold > 0:
            self.seed_generator = keras.random.SeedGenerator(seed)
        self.built = True

    def call(self, inputs, training=False):
        if not training or self._threshold == 0:
            return inputs
        return _drop(inputs, self._threshold, self.seed_generator.next())

    def compute_output_shape(self, inputs_shape):
        return inputs_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


def _drop(inputs, threshold, seed):
    """`inputs` with the elements whose 16-bit random number is below `threshold` zeroed, the rest scaled."""
    seed = tf.cast(seed, "int64")
    shape = tf.shape(inputs)
    count = tf.size(inputs)
    draws = tf.random.stateless_uniform([(count + 1) // 2], seed=seed, minval=None, maxval=None, dtype=tf.uint32)
    numbers = tf.reshape(tf.bitcast(draws, tf.uint16), [-1])[:count]  # (count,) uniform over 0..65535
    keep = tf.reshape(numbers >= threshold, shape)
    scale = tf.cast(_LEVELS / (_LEVELS - threshold), inputs.dtype)
    return inputs * tf.where(keep, scale, tf.zeros((), inputs.dtype))
