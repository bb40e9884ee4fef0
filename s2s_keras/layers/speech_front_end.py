"""Log-mel features of zero-padded waveforms, computed in the graph, with their frame mask."""

import keras
import tensorflow as tf

from s2s_keras.checks import check_positive_int
from s2s_keras.layers.spec_augment import SpecAugment


def waveform_lengths(waveforms):
    """Samples up to each row's last non-zero sample: `(batch,)` int32.

    Waveforms are zero-padded on the right, so exact zeros after the last
    non-zero sample count as padding (digital silence at the end of a
    recording is dropped with them, which changes nothing audible).
    """
    positions = tf.range(1, tf.shape(waveforms)[1] + 1)  # (samples,)
    return tf.reduce_max(tf.where(tf.not_equal(waveforms, 0.0), positions[tf.newaxis], 0), axis=1)


def valid_frames(lengths, frame_length, frame_step):
    """Frames lying wholly inside `lengths` samples, at least one: `(batch,)` int32."""
    return tf.maximum(1, 1 + tf.math.floordiv(lengths - frame_length, frame_step))


@keras.saving.register_keras_serializable(package="s2s_keras")
class SpeechFrontEnd(keras.layers.Layer):
    """Waveforms to normalised log-mel frames and their mask, with SpecAugment while training.

    Frames are `frame_length` seconds long, every `frame_step` seconds, and
    not centred: a frame exists only where it lies wholly inside the
    utterance, so a zero-padded batch gives each utterance exactly the
    features it gets alone (`keras.layers.MelSpectrogram` centres its frames
    and clips decibels against the whole batch's maximum, which a padded batch
    changes). Each mel bin is normalised to zero mean and unit variance over
    the utterance's frames (per-utterance CMVN); padded frames are zero.
    While training, `SpecAugment` masks bands of frequency and time.
    Computed in float32 under any dtype policy.

    Args:
        sample_rate: samples per second of the waveforms.
        num_mel_bins: features per frame.
        frame_length: window length in seconds (0.025).
        frame_step: hop between frames in seconds (0.010).
        min_freq, max_freq: the mel filters' range in Hz (max: half the rate).
        freq_masks, freq_mask_width, time_masks, time_mask_width,
            time_mask_ratio: see `SpecAugment` (0 masks: off).
        seed: SpecAugment's seed.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: float `(batch, samples)`, zero-padded on the right.
        training: whether SpecAugment is active.

    Returns:
        `(features, mask)`: float32 `(batch, frames, num_mel_bins)` and bool
        `(batch, frames)`, False on padding (every row has at least one frame).

    Example:
    >>> import numpy as np
    >>> front_end = SpeechFrontEnd(sample_rate=8000, num_mel_bins=20)
    >>> features, mask = front_end(np.random.default_rng(0).normal(size=(2, 8000)).astype("float32"))
    >>> features.shape, int(mask.numpy()[0].sum())
    (TensorShape([2, 98, 20]), 98)
    """

    def __init__(self, sample_rate=8000, num_mel_bins=40, frame_length=0.025, frame_step=0.010, min_freq=20.0,
                 max_freq=None, freq_masks=0, freq_mask_width=8, time_masks=0, time_mask_width=20,
                 time_mask_ratio=0.1, seed=None, **kwargs):
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        self.sample_rate = check_positive_int("sample_rate", sample_rate)
        self.num_mel_bins = check_positive_int("num_mel_bins", num_mel_bins)
        self.frame_length = float(frame_length)
        self.frame_step = float(frame_step)
        self.frame_samples = check_positive_int("frame_length * sample_rate", int(round(frame_length * sample_rate)))
        self.step_samples = check_positive_int("frame_step * sample_rate", int(round(frame_step * sample_rate)))
        self.fft_length = 1 << (self.frame_samples - 1).bit_length()  # the next power of two
        self.min_freq = float(min_freq)
        self.max_freq = float(sample_rate / 2 if max_freq is None else max_freq)
        if not 0.0 <= self.min_freq < self.max_freq <= sample_rate / 2:
            raise ValueError(f"Need 0 <= min_freq < max_freq <= sample_rate / 2. Received: min_freq={min_freq}, "
                             f"max_freq={max_freq}, sample_rate={sample_rate}")
        self.spec_augment = SpecAugment(freq_masks=freq_masks, freq_mask_width=freq_mask_width, time_masks=time_masks,
                                        time_mask_width=time_mask_width, time_mask_ratio=time_mask_ratio, seed=seed,
                                        dtype="float32", name="spec_augment")
        self._mel_matrix = tf.signal.linear_to_mel_weight_matrix(
            self.num_mel_bins, self.fft_length // 2 + 1, self.sample_rate, self.min_freq, self.max_freq
        )  # (fft_length // 2 + 1, num_mel_bins)
        self.built = True

    def call(self, inputs, training=None):
        waveforms = tf.cast(inputs, tf.float32)  # (batch, samples)
        lengths = waveform_lengths(waveforms)  # (batch,)
        short = tf.maximum(0, self.frame_samples - tf.shape(waveforms)[1])
        waveforms = tf.pad(waveforms, [[0, 0], [0, short]])  # at least one frame
        spectrum = tf.signal.stft(waveforms, self.frame_samples, self.step_samples, self.fft_length)
        power = tf.math.square(tf.math.abs(spectrum))  # (batch, frames, fft_length // 2 + 1)
        features = tf.math.log(tf.tensordot(power, self._mel_matrix, 1) + 1e-6)  # (batch, frames, mel)
        frames = valid_frames(lengths, self.frame_samples, self.step_samples)  # (batch,)
        mask = tf.sequence_mask(frames, tf.shape(features)[1])  # (batch, frames)
        weights = tf.cast(mask, tf.float32)[:, :, tf.newaxis]
        count = tf.cast(frames, tf.float32)[:, tf.newaxis, tf.newaxis]
        mean = tf.reduce_sum(features * weights, axis=1, keepdims=True) / count  # (batch, 1, mel)
        variance = tf.reduce_sum(tf.math.square(features - mean) * weights, axis=1, keepdims=True) / count
        features = (features - mean) * tf.math.rsqrt(variance + 1e-5) * weights
        return self.spec_augment(features, mask=mask, training=training), mask

    def compute_mask(self, inputs, mask=None):
        return None

    def frames(self, num_samples):
        """How many frames `num_samples` samples give (at least one)."""
        return max(1, 1 + (num_samples - self.frame_samples) // self.step_samples)

    def get_config(self):
        augment = self.spec_augment.get_config()
        return {**super().get_config(), "sample_rate": self.sample_rate, "num_mel_bins": self.num_mel_bins,
                "frame_length": self.frame_length, "frame_step": self.frame_step, "min_freq": self.min_freq,
                "max_freq": self.max_freq, "seed": augment["seed"],
                **{key: augment[key] for key in ("freq_masks", "freq_mask_width", "time_masks", "time_mask_width",
                                                 "time_mask_ratio")}}
