"""Adam with TensorFlow's fused update kernel."""

import keras
import tensorflow as tf
from keras import ops

from s2s_keras.keras_compat import adam_moments, resource_handle


@keras.saving.register_keras_serializable(package="s2s_keras")
class FusedAdam(keras.optimizers.Adam):
    """`keras.optimizers.Adam`, updating each variable with one fused kernel.

    Keras's Adam runs about a dozen element-wise ops per variable, each a pass
    over the parameters; TensorFlow's `ResourceApplyAdam` updates the variable
    and both moments in one pass (the same formula: m ← β₁m + (1−β₁)g,
    v ← β₂v + (1−β₂)g², θ ← θ − lr·√(1−β₂ᵗ)/(1−β₁ᵗ)·m/(√v + ε)); what it
    saves is measured in docs/tuning.md. An embedding's sparse gradient (`IndexedSlices`) is summed into a dense
    one first, so a token met twice in a batch counts as (g₁+g₂)² in v, as in
    Adam on the dense gradient (Keras squares each slice before summing:
    g₁²+g₂²).
    Falls back to Keras's update with `amsgrad`, under a `tf.distribute`
    strategy and for non-resource variables. Arguments and config are Adam's.

    Example:
    >>> model.compile(optimizer=FusedAdam(1e-3), loss=masked_loss(label_smoothing=0.1))  # doctest: +SKIP
    """

    def update_step(self, gradient, variable, learning_rate):
        if isinstance(gradient, tf.IndexedSlices):  # embedding lookups: Adam moves every row anyway
            gradient = tf.convert_to_tensor(gradient)
        if self.amsgrad or tf.distribute.has_strategy() or not hasattr(variable, "handle"):
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        momentum, velocity = adam_moments(self, variable)
        step = ops.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = ops.cast(self.beta_1, dtype), ops.cast(self.beta_2, dtype)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle, m=resource_handle(momentum), v=resource_handle(velocity),
            beta1_power=ops.power(beta_1, step), beta2_power=ops.power(beta_2, step),
            lr=ops.cast(learning_rate, dtype), beta1=beta_1, beta2=beta_2, epsilon=ops.cast(self.epsilon, dtype),
            grad=ops.cast(gradient, dtype), use_locking=False,
        )
