"""Masked sequence losses: padding (id 0) never counts."""

import keras
import tensorflow as tf
from keras import ops

from s2s_keras.data.special_ids import PAD_ID


@keras.saving.register_keras_serializable(package="s2s_keras")
class MaskedSparseCategoricalCrossentropy(keras.losses.Loss):
    """Token-level cross-entropy from logits, averaged over non-padding tokens.

    With label smoothing ε the target distribution puts 1 - ε on the true
    token and ε spread uniformly over the vocabulary:
    loss = -(1 - ε) log p_y - (ε / V) Σ_v log p_v.

    Args:
        label_smoothing: ε in [0, 1).
        pad_id: the id that is ignored (0).
        name: the loss's name.

    Call arguments:
        y_true: int `(batch, tgt_len)` target ids, `pad_id` on padding.
        y_pred: float `(batch, tgt_len, vocab)` logits.
        sample_weight: optional `(batch,)` weights per sequence.

    Returns:
        A scalar: the (weighted) mean loss over real tokens (0 if there are none).
        Under a `tf.distribute` strategy each replica divides its sum by the
        token count of the whole global batch, so the gradients the replicas
        add up are exactly those of the global batch on one device.

    Example:
    >>> model.compile(optimizer="adam", loss=MaskedSparseCategoricalCrossentropy(label_smoothing=0.1))  # doctest: +SKIP
    """

    def __init__(self, label_smoothing=0.0, pad_id=PAD_ID, name="masked_loss", **kwargs):
        kwargs.pop("reduction", None)
        super().__init__(name=name, reduction="sum_over_batch_size", **kwargs)
        if not 0.0 <= float(label_smoothing) < 1.0:
            raise ValueError(f"`label_smoothing` must be in [0, 1). Received: label_smoothing={label_smoothing}")
        self.label_smoothing = float(label_smoothing)
        self.pad_id = int(pad_id)

    def token_losses(self, y_true, y_pred):
        """Per-token losses `(batch, tgt_len)` (not yet masked).

        One fused TensorFlow op computes the softmax, the loss and its gradient
        (as OpenNMT-tf does): gathering `log p_y` with `take_along_axis` would
        make its gradient a scatter into the whole `(batch, tgt_len, vocab)`
        tensor (docs/tuning.md has the profile).
        """
        y_true = ops.cast(y_true, "int32")
        logits = ops.cast(y_pred, "float32")  # (batch, tgt_len, vocab)
        if self.label_smoothing == 0.0:
            return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y_true, logits=logits)
        vocab = ops.shape(logits)[-1]
        off = self.label_smoothing / ops.cast(vocab, "float32")
        targets = tf.one_hot(y_true, vocab, on_value=1.0 - self.label_smoothing + off, off_value=off)
        return tf.nn.softmax_cross_entropy_with_logits(labels=targets, logits=logits)

    def __call__(self, y_true, y_pred, sample_weight=None):
        with keras.name_scope(self.name):
            mask = ops.cast(ops.not_equal(ops.cast(y_true, "int32"), self.pad_id), "float32")  # (batch, tgt_len)
            if sample_weight is not None:
                sample_weight = ops.cast(sample_weight, "float32")
                while len(sample_weight.shape) < len(mask.shape):
                    sample_weight = ops.expand_dims(sample_weight, -1)
                mask = mask * sample_weight
            losses = self.token_losses(y_true, y_pred) * mask
            return ops.divide_no_nan(ops.sum(losses), _global_sum(ops.sum(mask)))

    def call(self, y_true, y_pred):
        return self.token_losses(y_true, y_pred)

    def get_config(self):
        return {"name": self.name, "label_smoothing": self.label_smoothing, "pad_id": self.pad_id}


def _global_sum(value):
    """`value` summed over the replicas in sync (itself outside a distribution strategy)."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return value
    return tf.stop_gradient(context.all_reduce("SUM", value))


def masked_loss(label_smoothing=0.0, pad_id=PAD_ID):
    """The masked cross-entropy loss for `model.compile`.

    Args:
        label_smoothing: ε in [0, 1) (see `MaskedSparseCategoricalCrossentropy`).
        pad_id: the target padding id (`target_tokenizer.pad_id`).

    Returns:
        A `MaskedSparseCategoricalCrossentropy`: token-level cross-entropy from
        logits, averaged over the non-padding target tokens.

    Example:
    >>> model.compile(optimizer="adam", loss=masked_loss(label_smoothing=0.1))  # doctest: +SKIP
    """
    return MaskedSparseCategoricalCrossentropy(label_smoothing=label_smoothing, pad_id=pad_id)
