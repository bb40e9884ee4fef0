"""Speech-to-text data: WAV files to waveforms, and `(waveform, transcript)` pairs to the models' batches.

Speech models take float32 waveforms in [-1, 1], mono, at one sample rate
(8 kHz by default), batched as `(batch, samples)` and padded on the right
with exactly 0.0: a model reads each row's length as the position after its
last non-zero sample, so the padding must be zeros and nothing else.

`make_audio_dataset` chains the text pipeline's steps (`pipeline.py`) on
`(waveform, transcript)` pairs:

    (waveform float32 (samples,), transcript string ())
    -> [shuffle]               utterances, each pass differently (reproducible from `seed`)
    -> ragged batches           tokenize transcripts in-graph (`target_tokenizer.tokenize`)
    -> count_pairs, skip_empty  an utterance with no samples or an empty transcript is skipped, counted
    -> limit_length             utterances longer than `max_seconds` dropped, counted
    -> report_counts            one stderr line per pass when anything was lost
    -> add_start_end            transcript ids -> [START] ids [END]
    -> unbatch_pairs
    -> bucket_by_sequence_length   buckets by waveform length (in samples); waveforms padded
                                   with 0.0, targets with the tokenizer's pad id
    -> [batch shuffle] -> to_model_inputs -> prefetch

It yields `({"source": float32 (batch, samples), "target_in": int32 (batch, tgt_len)},
target_out int32 (batch, tgt_len))`: the structure of the text pipelines, with
a waveform as the source.
"""

import math
import os
import warnings

import numpy as np
import tensorflow as tf

from s2s_keras.checks import check_positive_int
from s2s_keras.data.pipeline import (
    BATCH_SHUFFLE_PER_BUCKET, MIN_BATCH_SHUFFLE_BUFFER, add_start_end, count_pairs,
    limit_length, report_counts, skip_empty, to_model_inputs, unbatch_pairs,
)
from s2s_keras.data.special_ids import special_ids_of
from s2s_keras.data.stats import PipelineStats

SAMPLE_RATE = 8000
NUM_LENGTH_BUCKETS = 8  # buckets derived from the length distribution: its quantiles
TOKENIZE_BATCH_SIZE = 256  # utterances per ragged batch while tokenizing (waveforms are large)
SHUFFLE_BUFFER_SIZE = 4096  # utterances in the shuffle buffer for a dataset input (a list is shuffled whole)

_TRANSCRIPT_SPEC = tf.TensorSpec([], tf.string)


# --- WAV files ------------------------------------------------------------------------------------

def read_wav(path_or_bytes, sample_rate=SAMPLE_RATE):
    """Reads a mono waveform from a WAV file with `tf.audio.decode_wav`.

    `tf.audio.decode_wav` reads 16-bit PCM WAV files; of a file with several
    channels, the first is kept.

    Args:
        path_or_bytes: a file path (`str` or path-like), or the file's contents (`bytes`).
        sample_rate: the sample rate the file must have, in Hz (it is not resampled).

    Returns:
        A float32 numpy array `(samples,)` with values in [-1, 1].

    Raises:
        ValueError: the file is not a WAV file `decode_wav` reads, or its
            sample rate is not `sample_rate`.

    Example:
    >>> wav = tf.audio.encode_wav(tf.zeros([800, 1]), 8000).numpy()
    >>> read_wav(wav).shape
    (800,)
    """
    check_positive_int("sample_rate", sample_rate)
    if isinstance(path_or_bytes, (bytes, bytearray)):
        name, contents = "<bytes>", bytes(path_or_bytes)
    else:
        name = os.fspath(path_or_bytes)
        with open(name, "rb") as f:
            contents = f.read()
    try:
        audio, rate = tf.audio.decode_wav(contents, desired_channels=1)  # (samples, 1), ()
    except tf.errors.InvalidArgumentError as error:
        raise ValueError(f"{name!r} is not a WAV file that tf.audio.decode_wav reads (16-bit PCM): "
                         f"{error.message}") from None
    if int(rate) != sample_rate:
        raise ValueError(f"{name!r} has a sample rate of {int(rate)} Hz; expected {sample_rate} Hz "
                         f"(resample it first). Received: sample_rate={sample_rate}")
    return audio[:, 0].numpy()  # (samples,)


