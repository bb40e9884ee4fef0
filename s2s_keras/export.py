"""Export a Translator as a string-to-string SavedModel in TF Serving's layout, and load it back.

`save(translator, "saved_models/NAME")` writes `saved_models/NAME/<version>/`
with the signature `serving_default`: `inputs: tf.string (None,)` ->
`translations: tf.string (None,)`, `scores: float32 (None,)`; also
`translate_n_best` and `translate_with_prefixes` (`inputs`, `prefixes`).
Tokenizer vocabularies travel as assets; the SavedModel loads in a process
that imports only `tensorflow` and `tensorflow_text`.
`assets.extra/s2s_keras.json` (TF Serving's folder for extra files) records
the tokenizers' special ids, the vocabulary sizes and the search.
"""

import json
import os
import shutil
import tempfile
import warnings

import tensorflow as tf

from s2s_keras.checks import check_positive_int
from s2s_keras.decoding.search import SearchStrategy, serialize_search
from s2s_keras.export_metadata_file import METADATA_FILE, read_metadata
from s2s_keras.served_transcriber import WAV_SIGNATURE, ServedTranscriber
from s2s_keras.translator import WARM_UP_WORDS, prefixes_for, warm_up_sentence

SIGNATURE = "serving_default"
N_BEST_SIGNATURE = "translate_n_best"
PREFIX_SIGNATURE = "translate_with_prefixes"  # inputs, prefixes -> n-best translations that start with the prefixes
STAGING_PREFIX = ".export-"


def is_version_name(name):
    """Whether a folder name is a version: ASCII digits only, as TF Serving reads them ("²" is not)."""
    return name.isascii() and name.isdigit()


def versions(path):
    """The numeric version folders under `path`, sorted ascending (complete or not)."""
    if not os.path.isdir(path):
        return []
    return sorted(int(name) for name in os.listdir(path)
                  if is_version_name(name) and os.path.isdir(os.path.join(path, name)))


def _remove_abandoned_staging(path):
    """Removes staging folders of exports whose process has ended (killed mid-export)."""
    for name in os.listdir(path):
        if not name.startswith(STAGING_PREFIX):
            continue
        fields = name[len(STAGING_PREFIX):].split("-")  # VERSION-PID-RANDOM (older: VERSION-RANDOM)
        pid = int(fields[1]) if len(fields) == 3 and fields[1].isdigit() else None
        if pid is not None and _process_alive(pid):
            continue  # another export is writing it now
        shutil.rmtree(os.path.join(path, name), ignore_errors=True)


def _process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def save(translator, path, version=None):
    """Writes `translator` as the next version under `path` and returns that version's folder.

    The SavedModel is written to a hidden temporary folder beside the versions
    and renamed into place, so a failed export leaves no partial version and
    never touches an existing one (TF Serving ignores non-numeric folders).
    Staging folders left by an export that was killed are removed.

    Args:
        translator: a `s2s_keras.Translator`, or a `s2s_keras.Transcriber`
            (its `serving_default` takes `waveforms` and `lengths`, and
            `transcribe_wav` takes WAV contents).
        path: the model's folder, e.g. "saved_models/dates".
        version: a positive integer; default one more than the newest.

    Returns:
        The path of the written version, e.g. "saved_models/dates/3".

    Raises:
        ValueError: if `version` already exists or is not positive.

    Example:
    >>> save(translator, "saved_models/gru_attention")  # doctest: +SKIP
    'saved_models/gru_attention/1'
    """
    os.makedirs(path, exist_ok=True)
    _remove_abandoned_staging(path)
    if version is None:
        version = (versions(path) or [0])[-1] + 1
    check_positive_int("version", version)
    final = os.path.join(path, str(version))
    if os.path.exists(final):
        raise ValueError(f"Version {version} already exists at {final!r}; nothing was written.")
    staging = tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{version}-{os.getpid()}-", dir=path)
    try:
        if hasattr(translator, "serving_signatures"):  # a Transcriber
            signatures, metadata = translator.serving_signatures(), translator.export_metadata()
        else:
            signatures = {
                SIGNATURE: translator.translate_strings.get_concrete_function(),
                N_BEST_SIGNATURE: translator.translate_n_best.get_concrete_function(),
                PREFIX_SIGNATURE: translator.translate_with_prefixes.get_concrete_function(),
            }
            metadata = export_metadata(translator)
        tf.saved_model.save(translator, staging, signatures=signatures)
        os.makedirs(os.path.dirname(os.path.join(staging, METADATA_FILE)), exist_ok=True)
        with open(os.path.join(staging, METADATA_FILE), "w", encoding="utf-8") as f:
            json.dump(metadata, f, indent=2)
        os.chmod(staging, _folder_mode())  # mkdtemp's 0700 would hide it from a server run by another user
        os.rename(staging, final)  # atomic on one file system; fails rather than replace
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final


def export_metadata(translator):
    """What an export records beside its graph: special ids, vocabulary sizes and the search, as a dict."""
    from s2s_keras import __version__

    return {
        "s2s_keras_version": __version__,
        "special_ids": {"source": translator.source_tokenizer.special_ids.to_config(),
                        "target": translator.target_tokenizer.special_ids.to_config()},
        "vocab_sizes": {"source": translator.source_tokenizer.vocab_size,
                        "target": translator.target_tokenizer.vocab_size},
        "search": repr(translator.search),
        "search_config": (serialize_search(translator.search) if isinstance(translator.search, SearchStrategy)
                          else None),
        "max_source_length": translator.max_source_length,
    }


