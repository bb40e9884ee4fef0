"""`decode`: runs a search strategy on a model's inference functions."""


def decode(model, source_ids, search):
    """Decodes `source_ids` `(batch, src_len)` with `model`'s inference functions.

    Args:
        model: anything with `encode`, `initial_state` and `decode_step`
            (every registered model).
        source_ids: int32 `(batch, src_len)`, padded with 0.
        search: a search strategy, e.g. `GreedySearch(max_length=50)`.

    Returns:
        A `DecodeResult`.

    Example:
    >>> result = decode(model, source_ids, GreedySearch(max_length=20))  # doctest: +SKIP
    >>> result.ids.shape  # (batch, 1, 20)  # doctest: +SKIP
    """
    return search(model.encode, model.initial_state, model.decode_step, source_ids)