def decode_wav_tensor(wav_bytes, sample_rate=SAMPLE_RATE):
    """In-graph `read_wav`: WAV file contents -> a mono float32 waveform, for `tf.data` and `tf.function`.

    Args:
        wav_bytes: `tf.string` scalar, a WAV file's contents (e.g. from `tf.io.read_file`).
        sample_rate: the sample rate the file must have; a different one fails
            the graph with an `InvalidArgumentError` naming both rates.

    Returns:
        float32 `(samples,)` in [-1, 1] (the first channel).

    Example:
    >>> wav = tf.audio.encode_wav(tf.zeros([800, 1]), 8000)
    >>> tf.data.Dataset.from_tensors(wav).map(decode_wav_tensor).element_spec
    TensorSpec(shape=(None,), dtype=tf.float32, name=None)
    """
    audio, rate = tf.audio.decode_wav(wav_bytes, desired_channels=1)  # (samples, 1), ()
    checked = tf.debugging.assert_equal(
        rate, tf.constant(sample_rate, tf.int32),
        message=f"The WAV file's sample rate is not the expected {sample_rate} Hz (resample it first)",
    )
    with tf.control_dependencies([checked]):
        return tf.identity(audio[:, 0])  # (samples,)


def pad_waveforms(waveforms):
    """1-D float arrays -> float32 `(batch, longest)` zero-padded on the right (at least one column) and lengths.

    Example:
    >>> padded, lengths = pad_waveforms([np.ones(3), np.ones(1)])
    >>> padded.shape, lengths.tolist()
    ((2, 3), [3, 1])
    """
    arrays = [np.asarray(w, np.float32).reshape(-1) for w in waveforms]
    lengths = np.array([len(a) for a in arrays], np.int32)
    padded = np.zeros((len(arrays), max(1, int(lengths.max(initial=0)))), np.float32)
    for row, array in enumerate(arrays):
        padded[row, : len(array)] = array
    return padded, lengths


# --- utterances to batches ------------------------------------------------------------------------

def length_bucket_boundaries(lengths, num_buckets=NUM_LENGTH_BUCKETS):
    """Bucket boundaries (in samples) at the quantiles of `lengths`, so each bucket holds about as many utterances.

    Args:
        lengths: utterance lengths in samples.
        num_buckets: the most buckets (equal or too close quantiles merge).

    Returns:
        A strictly increasing list of ints, each above the shortest length
        (`[]` when all lengths are equal).

    Example:
    >>> length_bucket_boundaries([100, 200, 300, 400], num_buckets=2)
    [250]
    """
    lengths = np.asarray(lengths)
    if lengths.size == 0:
        return []
    quantiles = np.quantile(lengths, np.arange(1, num_buckets) / num_buckets)
    return sorted({int(math.ceil(q)) for q in quantiles if q > lengths.min()})


def _check_boundaries(boundaries):
    boundaries = [int(b) for b in boundaries]
    if boundaries != sorted(set(boundaries)) or (boundaries and boundaries[0] < 1):
        raise ValueError(f"`bucket_boundaries` must increase strictly from 1 (in samples). Received: {boundaries}")
    return boundaries


def _checked_dataset(dataset, transcripts):
    """`dataset` of `(waveform, transcript)` pairs, checked, with float32 waveforms."""
    if transcripts is not None:
        raise ValueError("Pass `transcripts=None` with a dataset of `(waveform, transcript)` pairs. "
                         f"Received: transcripts of type {type(transcripts).__name__}")
    spec = dataset.element_spec
    if not (isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], tf.TensorSpec)
            and spec[0].shape.rank == 1 and spec[0].dtype.is_floating and _TRANSCRIPT_SPEC.is_compatible_with(spec[1])):
        raise ValueError("The dataset must yield `(waveform float (samples,), transcript string ())`. "
                         f"Received: element_spec={spec}")
    return dataset.map(lambda samples, text: (tf.cast(samples, tf.float32), text))


def _list_dataset(waveforms, transcripts, shuffle, seed):
    """`(waveform, transcript)` pairs of two lists (shuffled whole if asked), and the waveforms' lengths."""
    if isinstance(transcripts, str) or transcripts is None:
        raise ValueError(f"`transcripts` must be a list of strings, one per waveform. Received: {transcripts!r}")
    waveforms, transcripts = list(waveforms), list(transcripts)
    if len(waveforms) != len(transcripts) or not waveforms:
        raise ValueError(f"Need as many transcripts as waveforms, and at least one. "
                         f"Received: {len(waveforms)} waveforms, {len(transcripts)} transcripts")
    arrays = [np.asarray(w) for w in waveforms]
    bad = next((i for i, a in enumerate(arrays) if a.ndim != 1 or not np.issubdtype(a.dtype, np.floating)), None)
    if bad is not None:
        raise ValueError(f"Each waveform must be a 1-D float array (mono samples). "
                         f"Received: waveforms[{bad}] of shape {arrays[bad].shape}, dtype {arrays[bad].dtype}")
    empty = sum(1 for a, t in zip(arrays, transcripts) if a.size == 0 or not str(t).strip())
    if empty:
        warnings.warn(f"{empty} of {len(arrays)} utterances have no samples or an empty transcript "
                      f"and will be skipped.", stacklevel=3)
    lengths = np.array([a.size for a in arrays], np.int64)
    samples = tf.RaggedTensor.from_row_lengths(np.concatenate(arrays).astype(np.float32), lengths)  # (n, None)
    texts = tf.constant(transcripts, tf.string, shape=[len(transcripts)])  # (n,)
    indices = tf.data.Dataset.range(len(arrays))
    if shuffle:  # a list is shuffled whole: only indices go through the buffer
        indices = indices.shuffle(len(arrays), seed=seed, reshuffle_each_iteration=True)
    return indices.map(lambda i: (samples[i], texts[i])), lengths


