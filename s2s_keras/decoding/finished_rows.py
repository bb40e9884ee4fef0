"""Dropping the sources whose search is over from a search loop, so that they stop costing model steps.

A search keeps decoding a batch until its last source is done. Sorted by length, the sources of a batch
still end at different steps (on Tatoeba the batch's longest output is 1.5× its mean), and every step ran
the model on all of them. When the loop's shapes may change (`static_shapes=False`), a search writes the
outputs of the sources it has finished into their rows of the whole batch (`write_rows`) and goes on with
the others only: each source's output is the same (a source decodes the same in any batch), and the model
steps cost what is left.
"""

import tensorflow as tf


def keep_static_shapes(new, old):
    """Gives loop variables back the static shapes they entered the loop with (traced loops only: eagerly,
    a growing cache really changes shape)."""
    if tf.executing_eagerly():
        return new

    def restore(n, o):
        n.set_shape(o.shape)
        return n

    return tf.nest.map_structure(restore, new, old)


def with_unknown_batch(tree):
    """`tf.while_loop` shape invariants for `tree`: each tensor's shape with its first axis unknown."""
    return tf.nest.map_structure(lambda t: tf.TensorShape([None]).concatenate(t.shape[1:]), tree)


def take_rows(tree, rows):
    """Every tensor of `tree` at the rows `rows` `(kept,)` of its first axis."""
    return tf.nest.map_structure(lambda t: tf.gather(t, rows, axis=0), tree)


def beam_rows(rows, beam_size):
    """The flat rows `(kept * beam,)` of the sources `rows` `(kept,)` when each has `beam_size` adjacent rows."""
    return tf.reshape(rows[:, tf.newaxis] * beam_size + tf.range(beam_size), [-1])


def write_rows(outputs, done, index, values):
    """`outputs` with the sources `done` written from `values` at their rows of the whole batch.

    Args:
        outputs: per-source tensors of the whole batch `(batch, ...)`.
        done: bool `(active,)`, the active sources to record.
        index: int32 `(active,)`, each active source's row in the whole batch.
        values: the active sources' tensors `(active, ...)`, the structure of `outputs`.

    Returns:
        `outputs` with rows `index[done]` replaced.
    """
    rows = tf.boolean_mask(index, done)[:, tf.newaxis]  # (done, 1)

    def write(whole, active):
        if 0 in whole.shape[1:]:  # nothing to write (e.g. alignments that were not asked for)
            return whole
        return tf.tensor_scatter_nd_update(whole, rows, tf.boolean_mask(active, done))

    return tf.nest.map_structure(write, outputs, values)


def run_search_loop(condition, body, carried, outputs, drop_finished, active_of):
    """Runs a search's `tf.while_loop` over `(step, carried, outputs)`; returns every source's hypotheses.

    Args:
        condition, body: the loop's functions of `(step, carried, outputs)`.
        carried: what the loop carries per active source (or row), batch first.
        outputs: the dropped sources' hypotheses in their batch rows (`write_rows`); `{}` when
            `drop_finished` is False.
        drop_finished: whether sources leave the loop (its first axes then have no static size).
        active_of: `carried -> (index, hypotheses)`, the active sources' batch rows and hypotheses.

    Returns:
        The hypotheses of the whole batch, in batch order.
    """
    invariants = None
    if drop_finished:
        invariants = (tf.TensorShape([]), with_unknown_batch(carried),
                      tf.nest.map_structure(lambda t: t.shape, outputs))
    _, carried, outputs = tf.while_loop(condition, body, (tf.constant(0), carried, outputs),
                                        shape_invariants=invariants)
    index, hypotheses = active_of(carried)
    if not drop_finished:
        return hypotheses
    return write_rows(outputs, tf.ones_like(index, tf.bool), index, hypotheses)  # those decoded to max_length
