"""The private Keras attributes the library relies on, each kept here with the assumption it makes.

Keras 3 offers no public way to do these; tests/test_keras_compat.py checks every assumption
against the installed Keras, and pyproject.toml bounds Keras to the minor versions tested.
Imports nothing of the project.
"""

import tensorflow as tf


def set_initial_epoch(model, epoch):
    """Makes the `fit` call that is starting begin at `epoch` (call it from a callback's `on_train_begin`).

    Assumes `fit` reads `model._initial_epoch` after `on_train_begin`, as Keras's own
    `BackupAndRestore` relies on.

    Example:
    >>> set_initial_epoch(model, 3)  # doctest: +SKIP
    """
    model._initial_epoch = epoch


def adam_moments(optimizer, variable):
    """`(momentum, velocity)`: the Adam moment variables that `optimizer` keeps for `variable`.

    Assumes Keras's Adam keeps them in `_momentums` and `_velocities`, indexed by
    `_get_variable_index`.

    Example:
    >>> momentum, velocity = adam_moments(model.optimizer, model.trainable_variables[0])  # doctest: +SKIP
    """
    index = optimizer._get_variable_index(variable)
    return optimizer._momentums[index], optimizer._velocities[index]


def resource_handle(variable):
    """The TensorFlow resource handle behind a Keras variable (for `tf.raw_ops` updates).

    Assumes the TensorFlow backend's `KerasVariable.value` is a `tf.Variable`.

    Example:
    >>> tf.raw_ops.AssignAddVariableOp(resource=resource_handle(v), value=tf.ones(v.shape))  # doctest: +SKIP
    """
    return variable.value.handle


class FirstReplicaSymbolicBuild:
    """A `keras.Model` mixin: builds the metrics from the first local replica's batch under a strategy.

    Keras builds a distributed model's metrics from its first batch, averaged over the
    replicas with `strategy.reduce("MEAN", batch)`. That fails when the replicas' batches
    differ in size and, under MultiWorkerMirroredStrategy, for any dict of inputs. Only
    shapes matter there, so the first local replica's batch serves. Assumes Keras calls
    `Model._maybe_symbolic_build(iterator=..., data_batch=...)` before the first step and
    keeps the strategy in `_distribute_strategy`.
    """

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        strategy = getattr(self, "_distribute_strategy", None)
        if iterator is not None and strategy is not None:
            for _, _, batches in iterator:
                batch = next(batches)
                data_batch = tf.nest.map_structure(lambda v: strategy.experimental_local_results(v)[0], batch)
                break
            iterator = None
        return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