def _dataset_lengths(dataset):
    """The waveform lengths of one pass of `dataset` (reads it once)."""
    lengths = dataset.map(lambda w, t: tf.shape(w, tf.int64)[0]).batch(TOKENIZE_BATCH_SIZE)
    return np.concatenate([np.zeros([0], np.int64), *lengths.as_numpy_iterator()])


def _batch_sizes(boundaries, longest, batch_size, seconds_per_batch, sample_rate):
    """One batch size per bucket: `batch_size`, or `seconds_per_batch` of samples over the bucket's longest length."""
    if batch_size is not None:
        return [batch_size] * (len(boundaries) + 1)
    budget = int(seconds_per_batch * sample_rate)  # samples per batch
    bucket_longest = [min(b - 1, longest) for b in boundaries] + [longest]  # samples
    if budget < longest:
        raise ValueError(f"`seconds_per_batch` must hold the longest utterance ({longest / sample_rate:.2f} s). "
                         f"Received: seconds_per_batch={seconds_per_batch}")
    return [budget // length for length in bucket_longest]


def make_audio_dataset(waveforms, transcripts, target_tokenizer, *, batch_size=None, seconds_per_batch=None,
                       sample_rate=SAMPLE_RATE, max_seconds=None, bucket_boundaries=None, shuffle=True, seed=0,
                       drop_remainder=False, stats=None, return_stats=False, name="train", log=True):
    """The speech models' batches `({"source", "target_in"}, target_out)` from waveforms and transcripts.

    Transcripts are tokenized in-graph with `target_tokenizer` and framed as
    `[START] ids [END]`: `target_in` drops the last id, `target_out` the
    first. Utterances are grouped by waveform length into buckets; waveforms
    are padded with 0.0, targets with the tokenizer's pad id. Utterances
    longer than `max_seconds` are dropped and those with no samples or an
    empty transcript skipped: counted in `stats`, reported on stderr at the
    end of each pass, and (when the lengths are known in advance) in a
    warning when the dataset is made.

    Args:
        waveforms: a list of 1-D float arrays (mono samples in [-1, 1] at
            `sample_rate`), or a `tf.data.Dataset` of `(waveform (samples,), transcript ())`
            pairs (then `transcripts=None`). A list is kept in the graph as one
            constant: for corpora of gigabytes, pass a dataset.
        transcripts: one string per waveform (None with a dataset).
        target_tokenizer: the transcripts' tokenizer (`tokenize` -> ragged ids,
            `special_ids`), e.g. a `CharTokenizer`.
        batch_size: utterances per batch; or
        seconds_per_batch: audio per batch: a bucket whose utterances are at
            most `L` samples long batches `seconds_per_batch * sample_rate // L` of them.
        sample_rate: the waveforms' sample rate in Hz (for the two durations).
        max_seconds: drop longer utterances (None: keep all).
        bucket_boundaries: increasing lengths in samples (`[]`: one bucket).
            Default: the quantiles of the lengths in eighths (`length_bucket_boundaries`);
            a dataset input is then read once to measure them.
        shuffle: shuffle utterances (each pass differently) and batches.
        seed: the shuffles' seed; the same seed gives the same batches.
        drop_remainder: drop each bucket's last, smaller batch.
        stats: a `PipelineStats` to count into (default: a new one).
        return_stats: return `(dataset, stats)`.
        name: a label for the end-of-pass line, e.g. "train" or "test".
        log: print that line when utterances were skipped or dropped.

    Returns:
        A `tf.data.Dataset` of `({"source": float32 (batch, samples), "target_in": int32 (batch, tgt_len)},
        target_out int32 (batch, tgt_len))`; with `return_stats`, `(dataset, stats)`.

    Example:
    >>> from s2s_keras.data import CharTokenizer, tone_utterances
    >>> waveforms, transcripts = tone_utterances(32, seed=0)
    >>> tokenizer = CharTokenizer.from_texts(transcripts)
    >>> ds = make_audio_dataset(waveforms, transcripts, tokenizer, batch_size=8)
    >>> inputs, target_out = next(iter(ds))
    >>> inputs["source"].dtype, inputs["target_in"].dtype, target_out.shape == inputs["target_in"].shape
    (tf.float32, tf.int32, True)
    """
    # Every argument is checked before any tf.data work.
    if (batch_size is None) == (seconds_per_batch is None):
        raise ValueError(f"Pass exactly one of `batch_size` and `seconds_per_batch`. "
                         f"Received: batch_size={batch_size}, seconds_per_batch={seconds_per_batch}")
    check_positive_int("batch_size", batch_size, allow_none=True)
    check_positive_int("sample_rate", sample_rate)
    for label, value in (("seconds_per_batch", seconds_per_batch), ("max_seconds", max_seconds)):
        if value is not None and not value > 0:
            raise ValueError(f"`{label}` must be a positive number of seconds or None. Received: {label}={value!r}")
    if bucket_boundaries is not None:
        bucket_boundaries = _check_boundaries(bucket_boundaries)
    max_samples = None if max_seconds is None else int(max_seconds * sample_rate)
    target_ids = special_ids_of(target_tokenizer)

    if isinstance(waveforms, tf.data.Dataset):
        pairs, lengths = _checked_dataset(waveforms, transcripts), None
        if bucket_boundaries is None or (seconds_per_batch is not None and max_samples is None):
            lengths = _dataset_lengths(pairs)  # one pass, to measure
        if shuffle:
            pairs = pairs.shuffle(SHUFFLE_BUFFER_SIZE, seed=seed, reshuffle_each_iteration=True)
    else:
        pairs, lengths = _list_dataset(waveforms, transcripts, shuffle, seed)

    if lengths is not None:
        too_long = 0 if max_samples is None else int(np.sum(lengths > max_samples))
        if too_long:
            warnings.warn(f"{too_long} of {len(lengths)} utterances are longer than max_seconds={max_seconds} "
                          f"and will be dropped.", stacklevel=2)
        kept = lengths if max_samples is None else lengths[lengths <= max_samples]
        if not np.any(kept > 0):
            raise ValueError(f"No utterance has samples and is at most max_seconds={max_seconds} long.")
        if bucket_boundaries is None:
            bucket_boundaries = length_bucket_boundaries(kept[kept > 0])
    longest = max_samples if max_samples is not None or lengths is None else int(lengths.max())
    batch_sizes = _batch_sizes(bucket_boundaries, longest, batch_size, seconds_per_batch, sample_rate)
    stats = stats if stats is not None else PipelineStats()

    # Pairs -> ragged batches of samples and ids -> single pairs, counted.
    def tokenize(samples, texts):  # (batch, None) float32, (batch,) string
        return samples, target_tokenizer.tokenize(texts)  # (batch, None), (batch, None) int32

    pairs = (
        pairs.ragged_batch(TOKENIZE_BATCH_SIZE)
        .map(tokenize, num_parallel_calls=tf.data.AUTOTUNE)
        .apply(count_pairs(stats))
        .apply(skip_empty(stats))
        .apply(limit_length(max_samples, None, "drop", stats))
        .apply(report_counts(stats, name, log))
        .apply(add_start_end(target_ids.start, target_ids.end))
        .apply(unbatch_pairs())
    )

    # Single pairs -> padded batches of similar lengths.
    batches = pairs.bucket_by_sequence_length(
        lambda samples, target: tf.shape(samples)[0], bucket_boundaries, batch_sizes,
        padding_values=(tf.constant(0.0, tf.float32), tf.constant(target_ids.pad, tf.int32)),
        drop_remainder=drop_remainder,
    )  # (batch, samples) float32, (batch, tgt_len + 2) int32
    if shuffle:
        buffer = max(MIN_BATCH_SHUFFLE_BUFFER, BATCH_SHUFFLE_PER_BUCKET * (len(bucket_boundaries) + 1))
        batches = batches.shuffle(buffer, seed=None if seed is None else seed + 1, reshuffle_each_iteration=True)

    dataset = batches.apply(to_model_inputs()).prefetch(tf.data.AUTOTUNE)
    dataset.pipeline_stats = stats  # as in `make_dataset`: a later transformation drops it
    return (dataset, stats) if return_stats else dataset
