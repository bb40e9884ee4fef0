"""Scheduled sampling: feed the model some of its own predictions while training.

Teacher forcing always feeds the reference token; at inference the model reads
its own outputs, a mismatch known as exposure bias. Scheduled sampling (Bengio
et al. 2015) replaces each reference input token by the model's prediction with
a probability that grows over training. This is the two-pass form (Mihaylova &
Martins 2019): a first pass without gradients predicts every position under
teacher forcing, the predictions are mixed into `target_in`, and the usual
training step runs on the mixed inputs. It works for every registered model
(RNN decoders included) and keeps `model.fit`, mixed precision and
distribution strategies unchanged. Off unless the callback is passed to `fit`.
"""

import math

import keras
import tensorflow as tf

from s2s_keras.data.special_ids import model_special_ids


def mix_predictions(model, data, probability, seed=None):
    """Replaces reference tokens of `target_in` by the model's predictions.

    Position 0 (`[START]`) and padding (the model's target pad id) are never replaced; every other
    position is, independently, with `probability`.

    Args:
        model: the model (called once, without dropout, outside any gradient).
        data: a `(x, y[, sample_weight])` batch with `x["target_in"]` `(batch, tgt_len)`.
        probability: scalar in [0, 1].
        seed: optional seed for the coin flips.

    Returns:
        The batch with `x["target_in"]` mixed.
    """
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    target_in = tf.convert_to_tensor(x["target_in"], tf.int32)  # (batch, tgt_len)
    pad_id = model_special_ids(model)[1].pad
    logits = tf.stop_gradient(model(x, training=False))  # (batch, tgt_len, vocab)
    predictions = tf.argmax(logits, axis=-1, output_type=tf.int32)  # prediction for position t + 1
    shifted = tf.concat([target_in[:, :1], predictions[:, :-1]], axis=1)  # what the model would read at t
    coins = tf.random.uniform(tf.shape(target_in), seed=seed) < tf.cast(probability, tf.float32)
    replace = coins & (tf.range(tf.shape(target_in)[1]) > 0)[tf.newaxis, :] & tf.not_equal(target_in, pad_id)
    mixed = {**x, "target_in": tf.where(replace, shifted, target_in)}
    return keras.utils.pack_x_y_sample_weight(mixed, y, sample_weight)


def linear_schedule(start, end, epochs):
    """Probability rising linearly from `start` (epoch 0) to `end` (epoch `epochs - 1`, then constant)."""

    def schedule(epoch):
        fraction = min(epoch / max(epochs - 1, 1), 1.0)
        return start + (end - start) * fraction

    return schedule


def inverse_sigmoid_schedule(k):
    """Bengio et al.'s inverse sigmoid decay of teacher forcing: p(epoch) = 1 - k / (k + exp(epoch / k))."""
    if k < 1:
        raise ValueError(f"`k` must be >= 1. Received: k={k}")
    return lambda epoch: 1.0 - k / (k + math.exp(epoch / k))


class ScheduledSampling(keras.callbacks.Callback):
    """Turns scheduled sampling on for one `fit` call, with a per-epoch probability.

    Args:
        schedule: a probability in [0, 1], or `epoch -> probability`
            (e.g. `linear_schedule(0.0, 0.25, 10)`).

    The probability of each epoch is logged as `scheduled_sampling`.

    Example:
    >>> model.fit(train_ds, epochs=10, callbacks=[ScheduledSampling(linear_schedule(0.0, 0.25, 10))])  # doctest: +SKIP
    """

    def __init__(self, schedule):
        super().__init__()
        self.schedule = schedule if callable(schedule) else (lambda epoch: schedule)
        self.probability = tf.Variable(0.0, trainable=False, dtype=tf.float32, name="scheduled_sampling")

    def _probability_at(self, epoch):
        value = float(self.schedule(epoch))
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"Scheduled sampling probability must be in [0, 1]. Received: {value} at epoch {epoch}")
        return value

    def set_model(self, model):
        if not hasattr(model, "set_train_batch_transform"):
            raise ValueError(f"ScheduledSampling needs an s2s_keras Seq2SeqModel. Received: {type(model).__name__}")
        super().set_model(model)
        self.probability.assign(self._probability_at(0))
        probability = self.probability
        model.set_train_batch_transform(lambda m, batch: mix_predictions(m, batch, probability))

    def on_epoch_begin(self, epoch, logs=None):
        self.probability.assign(self._probability_at(epoch))

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["scheduled_sampling"] = float(self.probability.numpy())

    def on_train_end(self, logs=None):
        self.model.set_train_batch_transform(None)
