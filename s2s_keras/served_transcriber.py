"""A loaded speech export (`export.load`): call it with waveforms, WAV paths or WAV bytes."""

import numpy as np
import tensorflow as tf

from s2s_keras.data.audio import pad_waveforms
from s2s_keras.export_metadata_file import read_metadata

WAV_SIGNATURE = "transcribe_wav"  # audio: WAV contents tf.string (None,) -> transcripts, scores


class ServedTranscriber:
    """A loaded speech export.

    Attributes:
        path: the version folder loaded.
        version: its number (None if loaded from a bare SavedModel folder).
        metadata: what the export recorded (`Transcriber.export_metadata`).
        sample_rate: the waveforms' expected samples per second.
    """

    kind = "speech"

    def __init__(self, loaded, path, version):
        self._loaded = loaded
        self.path = path
        self.version = version
        self.metadata = read_metadata(path)
        self.sample_rate = self.metadata.get("sample_rate")

    def predict(self, audio):
        """Transcribes a list of WAV contents (`bytes`), WAV paths or 1-D float waveforms.

        Returns:
            `(transcripts, scores)`: two lists, one entry per item.

        Raises:
            ValueError: for a file that cannot be read, bytes that are not a
                WAV, or a WAV at another sample rate.
        """
        items = list(audio)
        if not items:
            return [], []
        try:
            if all(isinstance(item, (bytes, str)) for item in items):
                contents = [read_file(item) if isinstance(item, str) else item for item in items]
                outputs = self._loaded.signatures[WAV_SIGNATURE](audio=tf.constant(contents, tf.string))
            else:
                padded, lengths = pad_waveforms(items)
                outputs = self._loaded.signatures["serving_default"](waveforms=tf.constant(padded),
                                                                     lengths=tf.constant(lengths))
        except tf.errors.InvalidArgumentError as error:
            raise ValueError(f"Could not read the audio: {audio_error_message(error)}") from None
        return [t.decode("utf-8") for t in outputs["transcripts"].numpy()], outputs["scores"].numpy().tolist()

    def __call__(self, audio):
        return self.predict(audio)[0]

    def warm_up(self, seconds=(1.0, 3.0)):
        """Transcribes a little noise of each length, so that the first requests are fast."""
        rate = self.sample_rate or 8000
        rng = np.random.default_rng(0)
        for length in seconds:
            self.predict([rng.normal(0, 0.01, int(length * rate)).astype(np.float32)])


def audio_error_message(error):
    """The line of a TensorFlow error that says what was wrong with the audio (not where the graph failed)."""
    for line in error.message.splitlines():
        line = line.strip()
        if line and not line.startswith(("Graph execution error", "Detected at", "File ", "[[", "<stack traces")):
            return line.replace("assertion failed: ", "").split(" [Condition")[0][:300]
    return error.message.splitlines()[0][:300]


def read_file(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as error:
        raise ValueError(f"Could not read {path!r}: {error.strerror}") from None