def _folder_mode():
    """The mode `os.makedirs` gives a new folder: 0777 less the process's umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o777 & ~umask


class ServedTranslator:
    """A loaded export: call it with a list of strings.

    Attributes:
        path: the version folder loaded.
        version: its number (None if loaded from a bare SavedModel folder).
        metadata: what the export recorded (`export_metadata`); empty for an
            export written before it was recorded.
    """

    def __init__(self, loaded, path, version):
        self._loaded = loaded
        self._signature = loaded.signatures[SIGNATURE]
        self.path = path
        self.version = version
        self.metadata = read_metadata(path)

    def predict(self, sentences, prefixes=None):
        """Translates strings through the `serving_default` signature.

        Args:
            sentences: an iterable of strings.
            prefixes: optional, one string per sentence (or one for all) that
                its translation must start with (`translate_with_prefixes`).

        Returns:
            `(translations, scores)`: two Python lists, one entry per sentence.

        Raises:
            ValueError: prefixes for an export made before they were supported.
        """
        inputs = tf.constant(list(sentences), tf.string)
        if prefixes is None:
            outputs = self._signature(inputs=inputs)
        else:
            if PREFIX_SIGNATURE not in self._loaded.signatures:
                raise ValueError(f"The export at {self.path!r} has no {PREFIX_SIGNATURE!r} signature (made before "
                                 "prefixes were supported): export the run again.")
            prefixes = tf.constant(prefixes_for(prefixes, inputs.shape[0]), tf.string)
            n_best = self._loaded.signatures[PREFIX_SIGNATURE](inputs=inputs, prefixes=prefixes)
            outputs = {key: value[:, 0] for key, value in n_best.items()}
        return [t.decode("utf-8") for t in outputs["translations"].numpy()], outputs["scores"].numpy().tolist()

    def __call__(self, sentences, prefixes=None):
        return self.predict(sentences, prefixes)[0]

    def warm_up(self, word_counts=WARM_UP_WORDS):
        """Translates one sentence per entry of `word_counts` (words), so that first requests are fast.

        An export made with `jit_compile=True` compiles an XLA program per
        source-length bucket on first use; this compiles the common ones.
        """
        for count in word_counts:
            self.predict([warm_up_sentence(count)])


def load(path, warm_up=False):
    """Loads an export: a model folder (its newest loadable version) or one version's folder.

    In a model folder, a version that cannot be loaded (empty, incomplete,
    corrupt) is skipped with a warning and the next older one is loaded, as
    TF Serving serves the newest loadable version.

    Args:
        path: the model folder or a version folder.
        warm_up: translate a few sentences right away (`ServedTranslator.warm_up`).

    Returns:
        A `ServedTranslator`: call it with a list of strings (a
        `ServedTranscriber` for a speech export: call it with audio).

    Raises:
        ValueError: with a clear message when `path` is missing, holds no
            loadable SavedModel, is corrupt, or lacks the `serving_default` signature.

    Example:
    >>> translate = load("saved_models/dates")  # doctest: +SKIP
    >>> translate(["3 mars 2021"])  # doctest: +SKIP
    ['2021-03-03']
    """
    if not os.path.isdir(path):
        raise ValueError(f"No such export folder: {path!r}")
    if os.path.exists(os.path.join(path, "saved_model.pb")):
        name = os.path.basename(os.path.normpath(path))
        served = load_version(path, int(name) if is_version_name(name) else None)
    else:
        served = load_versions(path, newest_only=True)[-1]
    if warm_up:
        served.warm_up()
    return served


def load_versions(path, newest_only=False):
    """The loadable versions of a model folder, oldest first, skipping (with a warning) those that fail.

    Args:
        path: the model folder, holding `1/`, `2/`, ...
        newest_only: stop at the newest loadable version.

    Returns:
        A non-empty list of `ServedTranslator`s.

    Raises:
        ValueError: when no version loads (each one's reason is in the message).
    """
    found = versions(path)
    if not found:
        raise ValueError(f"{path!r} is not a SavedModel: no saved_model.pb and no numeric version folder.")
    loaded, failures = [], []
    for version in reversed(found):
        try:
            loaded.append(load_version(os.path.join(path, str(version)), version))
        except ValueError as error:
            failures.append(str(error))
            warnings.warn(f"Skipping version {version}: {error}", stacklevel=2)
            continue
        if newest_only:
            break
    if not loaded:
        raise ValueError(f"No loadable version in {path!r}: " + " ".join(failures))
    return loaded[::-1]


def load_version(path, version=None):
    """Loads one version folder as a `ServedTranslator` or `ServedTranscriber` (a clear `ValueError` if unusable)."""
    if not os.path.exists(os.path.join(path, "saved_model.pb")):
        raise ValueError(f"{path!r} is not a SavedModel: saved_model.pb is missing.")
    try:
        loaded = tf.saved_model.load(path)
    except Exception as error:  # TF raises many types for corrupt protos and variables
        raise ValueError(f"Could not load the SavedModel at {path!r} (corrupt or incompatible): "
                         f"{type(error).__name__}: {str(error).splitlines()[0][:300]}") from None
    if SIGNATURE not in loaded.signatures:
        raise ValueError(f"The SavedModel at {path!r} has no {SIGNATURE!r} signature; it has {sorted(loaded.signatures)}.")
    if WAV_SIGNATURE in loaded.signatures:
        return ServedTranscriber(loaded, path, version)
    return ServedTranslator(loaded, path, version)
