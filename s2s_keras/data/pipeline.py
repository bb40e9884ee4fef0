"""tf.data pipelines from text pairs to the models' batches, as composable steps.

Each step is a function returning a `dataset -> dataset` transformation, used
with `dataset.apply(step)` (as in OpenNMT-tf's `opennmt/data/dataset.py`).
`make_dataset` chains them:

    (source, target) strings
    -> tokenize_pairs          ragged id batches, tokenized in-graph batch by batch
    -> [cache]
    -> count_pairs             counts pairs read; appends the end-of-pass marker
    -> skip_empty              a pair with an empty side is skipped, counted
    -> limit_length            over-long pairs dropped or truncated, counted
    -> report_counts           one stderr line per pass when anything was lost
    -> add_start_end           target -> [START] target [END] (the target tokenizer's ids)
    -> unbatch_pairs -> [shuffle]    (per epoch from (seed, epoch) with an `EpochOrder`)
    -> batch_by_length         length buckets, fixed batch size or token budget, padded with each side's pad id
    -> to_model_inputs         ({"source", "target_in"}, target_out)
    -> prefetch(AUTOTUNE)

Length policy: `max_length` counts tokens of a side without `[START]`/`[END]`;
`length_policy="drop"` (default) drops a pair if either side is longer,
`"truncate"` cuts the longer side(s) and keeps the pair. Either way the pairs
concerned are counted in `PipelineStats`.
"""

import math

import tensorflow as tf

from s2s_keras.checks import check_positive_int
from s2s_keras.data.sources import as_pair_dataset
from s2s_keras.data.stats import PipelineStats
from s2s_keras.data.special_ids import END_ID, PAD_ID, START_ID, special_ids_of

LENGTH_POLICIES = ("drop", "truncate")
TOKENIZE_BATCH_SIZE = 1024
SMALLEST_BUCKET = 8
BUCKET_GROWTH = 1.25
BATCH_SHUFFLE_PER_BUCKET = 4  # batches in the batch shuffle buffer per length bucket
MIN_BATCH_SHUFFLE_BUFFER = 16


# --- steps on ragged batches `(source (batch, None), target (batch, None))` ----------------------

def tokenize_pairs(source_tokenizer, target_tokenizer, batch_size=TOKENIZE_BATCH_SIZE):
    """Step: scalar string pairs -> ragged int32 id batches `((batch, None), (batch, None))`."""
    def tokenize(source, target):  # (batch,), (batch,)
        return source_tokenizer.tokenize(source), target_tokenizer.tokenize(target)

    return lambda dataset: dataset.batch(batch_size).map(tokenize, num_parallel_calls=tf.data.AUTOTUNE)


def _end_marker(element_spec):
    """A dataset of one empty batch with `element_spec` (the end-of-pass marker)."""
    def empty(spec, zero):
        splits = tf.zeros([zero + 1], spec.row_splits_dtype)  # no rows; `zero` keeps the row count dynamic
        return tf.RaggedTensor.from_row_splits(tf.zeros([0], spec.dtype), splits)

    return tf.data.Dataset.range(1).map(lambda i: tuple(empty(s, tf.cast(i, tf.int32)) for s in element_spec))


def count_pairs(stats):
    """Step: counts the pairs of each batch in `stats` and appends the end-of-pass marker."""
    def count(source, target):
        with tf.control_dependencies([stats.begin_batch(source.nrows())]):
            return tf.identity(source), tf.identity(target)

    return lambda dataset: dataset.concatenate(_end_marker(dataset.element_spec)).map(count)


def skip_empty(stats):
    """Step: removes pairs whose source or target has no tokens, counting them in `stats`."""
    def skip(source, target):
        keep = (source.row_lengths() > 0) & (target.row_lengths() > 0)  # (batch,)
        with tf.control_dependencies([stats.add("empty_skipped", tf.reduce_sum(tf.cast(~keep, tf.int64)))]):
            keep = tf.identity(keep)
        return tf.ragged.boolean_mask(source, keep), tf.ragged.boolean_mask(target, keep)

    return lambda dataset: dataset.map(skip)


