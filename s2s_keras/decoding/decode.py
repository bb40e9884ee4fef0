"""`decode`: runs a search strategy on a model's inference functions."""

import tensorflow as tf

from s2s_keras.checks import check_positive_int
from s2s_keras.data.special_ids import model_special_ids


def decode(model, source_ids, search, static_shapes=True, prefix_ids=None, parallel_loops=1):
    """Decodes `source_ids` `(batch, src_len)` with `model`'s inference functions.

    Args:
        model: anything with `encode`, `initial_state` and `decode_step`
            (every registered model).
        source_ids: int32 `(batch, src_len)`, padded with the source padding id;
            for a speech model, float32 waveforms `(batch, samples)`, zero-padded.
        search: a search strategy, e.g. `GreedySearch(max_length=50)`; it
            gets the model's special ids (`source_special_ids`,
            `target_special_ids`; ids 0-3 for a model without them).
        static_shapes: keep every loop tensor's shape fixed (XLA needs it);
            False lets a Transformer's caches grow and finished sources leave
            the loop, which is faster (the same result).
        prefix_ids: optional int32 `(batch, width)` target ids each output
            must start with, right-padded with the target padding id.
        parallel_loops: split the batch into this many parts, each searched
            by its own loop in the same graph, so that TensorFlow runs them
            side by side on its inter-op threads (with one thread per op,
            `cpu_threads.use_intra_op_threads(1)`, about 1.5× the beam-search
            throughput on 2 cores: docs/benchmarks.md). The same result: only
            for `static_shapes=False` and a search whose rows decode alike in
            any batch (beam and greedy search; sampling keeps one loop).

    Returns:
        A `DecodeResult`.

    Example:
    >>> result = decode(model, source_ids, GreedySearch(max_length=20))  # doctest: +SKIP
    >>> result.ids.shape  # (batch, 1, 20)  # doctest: +SKIP
    """
    check_positive_int("parallel_loops", parallel_loops)
    source_special, target_special = model_special_ids(model)

    def run(source_ids, prefix_ids):
        extra = {} if prefix_ids is None else {"prefix_ids": prefix_ids}
        return search(model.encode, model.initial_state, model.decode_step, source_ids,
                      source_pad_id=source_special.pad, target_special_ids=target_special,
                      static_shapes=static_shapes, **extra)

    if parallel_loops == 1 or static_shapes or not getattr(search, "rows_decode_alike_anywhere", False):
        return run(source_ids, prefix_ids)
    source_ids = tf.convert_to_tensor(source_ids)
    batch = tf.shape(source_ids)[0]
    cuts = [batch * part // parallel_loops for part in range(parallel_loops + 1)]  # contiguous parts, maybe empty
    prefix_ids = None if prefix_ids is None else tf.convert_to_tensor(prefix_ids)
    parts = [run(source_ids[start:end], None if prefix_ids is None else prefix_ids[start:end])
             for start, end in zip(cuts[:-1], cuts[1:])]
    return tf.nest.map_structure(lambda *tensors: tf.concat(tensors, axis=0), *parts)
