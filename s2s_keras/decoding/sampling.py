"""Random sampling with temperature, top-k and nucleus (top-p) filtering, in-graph."""

import tensorflow as tf

from s2s_keras.checks import check_positive_int
from s2s_keras.decoding.logits import keep_top_k, keep_top_p
from s2s_keras.decoding.result import DecodeResult
from s2s_keras.decoding.source import as_source
from s2s_keras.decoding.token_search import TokenSearch


def _mix32(x):
    """The "lowbias32" integer hash (Chris Wellons): a bijection on uint32 with good avalanche."""
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, 16))
    x = x * tf.constant(0x7FEB352D, tf.uint32)
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, 15))
    x = x * tf.constant(0x846CA68B, tf.uint32)
    return tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, 16))


def hashed_uniform(seed, step, shape):
    """Uniform numbers in (0, 1) of `shape` (rows, vocab), a pure function of (seed, step, position).

    Integer hashing gives identical numbers eagerly, in graphs and under XLA.
    """
    rows, vocab = shape[0], shape[1]
    index = tf.range(rows * vocab, dtype=tf.int32)
    key = _mix32(tf.cast(seed, tf.uint32) + _mix32(tf.cast(step, tf.uint32) + tf.constant(0x9E3779B9, tf.uint32)))
    bits = _mix32(tf.cast(index, tf.uint32) + key)
    uniform = (tf.cast(tf.bitwise.right_shift(bits, 8), tf.float32) + 0.5) / 16777216.0  # 24 bits
    return tf.reshape(uniform, [rows, vocab])


class Sampling(TokenSearch):
    """Draws each next token from the model's (filtered, tempered) distribution.

    Draws are Gumbel-max over counter-based uniform numbers keyed by
    `(seed, step, row, token)` (`hashed_uniform`), so a seeded `Sampling`
    gives the same output on every call, eagerly, under `tf.function` and
    with XLA alike (TensorFlow's own stateless samplers differ under XLA).
    With `seed=None` every call draws a new seed.

    Args:
        temperature: divides the log-probabilities (> 0); below 1 sharpens.
        top_k: sample only among the k most probable tokens (None: all).
        top_p: sample only among the most probable tokens whose mass reaches p.
        seed: integer seed for reproducible draws, or None.
        max_length: most tokens per row, the ending token included.
        min_length: fewest tokens per hypothesis, counted as `max_length` is (the
            ending token included): the end id and stop ids are blocked before.
        stop_ids: more ids that end a row as the end id does.
        num_return_sequences: independent draws per source, returned as its
            `n_best` hypotheses sorted by score (best first).
        alignment_history: see `TokenSearch`.

    Call arguments and returns: see `TokenSearch` (scores are the sum of the
    drawn tokens' unfiltered log-probabilities).

    Example:
    >>> search = Sampling(temperature=0.8, top_k=40, seed=7, max_length=30)
    >>> result = decode(model, source_ids, search)  # doctest: +SKIP
    """

    rows_decode_alike_anywhere = False  # a row's draws are keyed by its place in the batch

    def __init__(self, temperature=1.0, top_k=None, top_p=None, seed=None, max_length=50, min_length=0,
                 stop_ids=(), num_return_sequences=1, alignment_history=False):
        super().__init__(max_length=max_length, min_length=min_length, stop_ids=stop_ids,
                         alignment_history=alignment_history)
        if not float(temperature) > 0.0:
            raise ValueError(f"`temperature` must be > 0. Received: temperature={temperature!r}")
        check_positive_int("top_k", top_k, allow_none=True)
        if top_p is not None and not 0.0 < float(top_p) <= 1.0:
            raise ValueError(f"`top_p` must be in (0, 1] or None. Received: top_p={top_p!r}")
        self.temperature = float(temperature)
        self.top_k = top_k
        self.top_p = None if top_p is None else float(top_p)
        self.seed = seed
        self.num_return_sequences = check_positive_int("num_return_sequences", num_return_sequences)

    def get_config(self):
        return {"temperature": self.temperature, "top_k": self.top_k, "top_p": self.top_p, "seed": self.seed,
                **super().get_config(), "num_return_sequences": self.num_return_sequences}

    def __call__(self, encode, initial_state, decode_step, source_ids, **kwargs):
        draws = self.num_return_sequences
        if draws == 1:
            return super().__call__(encode, initial_state, decode_step, source_ids, **kwargs)
        source_ids = as_source(source_ids)
        batch_size = tf.shape(source_ids)[0]
        # Each source `draws` times, adjacent: the uniform numbers are keyed by row, so every copy draws anew.
        if kwargs.get("prefix_ids") is not None:
            kwargs["prefix_ids"] = tf.repeat(tf.convert_to_tensor(kwargs["prefix_ids"], tf.int32), draws, axis=0)
        flat = super().__call__(encode, initial_state, decode_step, tf.repeat(source_ids, draws, axis=0), **kwargs)
        grouped = DecodeResult(*[tf.reshape(t, tf.concat([[batch_size, draws], tf.shape(t)[2:]], 0)) for t in flat])
        order = tf.argsort(grouped.scores, axis=1, direction="DESCENDING", stable=True)  # (batch, draws)
        return DecodeResult(*[tf.gather(t, order, batch_dims=1) for t in grouped])

    def call_seed(self):
        if self.seed is not None:
            return tf.constant(self.seed, tf.int32)
        return tf.random.uniform([], maxval=2**31 - 1, dtype=tf.int32)

    def pick(self, log_probs, step, seed):
        filtered = log_probs / self.temperature
        if self.top_k is not None:
            filtered = keep_top_k(filtered, self.top_k)
        if self.top_p is not None:
            filtered = keep_top_p(tf.nn.log_softmax(filtered, axis=-1), self.top_p)
        uniform = hashed_uniform(seed, step, tf.shape(filtered))  # (batch, vocab) in (0, 1)
        gumbel = -tf.math.log(-tf.math.log(uniform))
        return tf.argmax(filtered + gumbel, axis=-1, output_type=tf.int32)
