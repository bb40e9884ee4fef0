"""`decode`: runs a search strategy on a model's inference functions."""

from s2s_keras.data.special_ids import model_special_ids


def decode(model, source_ids, search, static_shapes=True, prefix_ids=None):
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

    Returns:
        A `DecodeResult`.

    Example:
    >>> result = decode(model, source_ids, GreedySearch(max_length=20))  # doctest: +SKIP
    >>> result.ids.shape  # (batch, 1, 20)  # doctest: +SKIP
    """
    source_special, target_special = model_special_ids(model)
    extra = {} if prefix_ids is None else {"prefix_ids": prefix_ids}
    return search(model.encode, model.initial_state, model.decode_step, source_ids,
                  source_pad_id=source_special.pad, target_special_ids=target_special, static_shapes=static_shapes,
                  **extra)
