"""Export a Translator as a string-to-string SavedModel in TF Serving's layout, and load it back.

`save(translator, "saved_models/NAME")` writes `saved_models/NAME/<version>/`
with the signature `serving_default`: `inputs: tf.string (None,)` ->
`translations: tf.string (None,)`, `scores: float32 (None,)`; also
`translate_n_best`. Tokenizer vocabularies travel as assets; the SavedModel
loads in a process that imports only `tensorflow` and `tensorflow_text`.
"""

import os
import shutil
import tempfile

import tensorflow as tf

from s2s_keras.translator import WARM_UP_WORDS, warm_up_sentence

SIGNATURE = "serving_default"
N_BEST_SIGNATURE = "translate_n_best"


def versions(path):
    """The numeric version folders under `path`, sorted ascending."""
    if not os.path.isdir(path):
        return []
    return sorted(int(name) for name in os.listdir(path) if name.isdigit() and os.path.isdir(os.path.join(path, name)))


def save(translator, path, version=None):
    """Writes `translator` as the next version under `path` and returns that version's folder.

    The SavedModel is written to a hidden temporary folder beside the versions
    and renamed into place, so a failed export leaves no partial version and
    never touches an existing one (TF Serving ignores non-numeric folders).

    Args:
        translator: a `s2s_keras.Translator`.
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
    if version is None:
        version = (versions(path) or [0])[-1] + 1
    if not isinstance(version, int) or version <= 0:
        raise ValueError(f"`version` must be a positive integer. Received: version={version!r}")
    final = os.path.join(path, str(version))
    if os.path.exists(final):
        raise ValueError(f"Version {version} already exists at {final!r}; nothing was written.")
    staging = tempfile.mkdtemp(prefix=f".export-{version}-", dir=path)
    try:
        signatures = {
            SIGNATURE: translator.translate_strings.get_concrete_function(),
            N_BEST_SIGNATURE: translator.translate_n_best.get_concrete_function(),
        }
        tf.saved_model.save(translator, staging, signatures=signatures)
        os.chmod(staging, _folder_mode())  # mkdtemp's 0700 would hide it from a server run by another user
        os.rename(staging, final)  # atomic on one file system; fails rather than replace
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final


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
    """

    def __init__(self, loaded, path, version):
        self._loaded = loaded
        self._signature = loaded.signatures[SIGNATURE]
        self.path = path
        self.version = version

    def predict(self, sentences):
        """Translates strings through the `serving_default` signature.

        Args:
            sentences: an iterable of strings.

        Returns:
            `(translations, scores)`: two Python lists, one entry per sentence.
        """
        outputs = self._signature(inputs=tf.constant(list(sentences), tf.string))
        return [t.decode("utf-8") for t in outputs["translations"].numpy()], outputs["scores"].numpy().tolist()

    def __call__(self, sentences):
        return self.predict(sentences)[0]

    def warm_up(self, word_counts=WARM_UP_WORDS):
        """Translates one sentence per entry of `word_counts` (words), so that first requests are fast.

        An export made with `jit_compile=True` compiles an XLA program per
        source-length bucket on first use; this compiles the common ones.
        """
        for count in word_counts:
            self.predict([warm_up_sentence(count)])


def load(path, warm_up=False):
    """Loads an export: a model folder (newest version) or one version's folder.

    Args:
        path: the model folder or a version folder.
        warm_up: translate a few sentences right away (`ServedTranslator.warm_up`).

    Returns:
        A `ServedTranslator`: call it with a list of strings.

    Raises:
        ValueError: with a clear message when `path` is missing, holds no
            SavedModel, is corrupt, or lacks the `serving_default` signature.

    Example:
    >>> translate = load("saved_models/dates")  # doctest: +SKIP
    >>> translate(["3 mars 2021"])  # doctest: +SKIP
    ['2021-03-03']
    """
    if not os.path.isdir(path):
        raise ValueError(f"No such export folder: {path!r}")
    version = None
    if not os.path.exists(os.path.join(path, "saved_model.pb")):
        found = versions(path)
        if not found:
            raise ValueError(f"{path!r} is not a SavedModel: no saved_model.pb and no numeric version folder.")
        version = found[-1]
        path = os.path.join(path, str(version))
        if not os.path.exists(os.path.join(path, "saved_model.pb")):
            raise ValueError(f"{path!r} is not a SavedModel: saved_model.pb is missing.")
    elif os.path.basename(os.path.normpath(path)).isdigit():
        version = int(os.path.basename(os.path.normpath(path)))
    try:
        loaded = tf.saved_model.load(path)
    except Exception as error:  # TF raises many types for corrupt protos and variables
        raise ValueError(f"Could not load the SavedModel at {path!r} (corrupt or incompatible): "
                         f"{type(error).__name__}: {str(error).splitlines()[0][:300]}") from None
    if SIGNATURE not in loaded.signatures:
        raise ValueError(f"The SavedModel at {path!r} has no {SIGNATURE!r} signature; it has {sorted(loaded.signatures)}.")
    served = ServedTranslator(loaded, path, version)
    if warm_up:
        served.warm_up()
    return served
