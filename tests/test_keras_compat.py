"""Each private Keras attribute the library relies on (s2s_keras/keras_compat.py) still means what it assumes."""

import inspect

import keras
import numpy as np
import tensorflow as tf

from s2s_keras.keras_compat import FirstReplicaSymbolicBuild, adam_moments, resource_handle, set_initial_epoch


def tiny_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.Adam(0.1), loss="mse")
    return model


def test_fit_starts_at_the_epoch_set_in_on_train_begin():
    class StartAtTwo(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            set_initial_epoch(self.model, 2)

    history = tiny_model().fit(np.ones((4, 3)), np.ones((4, 2)), epochs=4, verbose=0, callbacks=[StartAtTwo()])
    assert history.epoch == [2, 3]


def test_adam_moments_are_the_ones_adam_updates():
    variable = keras.Variable(np.zeros((2, 2), "float32"))
    optimizer = keras.optimizers.Adam(0.1)
    optimizer.build([variable])
    optimizer.apply([tf.fill((2, 2), 2.0)], [variable])
    momentum, velocity = adam_moments(optimizer, variable)
    np.testing.assert_allclose(np.asarray(momentum), 0.1 * 2.0, rtol=1e-6)  # (1 - beta_1) g
    np.testing.assert_allclose(np.asarray(velocity), 0.001 * 4.0, rtol=1e-6)  # (1 - beta_2) g²


def test_a_raw_op_on_the_resource_handle_changes_the_keras_variable():
    variable = keras.Variable(np.zeros((3,), "float32"))
    tf.raw_ops.AssignAddVariableOp(resource=resource_handle(variable), value=tf.ones((3,)))
    np.testing.assert_array_equal(np.asarray(variable), [1.0, 1.0, 1.0])


def test_keras_builds_metrics_through_the_method_the_mixin_overrides():
    parameters = inspect.signature(keras.Model._maybe_symbolic_build).parameters
    assert {"iterator", "data_batch"} <= set(parameters)

    class Mixed(FirstReplicaSymbolicBuild, keras.Model):
        pass

    assert Mixed._maybe_symbolic_build is FirstReplicaSymbolicBuild._maybe_symbolic_build
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    with strategy.scope():
        model = tiny_model()
    assert getattr(model, "_distribute_strategy", None) is strategy
