"""FusedAdam: Keras's Adam, one fused kernel per variable."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import s2s_keras as s2s
from s2s_keras.training import FusedAdam, NoamSchedule

VOCAB = 11


class DenseGradientAdam(keras.optimizers.Adam):
    """Keras's Adam on dense gradients: the reference. (Given an embedding's `IndexedSlices`, Keras squares
    each slice before duplicates are summed, so its second moment is not that of the gradient.)"""

    def update_step(self, gradient, variable, learning_rate):
        if isinstance(gradient, tf.IndexedSlices):
            gradient = tf.convert_to_tensor(gradient)
        return super().update_step(gradient, variable, learning_rate)


def trained_weights(optimizer, steps=5, jit_compile=False):
    keras.utils.set_random_seed(0)
    model = s2s.build_model("transformer_tiny", source_vocab_size=VOCAB, target_vocab_size=VOCAB, dropout=0.0)
    x, y = s2s.data.pad_pairs(s2s.data.toy_pairs("reverse", 16, 2, 6, VOCAB, seed=0))
    model.compile(optimizer=optimizer, loss=s2s.losses.masked_loss(), jit_compile=jit_compile)
    model.fit(x, y, batch_size=8, epochs=steps // 2 + 1, verbose=0, shuffle=False)
    return model.get_weights(), model.optimizer.variables


def applied(optimizer_class, steps=3, **kwargs):
    """Variables after `steps` updates with fixed random gradients, one of them sparse with duplicate rows."""
    rng = np.random.default_rng(0)
    variables = [keras.Variable(rng.normal(size=shape).astype("float32")) for shape in [(6, 4), (4,), (9, 3)]]
    optimizer = optimizer_class(**kwargs)
    optimizer.build(variables)
    for _ in range(steps):
        gradients = [tf.constant(rng.normal(size=v.shape).astype("float32")) for v in variables[:2]]
        rows = tf.constant([1, 4, 1, 7])  # row 1 twice, as a token met twice in a batch
        gradients.append(tf.IndexedSlices(tf.constant(rng.normal(size=(4, 3)).astype("float32")), rows, (9, 3)))
        optimizer.apply(gradients, variables)
    return [np.asarray(v) for v in variables] + [np.asarray(v) for v in optimizer.variables]


@pytest.mark.parametrize("kwargs", [
    dict(learning_rate=3e-3),
    dict(learning_rate=NoamSchedule(d_model=16, warmup_steps=4), beta_1=0.9, beta_2=0.98, epsilon=1e-9),
    dict(learning_rate=3e-3, amsgrad=True),
])
def test_updates_equal_keras_adam_on_the_dense_gradient(kwargs):
    fused, reference = applied(FusedAdam, **kwargs), applied(DenseGradientAdam, **kwargs)
    assert len(fused) == len(reference)
    for a, b in zip(fused, reference):  # the variables, then iterations, m and v
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_training_follows_keras_adam(jit_compile):
    fused = trained_weights(FusedAdam(3e-3), jit_compile=jit_compile)[0]
    reference = trained_weights(DenseGradientAdam(3e-3), jit_compile=jit_compile)[0]
    for a, b in zip(fused, reference):  # rounding differences grow a little over the steps
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=2e-4)


def test_config_round_trip():
    optimizer = FusedAdam(2e-3, beta_2=0.98, epsilon=1e-9)
    clone = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert isinstance(clone, FusedAdam) and clone.get_config() == optimizer.get_config()


def test_a_mirrored_strategy_falls_back_to_keras_updates():
    devices = tf.config.list_logical_devices("CPU")
    strategy = tf.distribute.MirroredStrategy([d.name for d in devices[:2]])
    with strategy.scope():
        variable = keras.Variable(np.ones((3, 2), "float32"))
        optimizer = FusedAdam(0.1)
        optimizer.build([variable])
    strategy.run(lambda: optimizer.apply([tf.ones((3, 2))], [variable]))
    np.testing.assert_allclose(np.asarray(variable), 0.9, rtol=1e-5)  # Adam's first step: θ - lr·sign(g)
