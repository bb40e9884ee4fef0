"""Sources of `(source, target)` text pairs, all as `tf.data.Dataset`s of scalar strings.

Every loader returns a dataset whose elements are `(source: tf.string (),
target: tf.string ())`; files are streamed line by line with
`tf.data.TextLineDataset` (plain or gzip), never read whole into memory.
A malformed line is not an error here: a TSV line without enough columns
gives an empty side, which `make_dataset` skips and counts.
"""

import tensorflow as tf

from s2s_keras.data.tasks import TOY_TASKS, date_pairs, toy_pairs

COMPRESSIONS = ("auto", "GZIP", "ZLIB", None)
TASKS = ("dates", *TOY_TASKS)
_PARSE_BATCH_SIZE = 1024


def _compression_type(paths, compression):
    if compression not in COMPRESSIONS:
        raise ValueError(f"`compression` must be one of {COMPRESSIONS}. Received: compression={compression!r}")
    if compression != "auto":
        return compression or ""
    kinds = {"GZIP" if str(p).endswith(".gz") else "" for p in paths}
    if len(kinds) > 1:
        raise ValueError(f"Mixed plain and .gz files; pass `compression`. Received: paths={paths}")
    return kinds.pop()


def _lines(paths, compression):
    paths = [paths] if isinstance(paths, (str, bytes)) or hasattr(paths, "__fspath__") else list(paths)
    paths = [str(p) for p in paths]
    return tf.data.TextLineDataset(paths, compression_type=_compression_type(paths, compression))


def pairs_dataset(pairs):
    """A dataset of the `(source, target)` string pairs of a Python list.

    Args:
        pairs: a sequence of `(source, target)` strings (`str` or `bytes`).

    Returns:
        A `tf.data.Dataset` of `(tf.string (), tf.string ())`.

    Example:
    >>> ds = pairs_dataset([("hola", "hello")])
    >>> list(ds.as_numpy_iterator())
    [(b'hola', b'hello')]
    """
    pairs = list(pairs)
    if any(len(p) != 2 for p in pairs):
        bad = next(p for p in pairs if len(p) != 2)
        raise ValueError(f"Each pair must be `(source, target)`. Received: {bad!r}")
    sources = tf.constant([s for s, _ in pairs], tf.string, shape=[len(pairs)])
    targets = tf.constant([t for _, t in pairs], tf.string, shape=[len(pairs)])
    return tf.data.Dataset.from_tensor_slices((sources, targets))


def as_pair_dataset(source):
    """`source` as a dataset of `(source, target)` scalar strings (lists are converted).

    Raises:
        ValueError: for a dataset whose elements are not two scalar strings,
            or a path (use `load_tsv` / `load_parallel_text`).
    """
    if isinstance(source, (str, bytes)):
        raise ValueError(f"Got a path; read files with `load_tsv` or `load_parallel_text`. Received: {source!r}")
    if not isinstance(source, tf.data.Dataset):
        return pairs_dataset(source)
    spec = source.element_spec
    expected = tf.TensorSpec([], tf.string)
    if not (isinstance(spec, tuple) and len(spec) == 2 and all(expected.is_compatible_with(s) for s in spec)):
        raise ValueError(f"The dataset must yield `(source, target)` scalar strings. Received: element_spec={spec}")
    return source


def load_tsv(path, columns=(0, 1), compression="auto"):
    """Streams `(source, target)` pairs from tab-separated lines.

    Args:
        path: a file path or a list of paths (`.gz` files are read as gzip).
        columns: the `(source, target)` column indices, e.g. `(1, 0)` to
            translate the second column into the first.
        compression: "auto" (by the `.gz` suffix), "GZIP", "ZLIB" or None.

    Returns:
        A `tf.data.Dataset` of `(tf.string (), tf.string ())`; a missing
        column reads as "".

    Example:
    >>> pairs = load_tsv("tatoeba-spa-eng/train.tsv", columns=(1, 0))  # doctest: +SKIP
    """
    source_column, target_column = columns
    if min(columns) < 0 or source_column == target_column:
        raise ValueError(f"`columns` must be two distinct indices >= 0. Received: columns={columns}")
    width = max(columns) + 1

    def parse(lines):  # (batch,)
        fields = tf.strings.split(lines, "\t").to_tensor(default_value="", shape=[None, width])  # (batch, width)
        return fields[:, source_column], fields[:, target_column]

    return _lines(path, compression).batch(_PARSE_BATCH_SIZE).map(parse).unbatch()


