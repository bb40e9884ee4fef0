"""What a search reads of the source: its tensor and the positions the attention may read."""

import tensorflow as tf


def as_source(source):
    """Source ids as int32 `(batch, src_len)`, or float sources (waveforms, frames) as float32."""
    source = tf.convert_to_tensor(source)
    return tf.cast(source, tf.int32) if source.dtype.is_integer else tf.cast(source, tf.float32)


def attended_mask(memory, source, source_pad_id):
    """bool `(batch, src_len)`: the positions the decoder's attention reads.

    The model's memory carries it as `mask` (a speech model's encoder
    subsamples its frames, so it is not the source's shape); otherwise it is
    `source != source_pad_id`, with `source` a tensor or a function giving it.
    """
    if isinstance(memory, dict) and "mask" in memory:
        return tf.cast(memory["mask"], tf.bool)
    return tf.not_equal(source() if callable(source) else source, source_pad_id)
