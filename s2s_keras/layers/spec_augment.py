"""SpecAugment's frequency and time masking (Park et al. 2019), active only while training."""

import keras
import tensorflow as tf

from s2s_keras.checks import check_rate


@keras.saving.register_keras_serializable(package="s2s_keras")
class SpecAugment(keras.layers.Layer):
    """Zeroes random bands of frequency bins and of frames, while training only.

    Each utterance gets `freq_masks` bands of 0 to `freq_mask_width` bins and
    `time_masks` bands of 0 to `min(time_mask_width, time_mask_ratio * frames)`
    of its own frames, drawn independently. Zero is the mean of normalised
    features, so a masked band carries no information. Time warping is left out.

    Args:
        freq_masks: frequency bands per utterance.
        freq_mask_width: widest frequency band, in bins.
        time_masks: time bands per utterance.
        time_mask_width: widest time band, in frames.
        time_mask_ratio: widest time band as a share of the utterance's frames.
        seed: optional int seed of the layer's `SeedGenerator`.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: `(batch, frames, bins)` features.
        mask: optional bool `(batch, frames)`, False on padding.
        training: masks only when True.

    Returns:
        The features with the bands zeroed, same shape.

    Example:
    >>> import numpy as np
    >>> augment = SpecAugment(freq_masks=2, freq_mask_width=4, time_masks=2, time_mask_width=5, seed=0)
    >>> augment(np.ones((1, 50, 20), "float32"), training=True).shape
    TensorShape([1, 50, 20])
    """

    def __init__(self, freq_masks=2, freq_mask_width=8, time_masks=2, time_mask_width=20, time_mask_ratio=0.1,
                 seed=None, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("freq_masks", freq_masks), ("freq_mask_width", freq_mask_width),
                            ("time_masks", time_masks), ("time_mask_width", time_mask_width)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"`{name}` must be an integer >= 0. Received: {name}={value!r}")
        self.freq_masks, self.freq_mask_width = freq_masks, freq_mask_width
        self.time_masks, self.time_mask_width = time_masks, time_mask_width
        self.time_mask_ratio = check_rate("time_mask_ratio", time_mask_ratio)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True
        self.built = True

    def call(self, inputs, mask=None, training=None):
        if not training or (self.freq_masks == 0 and self.time_masks == 0):
            return inputs
        shape = tf.shape(inputs)
        batch, frames, bins = shape[0], shape[1], shape[2]
        if mask is None:
            lengths = tf.fill([batch], frames)
        else:
            lengths = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)  # (batch,)
        keep = tf.ones_like(inputs, dtype=tf.bool)
        bin_positions = tf.range(bins)[tf.newaxis, tf.newaxis, :]  # (1, 1, bins)
        frame_positions = tf.range(frames)[tf.newaxis, :, tf.newaxis]  # (1, frames, 1)
        for _ in range(self.freq_masks):
            band = self._band(tf.fill([batch], tf.minimum(self.freq_mask_width, bins)), tf.fill([batch], bins))
            keep &= ~_inside(bin_positions, *band)
        widest = tf.cast(tf.cast(lengths, tf.float32) * self.time_mask_ratio, tf.int32)
        for _ in range(self.time_masks):
            band = self._band(tf.minimum(self.time_mask_width, widest), lengths)
            keep &= ~_inside(frame_positions, *band)
        return tf.where(keep, inputs, tf.zeros_like(inputs))

    def _band(self, widest, extent):
        """A random `(start, width)` `(batch, 1, 1)` each: width in [0, widest], the band inside [0, extent)."""
        seed = tf.cast(self.seed_generator.next(), tf.int32)
        draws = tf.random.stateless_uniform([2, tf.shape(widest)[0]], seed=seed)  # (2, batch)
        width = tf.cast(draws[0] * tf.cast(widest + 1, tf.float32), tf.int32)
        start = tf.cast(draws[1] * tf.cast(tf.maximum(extent - width, 0) + 1, tf.float32), tf.int32)
        return start[:, tf.newaxis, tf.newaxis], width[:, tf.newaxis, tf.newaxis]

    def compute_output_shape(self, inputs_shape):
        return inputs_shape

    def get_config(self):
        return {**super().get_config(), "freq_masks": self.freq_masks, "freq_mask_width": self.freq_mask_width,
                "time_masks": self.time_masks, "time_mask_width": self.time_mask_width,
                "time_mask_ratio": self.time_mask_ratio, "seed": self.seed}


def _inside(positions, start, width):
    return (positions >= start) & (positions < start + width)
