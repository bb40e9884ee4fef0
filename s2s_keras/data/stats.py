"""Counts of what a pipeline skipped, dropped or truncated: never silent.

`make_dataset` counts, in `tf.Variable`s updated in-graph as batches flow:
pairs read, pairs skipped because a side was empty, pairs dropped or
truncated because a side was too long. The counters describe one pass over
the data: they keep their values after the pass ends (read them then) and
restart when the next pass begins. At the end of each pass where anything
was skipped, dropped or truncated, one line is printed to stderr.

The end of a pass is marked by an empty batch appended to the stream of
token batches (a real batch is never empty); the counting steps pass it
through unchanged and `report_counts` prints when it arrives.
"""

import sys

import tensorflow as tf

COUNTERS = ("pairs_read", "empty_skipped", "too_long_dropped", "truncated", "passes")


class PipelineStats(tf.Module):
    """What one pass of a `make_dataset` pipeline read, skipped, dropped and truncated.

    Attributes:
        pairs_read: int64 variable, pairs that entered the pipeline this pass.
        empty_skipped: pairs skipped because the source or target had no tokens.
        too_long_dropped: pairs dropped for exceeding `max_length` ("drop" policy).
        truncated: pairs cut to `max_length` ("truncate" policy).
        passes: completed passes over the data.

    Example:
    >>> stats = PipelineStats()
    >>> ds = make_dataset(pairs, src_tok, tgt_tok, batch_size=32, stats=stats)  # doctest: +SKIP
    >>> for batch in ds: pass  # doctest: +SKIP
    >>> stats.as_dict()  # doctest: +SKIP
    {'pairs_read': 1000, 'empty_skipped': 2, 'too_long_dropped': 5, 'truncated': 0, 'passes': 1, 'pairs_kept': 993}
    """

    def __init__(self, name=None):
        super().__init__(name=name)
        for counter in COUNTERS:
            setattr(self, counter, tf.Variable(0, dtype=tf.int64, trainable=False, name=counter))
        self._pass_ended = tf.Variable(False, trainable=False, name="pass_ended")

    @property
    def pairs_kept(self):
        """Pairs that reached the batches this pass (read - skipped - dropped)."""
        return int(self.pairs_read) - int(self.empty_skipped) - int(self.too_long_dropped)

    def as_dict(self):
        """The counters as Python ints, with `pairs_kept`."""
        return {**{c: int(getattr(self, c).numpy()) for c in COUNTERS}, "pairs_kept": self.pairs_kept}

    def reset(self):
        """Sets every counter to 0."""
        for counter in COUNTERS:
            getattr(self, counter).assign(0)
        self._pass_ended.assign(False)

    def __repr__(self):
        return f"PipelineStats({', '.join(f'{k}={v}' for k, v in self.as_dict().items())})"

    # --- in-graph updates, called by the pipeline's steps ---------------------------------------

    def begin_batch(self, num_pairs):
        """Counts `num_pairs` read; zeroes the counters first if a pass has just ended."""
        def restart():
            updates = [getattr(self, c).assign(0) for c in COUNTERS if c != "passes"]
            with tf.control_dependencies(updates):
                return self._pass_ended.assign(False).read_value()

        new_pass = tf.logical_and(self._pass_ended, num_pairs > 0)
        restarted = tf.cond(new_pass, restart, lambda: tf.constant(False))
        with tf.control_dependencies([restarted]):
            return self.pairs_read.assign_add(tf.cast(num_pairs, tf.int64))

    def add(self, counter, count):
        """Adds `count` to the counter named `counter`; returns the update op."""
        return getattr(self, counter).assign_add(tf.cast(count, tf.int64))

    def end_pass(self, description, log=True):
        """Marks the end of a pass and prints one line if anything was skipped, dropped or truncated."""
        def report():
            return tf.print(
                "s2s_keras.data:", description, "pass", self.passes + 1, "-", self.pairs_read, "pairs read,",
                self.empty_skipped, "skipped (empty side),", self.too_long_dropped, "dropped (too long),",
                self.truncated, "truncated.", output_stream=sys.stderr,
            )

        anything = (self.empty_skipped + self.too_long_dropped + self.truncated) > 0
        printed = tf.cond(tf.logical_and(anything, log), lambda: _with_value(report()), lambda: tf.constant(True))
        with tf.control_dependencies([printed]):
            ended = self._pass_ended.assign(True)
            with tf.control_dependencies([ended]):
                return self.passes.assign_add(1)


def _with_value(op):
    with tf.control_dependencies([op]):
        return tf.constant(True)
