"""FastDropout: Keras's inverted dropout from 16 random bits per element."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from s2s_keras.layers.dropout import FastDropout
from tests.helpers import assert_config_round_trip

X = np.ones((401, 501), "float32")  # an odd element count: the last 32-bit draw is half used


@pytest.mark.parametrize("rate", [0.1, 0.5])
def test_drops_the_rate_and_keeps_the_expectation(rate):
    outputs = np.asarray(FastDropout(rate, seed=1)(X, training=True))
    dropped = outputs == 0
    assert abs(dropped.mean() - rate) < 0.005  # 200,901 elements: 5 standard deviations at most
    np.testing.assert_allclose(outputs[~dropped], 1 / (1 - rate), rtol=1e-4)
    assert abs(outputs.mean() - 1.0) < 0.01


def test_masks_are_spread_over_rows_and_columns():
    dropped = np.asarray(FastDropout(0.5, seed=2)(X, training=True)) == 0
    for share in (dropped.mean(axis=0), dropped.mean(axis=1)):  # no row or column always kept or dropped
        assert share.min() > 0.3 and share.max() < 0.7
    # the two halves of one 32-bit draw are independent: neighbours agree about half the time
    pairs = dropped.reshape(-1)[: X.size - 1].reshape(-1, 2)
    assert abs((pairs[:, 0] == pairs[:, 1]).mean() - 0.5) < 0.01


def test_each_call_draws_a_new_mask_and_a_seed_repeats_them():
    layer = FastDropout(0.5, seed=3)
    first, second = (np.asarray(layer(X, training=True)) == 0 for _ in range(2))
    assert 0.45 < (first != second).mean() < 0.55
    again = FastDropout(0.5, seed=3)
    np.testing.assert_array_equal(np.asarray(again(X, training=True)) == 0, first)


def test_inference_and_rate_zero_pass_the_inputs_through():
    np.testing.assert_array_equal(FastDropout(0.5)(X, training=False), X)
    np.testing.assert_array_equal(FastDropout(0.0)(X, training=True), X)
    assert not FastDropout(0.0).variables  # no seed generator, as keras.layers.Dropout


def test_gradient_is_the_kept_mask_times_the_scale():
    layer = FastDropout(0.25, seed=4)
    x = tf.constant(np.random.default_rng(0).normal(size=(8, 33)).astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        total = tf.reduce_sum(y)
    gradient = tape.gradient(total, x).numpy()
    kept = y.numpy() != 0
    np.testing.assert_allclose(gradient[kept], 1 / 0.75, rtol=1e-6)
    assert (gradient[~kept] == 0).all()


def test_mixed_precision_keeps_the_compute_dtype():
    layer = FastDropout(0.5, seed=5, dtype="mixed_bfloat16")
    outputs = layer(tf.ones((4, 6), "bfloat16"), training=True)
    assert outputs.dtype == tf.bfloat16
    assert set(np.unique(np.asarray(outputs, "float32"))) <= {0.0, 2.0}


def test_works_in_a_compiled_function_with_unknown_shapes():
    layer = FastDropout(0.5, seed=6)

    @tf.function(input_signature=[tf.TensorSpec((None, None), tf.float32)], jit_compile=False)
    def drop(x):
        return layer(x, training=True)

    assert drop(tf.ones((3, 7))).shape == (3, 7)
    assert drop(tf.ones((1, 1))).shape == (1, 1)


def test_config_round_trip_and_bad_rates():
    assert_config_round_trip(FastDropout(0.3, seed=7), lambda layer: layer(X[:2]))
    for rate in (-0.1, 1.0):
        with pytest.raises(ValueError, match="rate"):
            FastDropout(rate)


def test_is_used_by_the_transformer_blocks():
    from s2s_keras.layers import TransformerEncoderBlock

    block = TransformerEncoderBlock(2, 16, dropout=0.1, attention_dropout=0.1, activation_dropout=0.1)
    block(np.ones((1, 3, 8), "float32"))
    kinds = {type(layer) for layer in block._flatten_layers()}
    assert FastDropout in kinds and keras.layers.Dropout not in kinds
