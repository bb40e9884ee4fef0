"""Log-probability processing shared by every search strategy."""

import tensorflow as tf

from s2s_keras.data.special_ids import DEFAULT_SPECIAL_IDS

# A finite stand-in for log(0): keeps arithmetic free of inf - inf = nan.
NEG_INF = -1e9


def check_stop_ids(stop_ids):
    """`stop_ids` as a sorted tuple of ids >= 0: tokens that end a hypothesis as the end id does."""
    stop_ids = tuple(sorted(set(stop_ids or ())))
    if any(not isinstance(i, int) or isinstance(i, bool) or i < 0 for i in stop_ids):
        raise ValueError(f"`stop_ids` must be integers >= 0. Received: stop_ids={stop_ids!r}")
    return stop_ids


def ending_ids(special_ids, stop_ids=()):
    """The ids that end a hypothesis: the end id and `stop_ids`, as a sorted tuple."""
    return tuple(sorted({special_ids.end, *stop_ids}))


def is_any_of(tokens, ids):
    """bool, shaped as `tokens`: whether each token is one of the Python ints `ids`."""
    return tf.reduce_any(tf.equal(tokens[..., tf.newaxis], tf.constant(ids, tokens.dtype)), axis=-1)


def next_token_log_probs(logits, step, first_end=0, special_ids=DEFAULT_SPECIAL_IDS, stop_ids=()):
    """Log-probabilities of the next token with impossible tokens blocked.

    The padding and start ids are never produced, and the ending ids (the
    end id and `stop_ids`) are blocked before position `first_end`. Blocking happens on the logits, so the remaining tokens'
    probabilities sum to 1.

    Args:
        logits: `(rows, vocab)` scores from `decode_step`.
        step: the current position (scalar; tokens produced so far).
        first_end: the ending ids are allowed from this position on (a
            search's `min_length - 1`: its hypotheses then have at least
            `min_length` tokens, the ending one included).
        special_ids: the target vocabulary's `SpecialIds`.
        stop_ids: more ids that end a hypothesis.

    Returns:
        float32 `(rows, vocab)` log-probabilities (blocked entries at `NEG_INF`).
    """
    logits = tf.cast(logits, tf.float32)
    vocab_ids = tf.range(tf.shape(logits)[-1])  # (vocab,)
    blocked = is_any_of(vocab_ids, (special_ids.pad, special_ids.start))
    if first_end > 0:
        too_early = tf.logical_and(is_any_of(vocab_ids, ending_ids(special_ids, stop_ids)), step < first_end)
        blocked = tf.logical_or(blocked, too_early)
    return tf.nn.log_softmax(tf.where(blocked[tf.newaxis, :], NEG_INF, logits), axis=-1)


def prefix_lengths(prefix_ids, pad_id):
    """Tokens in each row of right-padded `prefix_ids` `(rows, width)`: int32 `(rows,)`."""
    return tf.reduce_sum(tf.cast(tf.not_equal(prefix_ids, pad_id), tf.int32), axis=1)


def force_prefix(log_probs, step, prefix_ids, lengths):
    """Rows still inside their forced prefix may produce only its token at `step`.

    The forced token keeps its own log-probability (a prefix is scored as the
    model scores it, as OpenNMT's target prefixes are); every other token of
    such a row is blocked.

    Args:
        log_probs: `(rows, vocab)`.
        step: the current position (scalar).
        prefix_ids: int32 `(rows, width)`, right-padded, `width` ≥ 1.
        lengths: int32 `(rows,)`, each row's prefix length.

    Returns:
        `log_probs` with the forced rows' other tokens at `NEG_INF`.
    """
    width = tf.shape(prefix_ids)[1]
    forced = tf.gather(prefix_ids, tf.minimum(step, width - 1), axis=1)  # (rows,)
    other = tf.not_equal(tf.range(tf.shape(log_probs)[-1])[tf.newaxis, :], forced[:, tf.newaxis])
    inside = (step < lengths)[:, tf.newaxis]  # (rows, 1)
    return tf.where(tf.logical_and(inside, other), NEG_INF, log_probs)


def keep_top_k(log_probs, k):
    """Blocks every token outside the `k` most probable of each row."""
    vocab = log_probs.shape[-1]
    if isinstance(k, int) and vocab is not None:
        kth_best = top_k_by_blocks(log_probs, min(k, vocab))[0][:, -1:]  # (rows, 1)
    else:
        kth_best = tf.math.top_k(log_probs, k=tf.minimum(k, tf.shape(log_probs)[-1])).values[:, -1:]
    return tf.where(log_probs < kth_best, NEG_INF, log_probs)


def keep_top_p(log_probs, p):
    """Nucleus filtering: keeps the smallest set of tokens whose probability reaches `p`.

    The most probable token is always kept.
    """
    sorted_log_probs = tf.sort(log_probs, axis=-1, direction="DESCENDING")
    cumulative = tf.cumsum(tf.exp(sorted_log_probs), axis=-1, exclusive=True)  # mass before each token
    kept = tf.cast(cumulative < p, tf.int32)
    count = tf.maximum(tf.reduce_sum(kept, axis=-1, keepdims=True), 1)  # (rows, 1)
    threshold = tf.gather(sorted_log_probs, count - 1, batch_dims=1)  # the least probable kept
    return tf.where(log_probs < threshold, NEG_INF, log_probs)


def top_k_by_blocks(values, k, block=50):
    """`tf.math.top_k(values, k)` over the last axis, found through the maxima of blocks of `block` entries.

    The `k` largest entries lie in the `k` blocks with the largest maxima, so
    one max-reduction over the whole axis and two `top_k` over small tensors
    replace a `top_k` over the whole axis, whose cost on CPU grows with k
    (3× that of `k=1` at k=4 over a 4,000-token vocabulary: docs/tuning.md).
    The same values and indices, ties included (the lower index first): the
    kept blocks are put back in order before the final `top_k`.

    Args:
        values: float `(..., n)`.
        k: how many to keep, at most `n`.
        block: entries per block; the axis is padded with -inf to a multiple of it.

    Returns:
        `(values, indices)` `(..., k)`, largest first, as `tf.math.top_k` returns them.
    """
    n = values.shape[-1]
    if n is None or n <= 2 * block or k >= n // block:
        return tf.math.top_k(values, k=k)
    blocks = -(-n // block)
    if blocks * block != n:
        padding = [[0, 0]] * (values.shape.rank - 1) + [[0, blocks * block - n]]
        values = tf.pad(values, padding, constant_values=-float("inf"))
    leading = tf.shape(values)[:-1]
    grouped = tf.reshape(values, tf.concat([leading, [blocks, block]], 0))  # (..., blocks, block)
    _, kept_blocks = tf.math.top_k(tf.reduce_max(grouped, axis=-1), k=k)  # (..., k)
    kept_blocks = tf.sort(kept_blocks, axis=-1)
    kept = tf.gather(grouped, kept_blocks, batch_dims=values.shape.rank - 1)  # (..., k, block)
    top_values, position = tf.math.top_k(tf.reshape(kept, tf.concat([leading, [k * block]], 0)), k=k)
    return top_values, tf.gather(kept_blocks, position // block, batch_dims=values.shape.rank - 1) * block + (
        position % block)
