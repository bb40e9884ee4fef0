"""Data specs: the strings that name a source of pairs on the command line and in `TrainSettings.data`.

    task:NAME          an embedded task (`task_source`): dates, copy, reverse, sort
    tfds:NAME          a TensorFlow Datasets dataset (`load_tfds`)
    PATH               one TSV file (`load_tsv`), plain or .gz
    SOURCE,TARGET      two parallel text files, plain or .gz, one sentence a line (`load_parallel_text`)
"""

import os

from s2s_keras.data.sources import load_parallel_text, load_tfds, load_tsv, task_source


def open_source(spec, columns=(0, 1), tfds_keys=None, split="train", task_size=20000, seed=0):
    """A dataset of `(source, target)` strings from a data spec (see `TrainSettings.data`).

    Args:
        spec: "task:NAME", "tfds:NAME", a TSV file, or "SOURCE_FILE,TARGET_FILE".
        columns: the TSV columns `(source, target)`.
        tfds_keys: the TFDS feature names `(source, target)` (None: the dataset's supervised keys).
        split: the TFDS split, e.g. "train", "validation", "test[:1000]".
        task_size: pairs generated for an embedded task.
        seed: the embedded task's random seed.

    Returns:
        A `tf.data.Dataset` of `(tf.string (), tf.string ())`.

    Example:
    >>> pairs = open_source("task:dates", task_size=3)
    >>> len(list(pairs.as_numpy_iterator()))
    3
    >>> open_source("missing.tsv")
    Traceback (most recent call last):
    ...
    ValueError: No such data file: 'missing.tsv'
    """
    if spec.startswith("task:"):
        return task_source(spec[len("task:"):], task_size, seed=seed)
    if spec.startswith("tfds:"):
        return load_tfds(spec[len("tfds:"):], split=split, keys=tfds_keys)
    paths = spec.split(",")
    for path in paths:
        if not os.path.isfile(path):
            raise ValueError(f"No such data file: {path!r}")
    if len(paths) == 2:
        return load_parallel_text(paths[0], paths[1])
    if len(paths) == 1:
        return load_tsv(paths[0], columns=tuple(columns))
    raise ValueError(f"Data must be one TSV file or two parallel files 'SOURCE,TARGET'. Received: {spec!r}")
