"""Layer normalisation over the last axis with a hand-written TensorFlow gradient (half the time of Keras's)."""

import keras
import tensorflow as tf


def _normalize_last_axis(x, epsilon):
    """(x − mean) / √(var + ε) over the last axis, with its gradient written out.

    TensorFlow's automatic gradient of `keras.ops.layer_normalization` runs
    about twenty small element-wise and reduction ops; the closed form
    dx = r·(g − mean(g) − x̂·mean(g·x̂)), r = 1/√(var + ε), needs five
    (docs/tuning.md has the timings).
    """

    @tf.custom_gradient
    def normalize(x):
        mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)  # (..., 1)
        inverse_std = tf.math.rsqrt(variance + epsilon)  # (..., 1)
        normalized = (x - mean) * inverse_std  # (..., d)

        def gradient(upstream):  # (..., d)
            mean_upstream = tf.reduce_mean(upstream, axis=-1, keepdims=True)
            mean_projection = tf.reduce_mean(upstream * normalized, axis=-1, keepdims=True)
            return inverse_std * (upstream - mean_upstream - normalized * mean_projection)

        return normalized, gradient

    return normalize(x)


@keras.saving.register_keras_serializable(package="s2s_keras")
class FusedLayerNormalization(keras.layers.LayerNormalization):
    """`keras.layers.LayerNormalization` with a closed-form gradient on TensorFlow.

    The same layer, variables (`gamma`, `beta`) and results as Keras's; only
    the TensorFlow gradient of the normalisation over the last axis is written
    out (see `_normalize_last_axis`), which halves its cost in training. Other
    backends, other axes and `rms_scaling` use Keras's implementation. The
    statistics are computed in float32 under mixed precision, as Keras does.
    Under a "bfloat16" policy `gamma` and `beta` stay float32 (the layer runs
    as under "mixed_bfloat16"), so a model with bfloat16 weights elsewhere
    normalises exactly as its mixed-precision original.

    Example:
        >>> norm = FusedLayerNormalization(epsilon=1e-6)
        >>> norm(keras.ops.ones((2, 5, 8))).shape
        TensorShape([2, 5, 8])
    """

    def __init__(self, **kwargs):
        policy = keras.dtype_policies.get(kwargs.get("dtype") or keras.config.dtype_policy())
        if policy.name == "bfloat16":  # float32 gamma and beta, bfloat16 outputs
            kwargs["dtype"] = "mixed_bfloat16"
        super().__init__(**kwargs)

    def _fused(self, inputs):
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        rank = len(inputs.shape)
        last_axis_only = len(axes) == 1 and axes[0] % rank == rank - 1
        return keras.backend.backend() == "tensorflow" and not self.rms_scaling and last_axis_only

    def call(self, inputs):
        if not self._fused(inputs):
            return super().call(inputs)
        x = tf.cast(inputs, "float32") if inputs.dtype != tf.float32 else inputs  # statistics in float32
        outputs = _normalize_last_axis(x, self.epsilon)
        if self.gamma is not None:
            outputs = outputs * tf.cast(self.gamma, outputs.dtype)
        if self.beta is not None:
            outputs = outputs + tf.cast(self.beta, outputs.dtype)
        return tf.cast(outputs, self.compute_dtype)
