"""Shared test helpers: the layer round trip every custom layer must pass."""

import keras
import numpy as np
import tensorflow as tf


def assert_config_round_trip(layer, call):
    """`call(layer)` gives the same output for a layer rebuilt from its config.

    Args:
        layer: the layer under test.
        call: `layer -> output structure`, the call to compare.
    """
    call(layer)  # builds the layer
    config = keras.layers.serialize(layer)
    clone = keras.layers.deserialize(config)
    assert clone.get_config() == layer.get_config()
    call(clone)  # builds the clone's weights
    clone.set_weights(layer.get_weights())
    expected, actual = call(layer), call(clone)
    for e, a in zip(tf.nest.flatten(expected), tf.nest.flatten(actual)):
        np.testing.assert_allclose(np.asarray(e), np.asarray(a), atol=1e-6)
