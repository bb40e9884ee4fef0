"""Learning-rate schedules."""

import keras
from keras import ops

from s2s_keras.checks import check_positive_int


@keras.saving.register_keras_serializable(package="s2s_keras")
class NoamSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up, then inverse square-root decay (Vaswani et al. 2017, §5.3).

    lr(n) = scale · d_model^-0.5 · min(n^-0.5, n · warmup_steps^-1.5), with
    n = optimizer iterations + 1. It peaks at n = warmup_steps with
    scale · (d_model · warmup_steps)^-0.5.

    Args:
        d_model: the model size.
        warmup_steps: steps of linear warm-up.
        scale: a constant factor (1.0 in the paper; often 2.0).

    Returns:
        Called with the step (the optimizer's iterations), the float32 learning rate.

    Example:
    >>> optimizer = keras.optimizers.Adam(NoamSchedule(d_model=256, warmup_steps=4000), beta_2=0.98, epsilon=1e-9)
    """

    def __init__(self, d_model, warmup_steps=4000, scale=1.0):
        self.d_model = check_positive_int("d_model", d_model)
        self.warmup_steps = check_positive_int("warmup_steps", warmup_steps)
        if not float(scale) > 0:
            raise ValueError(f"`scale` must be positive. Received: scale={scale!r}")
        self.scale = float(scale)

    @classmethod
    def with_peak(cls, learning_rate, warmup_steps):
        """The schedule that warms up to `learning_rate` at `warmup_steps`, whatever the model size.

        Example:
        >>> round(float(NoamSchedule.with_peak(1e-3, warmup_steps=1000)(999)), 6)  # step 999: n = 1000, the peak
        0.001
        """
        if not float(learning_rate) > 0:
            raise ValueError(f"`learning_rate` must be positive. Received: learning_rate={learning_rate!r}")
        warmup_steps = check_positive_int("warmup_steps", warmup_steps)
        return cls(d_model=1, warmup_steps=warmup_steps, scale=float(learning_rate) * warmup_steps**0.5)

    def __call__(self, step):
        n = ops.cast(step, "float32") + 1.0
        decay = ops.minimum(ops.rsqrt(n), n * self.warmup_steps**-1.5)
        return self.scale * self.d_model**-0.5 * decay

    def get_config(self):
        return {"d_model": self.d_model, "warmup_steps": self.warmup_steps, "scale": self.scale}


def recipe_learning_rate(learning_rate, warmup_steps=None):
    """The learning rate a recipe describes: `NoamSchedule.with_peak` with a warm-up, else the constant.

    Args:
        learning_rate: the (peak) learning rate.
        warmup_steps: steps of linear warm-up, or None for a constant rate.

    Returns:
        A float or a `NoamSchedule`, for `keras.optimizers.Adam(...)`.

    Example:
    >>> from s2s_keras.models import get_recipe
    >>> from s2s_keras.training import FusedAdam
    >>> recipe = get_recipe("transformer_small")
    >>> optimizer = FusedAdam(recipe_learning_rate(recipe.learning_rate, recipe.warmup_steps))
    """
    if warmup_steps:
        return NoamSchedule.with_peak(learning_rate, warmup_steps)
    return learning_rate