def load_parallel_text(source_path, target_path, compression="auto"):
    """Streams pairs from two line-aligned files (line i of one translates line i of the other).

    Files of different lengths raise `tf.errors.InvalidArgumentError` when
    the shorter one ends, rather than being cut silently.

    Args:
        source_path, target_path: the two files (plain or `.gz`).
        compression: "auto" (by the `.gz` suffix), "GZIP", "ZLIB" or None.

    Returns:
        A `tf.data.Dataset` of `(tf.string (), tf.string ())`.
    """
    def flagged(path):  # every line with True, then one ("", False) at the end
        lines = _lines(path, compression).map(lambda line: (line, True))
        return lines.concatenate(tf.data.Dataset.from_tensors((tf.constant(""), False)))

    def check(source, target):
        (source_line, source_ok), (target_line, target_ok) = source, target
        message = f"Parallel files have different numbers of lines: {source_path}, {target_path}"
        tf.debugging.assert_equal(source_ok, target_ok, message=message)
        return source_line, target_line, source_ok

    def is_line(source, target, ok):
        return ok

    def drop_flag(source, target, ok):
        return source, target

    pairs = tf.data.Dataset.zip(flagged(source_path), flagged(target_path)).map(check)
    return pairs.filter(is_line).map(drop_flag)


def _select(dataset, keys, features, what):
    if keys is None or len(keys) != 2 or any(k not in features for k in keys):
        raise ValueError(f"`keys` must name two of {what}'s features {sorted(features)}. Received: keys={keys}")
    source_key, target_key = keys
    return dataset.map(lambda example: (example[source_key], example[target_key]))


def load_tfds(name, split="train", keys=None, *, data_dir=None, download=True, shuffle_files=False):
    """`(source, target)` pairs from a tensorflow-datasets translation dataset.

    Args:
        name: e.g. "ted_hrlr_translate/pt_to_en" or "wmt14_translate/de-en".
        split: e.g. "train", "validation", "test[:1000]".
        keys: the `(source, target)` feature names (default: the dataset's
            supervised keys, e.g. `("pt", "en")`); reverse them to translate
            the other way.
        data_dir: where TFDS keeps its data (default: `~/tensorflow_datasets`).
        download: let TFDS download and prepare the data if missing.
        shuffle_files: shuffle the order of the TFRecord files.

    Returns:
        A `tf.data.Dataset` of `(tf.string (), tf.string ())`.

    Example:
    >>> train = load_tfds("ted_hrlr_translate/pt_to_en", "train")  # doctest: +SKIP
    """
    import tensorflow_datasets as tfds

    dataset, info = tfds.load(
        name, split=split, data_dir=data_dir, download=download, shuffle_files=shuffle_files, with_info=True
    )
    if keys is None:
        keys = info.supervised_keys
    return _select(dataset, tuple(keys) if keys is not None else None, info.features.keys(), name)


def load_translate_folder(root_dir, keys, split="train"):
    """Pairs from a local folder of `<lang>.<split>.txt` files (`tfds.folder_dataset.TranslateFolder`).

    Note that `TranslateFolder` reads every split into memory when built;
    for large files use `load_parallel_text`, which streams.

    Args:
        root_dir: a folder with e.g. `es.train.txt` and `en.train.txt`.
        keys: the `(source, target)` languages, e.g. `("es", "en")`.
        split: the split name in the file names.

    Returns:
        A `tf.data.Dataset` of `(tf.string (), tf.string ())`.
    """
    import tensorflow_datasets as tfds

    builder = tfds.folder_dataset.TranslateFolder(root_dir=root_dir)
    return _select(builder.as_dataset(split=split), tuple(keys), builder.info.features.keys(), root_dir)


def task_source(task, num_examples, seed=0, **kwargs):
    """An embedded task as a source of string pairs, like any other.

    Args:
        task: "dates" (human dates -> ISO dates, see `date_pairs`) or one of
            the toy tasks "copy", "reverse", "sort", whose symbols are written
            as space-separated numbers ("7 4 9" -> "9 4 7").
        num_examples: number of pairs.
        seed: random seed.
        **kwargs: for toy tasks, `min_length`, `max_length` and `vocab_size`
            (defaults 1, 10, 20) as in `toy_pairs`.

    Returns:
        A `tf.data.Dataset` of `(tf.string (), tf.string ())`.
    """
    if task == "dates":
        if kwargs:
            raise ValueError(f"The dates task takes no options. Received: {sorted(kwargs)}")
        return pairs_dataset(date_pairs(num_examples, seed=seed))
    if task not in TASKS:
        raise ValueError(f"`task` must be one of {TASKS}. Received: task={task!r}")
    options = {"min_length": 1, "max_length": 10, "vocab_size": 20, **kwargs}
    pairs = toy_pairs(task, num_examples, seed=seed, **options)
    return pairs_dataset([(" ".join(map(str, s)), " ".join(map(str, t))) for s, t in pairs])
