"""A data order that is a function of the epoch, so a resumed run sees the same batches.

`tf.data`'s `shuffle(reshuffle_each_iteration=True)` draws each pass's order
from how many passes were made before in this process: a run restarted at
epoch 3 would see epoch 0's order again. With an `EpochOrder`, the order of
pass `e` is drawn from `(seed, e)` alone, and the first `skip_batches` batches
of a pass can be skipped, so a run resumed in the middle of an epoch continues
with exactly the batches it had not trained on yet.

Both are `tf.Variable`s read when a pass starts (when Keras calls `iter` on
the dataset at the beginning of an epoch); `ResumableBackup` sets them.
"""

import tensorflow as tf

SEED_STRIDE = 1_000_003  # a prime: seed * stride + epoch never collides for epochs < stride


class EpochOrder:
    """The epoch and the batches to skip, read by a dataset at the start of each pass.

    Args:
        seed: the run's seed.

    Example:
    >>> order = EpochOrder(seed=0)
    >>> ds = make_dataset(pairs, src_tok, tgt_tok, tokens_per_batch=4096, seed=0, order=order)  # doctest: +SKIP
    >>> order.start(epoch=3, skip_batches=120)  # the next pass is epoch 3's, without its first 120 batches
    """

    def __init__(self, seed=0):
        self.seed = int(seed)
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="data_epoch")
        self.skip_batches = tf.Variable(0, dtype=tf.int64, trainable=False, name="data_skip_batches")

    def start(self, epoch, skip_batches=0):
        """Makes the next pass epoch `epoch`'s order, minus its first `skip_batches` batches."""
        if epoch < 0 or skip_batches < 0:
            raise ValueError(f"`epoch` and `skip_batches` must be >= 0. Received: {epoch}, {skip_batches}")
        self.epoch.assign(epoch)
        self.skip_batches.assign(skip_batches)

    def shuffle_seed(self):
        """The shuffle seed of the current epoch, a scalar int64 tensor."""
        return tf.constant(self.seed * SEED_STRIDE, tf.int64) + self.epoch.read_value()

    def apply(self, pairs, make_batches, shuffle=True, shuffle_buffer_size=100_000, batch_shuffle_buffer_size=0):
        """`make_batches(pairs shuffled for the current epoch)` without the skipped batches.

        Args:
            pairs: a dataset of single pairs.
            make_batches: `(pairs dataset) -> batches dataset`.
            shuffle: shuffle the pairs (else only skip).
            shuffle_buffer_size: pairs in the shuffle buffer.
            batch_shuffle_buffer_size: with `shuffle`, batches in a second
                shuffle buffer after `make_batches` (0: none).

        Returns:
            A dataset whose every pass reads `epoch` and `skip_batches` when it starts.
        """
        def one_pass(_):
            # tf.data compares (global seed, op seed) with (0, 0) in Python, which fails for a tensor
            # op seed when the global seed is 0. The order depends on the op seed alone here anyway.
            tf.compat.v1.get_default_graph().seed = None
            ordered = pairs
            if shuffle:
                ordered = pairs.shuffle(shuffle_buffer_size, seed=self.shuffle_seed(), reshuffle_each_iteration=False)
            batches = make_batches(ordered)
            if shuffle and batch_shuffle_buffer_size:
                batches = batches.shuffle(batch_shuffle_buffer_size, seed=2 * self.shuffle_seed() + 1,
                                          reshuffle_each_iteration=False)
            return batches.skip(self.skip_batches.read_value())

        return tf.data.Dataset.range(1).flat_map(one_pass)
