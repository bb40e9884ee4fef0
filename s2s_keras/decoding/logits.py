"""Log-probability processing shared by every search strategy."""

import tensorflow as tf

from s2s_keras.data.tokens import END_ID, PAD_ID, START_ID

# A finite stand-in for log(0): keeps arithmetic free of inf - inf = nan.
NEG_INF = -1e9


def next_token_log_probs(logits, step, min_length=0):
    """Log-probabilities of the next token with impossible tokens blocked.

    `[PAD]` and `[START]` are never produced, and `[END]` is blocked while
    fewer than `min_length` tokens precede it. Blocking happens on the logits,
    so the remaining tokens' probabilities sum to 1.

    Args:
        logits: `(rows, vocab)` scores from `decode_step`.
        step: the current position (scalar; tokens produced so far).
        min_length: `[END]` is allowed from this position on.

    Returns:
        float32 `(rows, vocab)` log-probabilities (blocked entries at `NEG_INF`).
    """
    logits = tf.cast(logits, tf.float32)
    vocab = tf.shape(logits)[-1]
    blocked = tf.one_hot(PAD_ID, vocab, on_value=True, off_value=False)
    blocked = tf.logical_or(blocked, tf.one_hot(START_ID, vocab, on_value=True, off_value=False))
    if min_length > 0:
        too_early = tf.logical_and(tf.one_hot(END_ID, vocab, on_value=True, off_value=False), step < min_length)
        blocked = tf.logical_or(blocked, too_early)
    return tf.nn.log_softmax(tf.where(blocked[tf.newaxis, :], NEG_INF, logits), axis=-1)


def keep_top_k(log_probs, k):
    """Blocks every token outside the `k` most probable of each row."""
    k = tf.minimum(k, tf.shape(log_probs)[-1])
    kth_best = tf.math.top_k(log_probs, k=k).values[:, -1:]  # (rows, 1)
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