def limit_length(max_source_length, max_target_length, policy, stats):
    """Step: drops or truncates pairs with a side longer than its maximum, counting them.

    Args:
        max_source_length, max_target_length: token limits (None: no limit).
        policy: "drop" or "truncate".
        stats: the `PipelineStats` counting `too_long_dropped` / `truncated`.
    """
    if policy not in LENGTH_POLICIES:
        raise ValueError(f"`length_policy` must be one of {LENGTH_POLICIES}. Received: length_policy={policy!r}")
    big = tf.int64.max

    def limit(source, target):
        max_source = big if max_source_length is None else max_source_length
        max_target = big if max_target_length is None else max_target_length
        too_long = (source.row_lengths() > max_source) | (target.row_lengths() > max_target)  # (batch,)
        counter = "too_long_dropped" if policy == "drop" else "truncated"
        with tf.control_dependencies([stats.add(counter, tf.reduce_sum(tf.cast(too_long, tf.int64)))]):
            too_long = tf.identity(too_long)
        if policy == "drop":
            return tf.ragged.boolean_mask(source, ~too_long), tf.ragged.boolean_mask(target, ~too_long)
        return source[:, :max_source_length], target[:, :max_target_length]

    return lambda dataset: dataset.map(limit)


def report_counts(stats, description="", log=True):
    """Step: at the end-of-pass marker, closes the pass in `stats` (and prints if pairs were lost)."""
    def report(source, target):
        ended = tf.cond(
            tf.equal(source.nrows(), 0),
            lambda: stats.end_pass(description, log) > -1,
            lambda: tf.constant(False),
        )
        with tf.control_dependencies([ended]):
            return tf.identity(source), tf.identity(target)

    return lambda dataset: dataset.map(report)


def add_start_end(start_id=START_ID, end_id=END_ID):
    """Step: `(source, target)` -> `(source, [START] target [END])`, a whole batch at once."""
    def add(source, target):  # (batch, None), (batch, None)
        batch = target.nrows()
        start, end = tf.fill([batch, 1], start_id), tf.fill([batch, 1], end_id)
        return source, tf.concat([start, target, end], axis=1)  # (batch, None + 2)

    return lambda dataset: dataset.map(add)


# --- steps on single pairs and padded batches ----------------------------------------------------

def unbatch_pairs():
    """Step: ragged batches -> single pairs of dense int32 vectors `(src_len,)`, `(tgt_len,)`.

    `unbatch` yields each row with a `RaggedTensorSpec` of ragged rank 0, which
    `padded_batch` and `bucket_by_sequence_length` refuse; a `map` hands its
    function such values as plain tensors, so mapping through `as_dense` turns
    the element spec into `TensorSpec`s.
    """
    def as_dense(source, target):  # (src_len,), (tgt_len,): already plain tensors in here
        return source, target

    return lambda dataset: dataset.unbatch().map(as_dense, num_parallel_calls=tf.data.AUTOTUNE)



def default_bucket_boundaries(max_length):
    """Bucket boundaries growing by 25% from 8 up to `max_length`: [8, 10, 13, 17, 22, ...]."""
    boundaries, boundary = [], SMALLEST_BUCKET
    while boundary <= max_length:
        boundaries.append(boundary)
        boundary = math.ceil(boundary * BUCKET_GROWTH)
    return boundaries


def width_bucket_boundaries(max_length, width):
    """Bucket boundaries every `width` tokens up to `max_length` (OpenNMT-tf's `length_bucket_width`).

    With `width=1` every length has its own bucket, so a batch holds pairs
    of one length and pads only the shorter side: the least padding, and the
    most batch shapes.

    Example:
    >>> width_bucket_boundaries(10, 3)
    [4, 7, 10]
    """
    check_positive_int("bucket_width", width)
    return list(range(1 + width, max_length + 1, width))


def model_length(source, target):
    """The padded length a pair occupies: max(source length, target_in length)."""
    return tf.maximum(tf.shape(source)[0], tf.shape(target)[0] - 1)


