"""Masked token accuracy: padding (the target pad id, 0 by default) never counts."""

import keras
from keras import ops

from s2s_keras.data.special_ids import PAD_ID


@keras.saving.register_keras_serializable(package="s2s_keras")
class MaskedAccuracy(keras.metrics.Metric):
    """Fraction of non-padding target tokens whose argmax logit is right.

    Counts correct and real tokens over all batches, so the result is exact per
    token (not a mean of per-batch ratios).

    Example:
    >>> model.compile(optimizer="adam", loss=masked_loss(), metrics=[MaskedAccuracy()])  # doctest: +SKIP
    """

    def __init__(self, name="masked_accuracy", pad_id=PAD_ID, **kwargs):
        super().__init__(name=name, **kwargs)
        self.pad_id = int(pad_id)
        self.correct = self.add_variable(shape=(), initializer="zeros", name="correct")
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(y_true, "int32")
        mask = ops.cast(ops.not_equal(y_true, self.pad_id), "float32")
        if sample_weight is not None:
            sample_weight = ops.cast(sample_weight, "float32")
            while len(sample_weight.shape) < len(mask.shape):
                sample_weight = ops.expand_dims(sample_weight, -1)
            mask = mask * sample_weight
        hits = ops.cast(ops.equal(ops.cast(ops.argmax(y_pred, axis=-1), "int32"), y_true), "float32")
        self.correct.assign_add(ops.sum(hits * mask))
        self.total.assign_add(ops.sum(mask))

    def result(self):
        return ops.divide_no_nan(self.correct, self.total)

    def reset_state(self):
        self.correct.assign(0.0)
        self.total.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "pad_id": self.pad_id}


def masked_accuracy(y_true, y_pred, pad_id=PAD_ID):
    """Per-batch masked token accuracy, as a plain function (the TF text tutorial's).

    In `compile(metrics=[...])` Keras averages it over batches; `MaskedAccuracy`
    weighs every token equally instead.
    """
    y_true = ops.cast(y_true, "int32")
    mask = ops.cast(ops.not_equal(y_true, pad_id), "float32")
    hits = ops.cast(ops.equal(ops.cast(ops.argmax(y_pred, axis=-1), "int32"), y_true), "float32")
    return ops.divide_no_nan(ops.sum(hits * mask), ops.sum(mask))
