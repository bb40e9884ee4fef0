"""FusedLayerNormalization: Keras's layer norm, with a hand-written gradient that must agree with it."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from s2s_keras.layers import FusedLayerNormalization
from tests.helpers import assert_config_round_trip

rng = np.random.default_rng(0)
X = (rng.normal(size=(3, 5, 16)) * 3 + 1).astype("float32")


def _values_and_gradients(layer, x):
    x = tf.constant(x)
    upstream = tf.constant(rng.normal(size=x.shape).astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        loss = tf.reduce_sum(tf.cast(y, "float32") * upstream)  # a generic upstream gradient
    gradients = tape.gradient(loss, [x, layer.gamma, layer.beta])
    return [np.asarray(y, "float32")] + [np.asarray(g) for g in gradients]


@pytest.mark.parametrize("epsilon", [1e-6, 1e-3])
def test_values_and_gradients_equal_keras_layer_normalization(epsilon):
    fused, reference = FusedLayerNormalization(epsilon=epsilon), keras.layers.LayerNormalization(epsilon=epsilon)
    fused.build(X.shape)
    reference.build(X.shape)
    for layer in (fused, reference):  # gamma and beta away from 1 and 0
        layer.gamma.assign(rng.normal(size=16).astype("float32"))
    reference.set_weights(fused.get_weights())
    state = rng.bit_generator.state
    got = _values_and_gradients(fused, X)
    rng.bit_generator.state = state  # the same upstream gradient for both
    expected = _values_and_gradients(reference, X)
    for g, e, what in zip(got, expected, ["outputs", "d inputs", "d gamma", "d beta"]):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5, err_msg=what)


def test_other_axes_and_mixed_precision_fall_back_or_compute_in_float32():
    fused, reference = FusedLayerNormalization(axis=1), keras.layers.LayerNormalization(axis=1)
    np.testing.assert_allclose(fused(X), reference(X), rtol=1e-5, atol=1e-5)  # Keras's path
    half = FusedLayerNormalization(dtype="mixed_bfloat16")
    y = half(X.astype("float32"))
    assert y.dtype == tf.bfloat16 and half.gamma.dtype == "float32"
    np.testing.assert_allclose(np.asarray(y, "float32"), keras.layers.LayerNormalization()(X), atol=3e-2)


def test_config_round_trip_and_saved_weights_of_keras_layer_norm_load():
    layer = FusedLayerNormalization(epsilon=1e-5)
    assert_config_round_trip(layer, lambda norm: norm(X))
    keras_norm = keras.layers.LayerNormalization(epsilon=1e-5)
    keras_norm.build(X.shape)
    layer.set_weights(keras_norm.get_weights())  # the same variables, in the same order