def batch_by_length(max_length, batch_size=None, tokens_per_batch=None, bucket_boundaries=None,
                    drop_remainder=False, batch_multiple=1, padding_values=(PAD_ID, PAD_ID)):
    """Step: groups pairs of similar length into batches padded with `padding_values`.

    A pair's length is `model_length` (the longer of the source and
    `target_in`). Pairs go to buckets `[boundaries[i-1], boundaries[i])`;
    the last bucket ends at `max_length`. With `tokens_per_batch`, a bucket
    whose pairs are at most `L` long batches `tokens_per_batch // L` pairs,
    so every batch has `batch * padded_length <= tokens_per_batch`.

    Args:
        max_length: the longest `model_length` any pair can have.
        batch_size: pairs per batch (exclusive with `tokens_per_batch`).
        tokens_per_batch: the token budget of a batch.
        bucket_boundaries: increasing lengths (default `default_bucket_boundaries`);
            `[]` disables bucketing.
        drop_remainder: drop each bucket's last, smaller batch.
        batch_multiple: round each bucket's batch size down to a multiple of
            this (the number of replicas, so that batches split evenly).
        padding_values: the source and target padding ids.
    """
    if (batch_size is None) == (tokens_per_batch is None):
        raise ValueError(
            f"Pass exactly one of `batch_size` and `tokens_per_batch`. "
            f"Received: batch_size={batch_size}, tokens_per_batch={tokens_per_batch}"
        )
    if bucket_boundaries is None:
        bucket_boundaries = default_bucket_boundaries(max_length)
    bucket_boundaries = list(bucket_boundaries)
    if bucket_boundaries != sorted(set(bucket_boundaries)) or (bucket_boundaries and bucket_boundaries[0] < 1):
        raise ValueError(f"`bucket_boundaries` must increase strictly from 1. Received: {bucket_boundaries}")
    if bucket_boundaries and bucket_boundaries[-1] > max_length:
        raise ValueError(f"`bucket_boundaries` must not exceed {max_length}. Received: {bucket_boundaries}")
    if batch_size is not None:
        if batch_size < 1:
            raise ValueError(f"`batch_size` must be positive. Received: batch_size={batch_size}")
        batch_sizes = [batch_size] * (len(bucket_boundaries) + 1)
    else:
        if tokens_per_batch < max_length:
            raise ValueError(
                f"`tokens_per_batch` must hold one pair of the longest length {max_length}. "
                f"Received: tokens_per_batch={tokens_per_batch}"
            )
        longest = [b - 1 for b in bucket_boundaries] + [max_length]  # the longest pair of each bucket
        batch_sizes = [tokens_per_batch // length for length in longest]
    if batch_multiple > 1:
        if min(batch_sizes) < batch_multiple:
            raise ValueError(f"A batch must hold at least one pair per replica ({batch_multiple}); raise "
                             f"`tokens_per_batch` or `batch_size`. Received: batch sizes {batch_sizes}")
        batch_sizes = [size - size % batch_multiple for size in batch_sizes]

    return lambda dataset: dataset.bucket_by_sequence_length(
        model_length, bucket_boundaries, batch_sizes, padding_values=tuple(padding_values),
        drop_remainder=drop_remainder,
    )


def count_batches(dataset):
    """The number of elements one pass of `dataset` yields; it reads the whole pass once.

    For a dataset whose every pass yields the same number of batches (length
    buckets flush their partial batches, so shuffling does not change it).

    Example:
    >>> count_batches(tf.data.Dataset.range(10).batch(4))
    3
    """
    return int(dataset.reduce(tf.constant(0, tf.int64), lambda count, _: count + 1))


def with_known_cardinality(dataset):
    """`dataset` with its number of elements counted once and recorded, so `fit` shows a total and an ETA.

    Example:
    >>> with_known_cardinality(tf.data.Dataset.range(10).filter(lambda x: x % 2 == 0)).cardinality().numpy()
    np.int64(5)
    """
    return dataset.apply(tf.data.experimental.assert_cardinality(count_batches(dataset)))


def to_model_inputs():
    """Step: padded `(source, target)` -> `({"source", "target_in"}, target_out)`, teacher forcing."""
    def split(source, target):  # (batch, src_len), (batch, tgt_len + 2)
        return {"source": source, "target_in": target[:, :-1]}, target[:, 1:]

    return lambda dataset: dataset.map(split, num_parallel_calls=tf.data.AUTOTUNE)


# --- the whole pipeline ------------------------------------------------------------------------

def _max_lengths(max_length):
    """`max_length` as `(max_source_length, max_target_length)`."""
    lengths = (max_length, max_length) if max_length is None or isinstance(max_length, int) else tuple(max_length)
    if len(lengths) != 2 or any(m is not None and (not isinstance(m, int) or m < 1) for m in lengths):
        raise ValueError(
            f"`max_length` must be a positive int, a pair of them, or None. Received: max_length={max_length}"
        )
    return lengths


def make_dataset(pairs, source_tokenizer, target_tokenizer, *, batch_size=None, tokens_per_batch=None,
                 max_length=128, length_policy="drop", shuffle=True, shuffle_buffer_size=100_000, seed=None,
                 cache=False, bucket_boundaries=None, bucket_width=None, drop_remainder=False, stats=None, log=True,
                 name="train", order=None, batch_multiple=1, batch_shuffle_buffer_size=None, return_stats=False):
    """The model's batches `({"source", "target_in"}, target_out)` from text pairs.

    Args:
        pairs: `(source, target)` text pairs: a list, or a `tf.data.Dataset`
            of scalar string pairs (`load_tsv`, `load_tfds`, `task_source`, ...).
        source_tokenizer, target_tokenizer: tokenizers (`tokenize` -> ragged ids).
        batch_size: pairs per batch; or
        tokens_per_batch: a token budget per batch: `batch * padded length <= tokens_per_batch`,
            the padded length being the longer of source and `target_in`.
        max_length: the most tokens a side may have (without `[START]`/`[END]`):
            an int, a `(source, target)` pair, or None (no limit; needs `batch_size`).
        length_policy: "drop" over-long pairs or "truncate" them; counted either way.
        shuffle: shuffle pairs (each pass differently, reproducibly given `seed`).
        shuffle_buffer_size: pairs in the shuffle buffer.
        batch_shuffle_buffer_size: with `shuffle`, the batches are shuffled
            too, in a buffer of this many batches (default: 4 per bucket, at
            least 16; 0: not shuffled). Length bucketing ends each pass with
            every bucket's last, smaller batch, in bucket (length) order;
            without this shuffle a pass would end with up to one small batch
            per bucket, from the shortest to the longest sentences, and with
            many buckets (`bucket_width=1`) those last updates undo training.
        seed: seed of the shuffle; the same seed gives the same batches.
        cache: False, True (cache token ids in memory) or a file path prefix.
        bucket_boundaries: length bucket boundaries (default: 25% apart from
            8 up to `max_length`; `[]` for none).
        bucket_width: instead of `bucket_boundaries`, a bucket every this many
            tokens (`width_bucket_boundaries`; 1: one per length, the least padding).
        drop_remainder: drop each bucket's last, smaller batch.
        stats: a `PipelineStats` to count into (default: a new one).
        return_stats: return `(dataset, stats)`. The statistics are also
            attached as `dataset.pipeline_stats`, which any later `tf.data`
            transformation drops; keep `stats` (or pass your own) instead.
        log: print a line at the end of each pass that skipped, dropped or truncated pairs.
        name: a label for that line, e.g. "train" or "validation".
        order: an `EpochOrder`: each pass is then shuffled from `(seed, epoch)`
            alone and may skip its first batches, so a resumed run continues
            with exactly the batches it had not seen (`seed` is then the order's).
        batch_multiple: the number of replicas a batch is split between
            (`tf.distribute`): full batches are rounded down to multiples of it,
            so they split evenly (a bucket's last batch of a pass may not).

    Returns:
        A `tf.data.Dataset` of `({"source": int32 (batch, src_len), "target_in": int32 (batch, tgt_len)},
        target_out int32 (batch, tgt_len))`, padded with each tokenizer's `pad_id`; with `return_stats`,
        `(dataset, stats)`, the `PipelineStats` it counts into as it is read.

    Example:
    >>> from s2s_keras.data import build_tokenizers
    >>> pairs = [("¿Dónde está?", "Where is it?")] * 64
    >>> src_tok, tgt_tok = build_tokenizers(pairs, kind="char")
    >>> ds = make_dataset(pairs, src_tok, tgt_tok, tokens_per_batch=512, max_length=32)
    >>> inputs, target_out = next(iter(ds))
    >>> inputs["source"].shape, inputs["target_in"].shape
    (TensorShape([32, 12]), TensorShape([32, 13]))
    """
    # Every argument is checked before any tf.data work.
    max_source_length, max_target_length = _max_lengths(max_length)
    longest = _longest_model_length(max_source_length, max_target_length, batch_size, tokens_per_batch)
    bucket_boundaries = _bucket_boundaries(longest, bucket_boundaries, bucket_width)
    batch_shuffle_buffer_size = _batch_shuffle_buffer_size(batch_shuffle_buffer_size, bucket_boundaries)
    source_ids, target_ids = special_ids_of(source_tokenizer), special_ids_of(target_tokenizer)
    make_batches = _batching_step(longest, batch_size, tokens_per_batch, bucket_boundaries, drop_remainder,
                                  batch_multiple, padding_values=(source_ids.pad, target_ids.pad))
    stats = stats if stats is not None else PipelineStats()
    limit = limit_length(max_source_length, max_target_length, length_policy, stats)

    # Text pairs -> single pairs of token ids, counted.
    pairs = as_pair_dataset(pairs).apply(tokenize_pairs(source_tokenizer, target_tokenizer))
    if cache:
        pairs = pairs.cache("" if cache is True else cache)
    pairs = (
        pairs.apply(count_pairs(stats))
        .apply(skip_empty(stats))
        .apply(limit)
        .apply(report_counts(stats, name, log))
        .apply(add_start_end(target_ids.start, target_ids.end))
        .apply(unbatch_pairs())
    )

    # Shuffled pairs -> padded batches, shuffled in turn.
    if order is not None:
        batches = order.apply(pairs, make_batches, shuffle=shuffle, shuffle_buffer_size=shuffle_buffer_size,
                              batch_shuffle_buffer_size=batch_shuffle_buffer_size)
    else:
        if shuffle:
            pairs = pairs.shuffle(shuffle_buffer_size, seed=seed, reshuffle_each_iteration=True)
        batches = make_batches(pairs)
        if shuffle and batch_shuffle_buffer_size:
            batch_seed = None if seed is None else seed + 1
            batches = batches.shuffle(batch_shuffle_buffer_size, seed=batch_seed, reshuffle_each_iteration=True)

    dataset = batches.apply(to_model_inputs()).prefetch(tf.data.AUTOTUNE)
    dataset.pipeline_stats = stats  # a convenience: a later transformation returns a dataset without it
    return (dataset, stats) if return_stats else dataset


def _longest_model_length(max_source_length, max_target_length, batch_size, tokens_per_batch):
    """The longest padded length a pair can have (None without a length limit), checking the batch arguments."""
    if (batch_size is None) == (tokens_per_batch is None):
        raise ValueError(
            f"Pass exactly one of `batch_size` and `tokens_per_batch`. "
            f"Received: batch_size={batch_size}, tokens_per_batch={tokens_per_batch}"
        )
    if None in (max_source_length, max_target_length):
        if tokens_per_batch is not None:
            raise ValueError("`tokens_per_batch` needs `max_length` on both sides. "
                             f"Received: max_length={(max_source_length, max_target_length)}")
        return None
    return max(max_source_length, max_target_length + 1)  # target_in has [START] in front


def _bucket_boundaries(longest, bucket_boundaries, bucket_width):
    """The length buckets: given, every `bucket_width` tokens, or the default 25% apart (None: no buckets)."""
    if bucket_width is not None:
        if bucket_boundaries is not None:
            raise ValueError(f"Pass at most one of `bucket_boundaries` and `bucket_width`. Received: "
                             f"bucket_boundaries={bucket_boundaries}, bucket_width={bucket_width}")
        if longest is None:
            raise ValueError("`bucket_width` needs `max_length`. Received: max_length=None")
        return width_bucket_boundaries(longest, bucket_width)
    if longest is None:
        if bucket_boundaries:
            raise ValueError("`bucket_boundaries` need `max_length`. Received: max_length=None")
        return None
    return default_bucket_boundaries(longest) if bucket_boundaries is None else bucket_boundaries


def _batch_shuffle_buffer_size(size, bucket_boundaries):
    """The batch shuffle buffer: as given, or 4 batches per length bucket and at least 16."""
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        raise ValueError(f"`batch_shuffle_buffer_size` must be an int >= 0. Received: batch_shuffle_buffer_size={size!r}")
    if size is None:
        return max(MIN_BATCH_SHUFFLE_BUFFER, BATCH_SHUFFLE_PER_BUCKET * (len(bucket_boundaries or []) + 1))
    return size


def _batching_step(longest, batch_size, tokens_per_batch, bucket_boundaries, drop_remainder, batch_multiple,
                   padding_values):
    """The `pairs -> padded batches` step (checked now): length buckets, or one padded batch size without a limit."""
    if not isinstance(batch_multiple, int) or batch_multiple < 1 or (batch_size or batch_multiple) < batch_multiple:
        raise ValueError(f"`batch_multiple` must be a positive int no larger than the batch size. "
                         f"Received: batch_multiple={batch_multiple}, batch_size={batch_size}")
    if longest is not None:
        return batch_by_length(longest, batch_size, tokens_per_batch, bucket_boundaries, drop_remainder,
                               batch_multiple, padding_values)
    check_positive_int("batch_size", batch_size)
    return lambda pairs: pairs.padded_batch(batch_size - batch_size % batch_multiple,
                                            padding_values=tuple(padding_values), drop_remainder=drop_remainder)
