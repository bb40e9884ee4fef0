"""A CTC loss on the encoder beside the decoder's: joint CTC–attention training for speech."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="s2s_keras")
class CTCAuxiliaryLoss(keras.layers.Layer):
    """Adds `weight` × a CTC loss of the encoder's steps against the target; passes the encoder result on.

    Joint CTC–attention training (Kim, Hori and Watanabe 2017): a `Dense`
    projects every encoder step onto the target vocabulary plus a blank, and
    the CTC loss of the transcript is added to the model's loss while
    training. CTC's alignments are monotonic, so the encoder learns where
    each token is and the decoder's attention finds it quickly; an attention
    decoder alone can settle on a language model of the transcripts and never
    align. The layer changes nothing at inference (`encode` does not call it).

    The loss is per token (each utterance's CTC loss divided by its label
    count, averaged over the batch), the scale of the decoder's masked
    cross-entropy. Utterances with fewer encoder steps than CTC needs (a step per
    label and a blank between repeated labels) add 0.

    Args:
        vocab_size: the target vocabulary; the blank is class `vocab_size`.
        weight: the factor of the CTC loss in the total.
        pad_id: the target tokenizer's padding id.
        **kwargs: base layer arguments.

    Call arguments:
        encoder_result: `(batch, steps, units)`.
        encoder_mask: bool `(batch, steps)`, False on padded steps.
        target_in: int `(batch, tgt_len)`: `[START]`, the transcript's ids,
            then `pad_id`s (the decoder's teacher-forced input).
        training: the loss is added only while training.

    Returns:
        `encoder_result`, unchanged.

    Example:
    >>> import numpy as np
    >>> layer = CTCAuxiliaryLoss(vocab_size=6, weight=0.3)
    >>> result = layer(np.ones((2, 8, 4), "float32"), np.ones((2, 8), bool),
    ...                np.array([[2, 4, 5, 0], [2, 5, 0, 0]]), training=True)
    >>> result.shape, len(layer.losses)
    (TensorShape([2, 8, 4]), 1)
    """

    def __init__(self, vocab_size, weight=0.3, pad_id=0, **kwargs):
        super().__init__(**kwargs)
        if not float(weight) > 0.0:
            raise ValueError(f"`weight` must be > 0. Received: weight={weight}")
        self.vocab_size, self.weight = int(vocab_size), float(weight)
        self.pad_id = int(pad_id)
        self.projection = keras.layers.Dense(self.vocab_size + 1, dtype="float32", name="projection")

    def build(self, encoder_result_shape, encoder_mask_shape=None, target_in_shape=None):
        self.projection.build(encoder_result_shape)
        self.built = True

    def call(self, encoder_result, encoder_mask, target_in, training=None):
        if training:
            self.add_loss(self.weight * self.ctc_loss(encoder_result, encoder_mask, target_in))
        return tf.identity(encoder_result)

    def ctc_loss(self, encoder_result, encoder_mask, target_in):
        """The per-token CTC loss, a float32 scalar (a replica's share under a `tf.distribute` strategy)."""
        logits = self.projection(encoder_result)  # (batch, steps, vocab + 1), blank last
        logit_lengths = tf.reduce_sum(tf.cast(encoder_mask, tf.int32), axis=1)  # (batch,)
        labels = tf.cast(target_in, tf.int32)[:, 1:]  # (batch, tgt_len - 1): the transcript without [START]
        is_label = labels != self.pad_id
        indices = tf.where(is_label)
        sparse = tf.SparseTensor(indices, tf.gather_nd(labels, indices), tf.shape(labels, out_type=tf.int64))
        losses = tf.compat.v1.nn.ctc_loss(sparse, logits, logit_lengths, time_major=False,
                                          ignore_longer_outputs_than_inputs=True)  # (batch,)
        losses = tf.where(tf.math.is_finite(losses), losses, 0.0)  # too few steps for the repeated labels
        label_counts = tf.maximum(tf.reduce_sum(tf.cast(is_label, tf.float32), axis=1), 1.0)
        replicas = tf.distribute.get_replica_context()
        replicas = replicas.num_replicas_in_sync if replicas is not None else 1
        return tf.reduce_mean(losses / label_counts) / replicas

    def compute_output_spec(self, encoder_result, encoder_mask=None, target_in=None, training=None):
        return keras.KerasTensor(encoder_result.shape, dtype=encoder_result.dtype)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "weight": self.weight,
                "pad_id": self.pad_id}
