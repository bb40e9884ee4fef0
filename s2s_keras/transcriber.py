"""Transcriber: audio in, text out, with the front end, search and detokenizer in one graph."""

import numpy as np
import tensorflow as tf

from s2s_keras.checks import check_positive_int
from s2s_keras.data.audio import pad_waveforms
from s2s_keras.data.special_ids import model_special_ids, special_ids_of
from s2s_keras.decoding import GreedySearch, decode
from s2s_keras.models.seq2seq import model_vocab_sizes
from s2s_keras.served_transcriber import audio_error_message, read_file

DEFAULT_MAX_SECONDS = 60.0
DEFAULT_MAX_TARGET_LENGTH = 200


class Transcriber(tf.Module):
    """Transcribes waveforms or WAV files with a speech model, a target tokenizer and a search strategy.

    Everything runs in one TensorFlow graph: waveform → log-mel frames →
    encoder → search → detokenize, so the transcriber exports as a SavedModel
    (`s2s_keras.export.save`) whose `serving_default` takes float32
    `waveforms` `(batch, samples)` with their `lengths` `(batch,)`, and whose
    `transcribe_wav` takes WAV file contents (`tf.string (batch,)`), both
    returning `transcripts` and `scores`.

    Documented behaviour for awkward input: an empty or silent (all-zero)
    waveform transcribes to "" with score 0; samples past a row's length are ignored;
    audio longer than `max_seconds` is cut to it; a WAV at another sample rate
    or bytes that are not a WAV raise an error naming the problem.

    Args:
        model: a speech model from the registry (`SpeechSeq2SeqModel`).
        target_tokenizer: the tokenizer of the transcripts, matching the model's
            target vocabulary and special ids.
        search: a search strategy (default `GreedySearch(max_length=200)`).
        max_seconds: audio kept per utterance.

    Example:
    >>> transcriber = Transcriber(model, tgt_tok, search=BeamSearch(beam_size=5))  # doctest: +SKIP
    >>> transcriber([waveform])  # float32 at model.sample_rate  # doctest: +SKIP
    ['four one seven']
    """

    def __init__(self, model, target_tokenizer, search=None, max_seconds=DEFAULT_MAX_SECONDS, name=None):
        super().__init__(name=name)
        if getattr(model, "source_kind", "tokens") != "audio":
            raise ValueError(f"A Transcriber needs a speech model (e.g. build_model('las', ...)); {model.name!r} "
                             "reads token ids: use a Translator.")
        _, target_size = model_vocab_sizes(model)
        if target_size != target_tokenizer.vocab_size:
            raise ValueError(f"The tokenizer does not match the model's target vocabulary: model {target_size}, "
                             f"tokenizer {target_tokenizer.vocab_size}.")
        if special_ids_of(target_tokenizer) != model_special_ids(model)[1]:
            raise ValueError(f"The tokenizer's special ids {special_ids_of(target_tokenizer).to_config()} are not the "
                             f"model's {model_special_ids(model)[1].to_config()}: use the tokenizer it was trained with.")
        if not max_seconds > 0:
            raise ValueError(f"`max_seconds` must be positive. Received: max_seconds={max_seconds!r}")
        object.__setattr__(self, "model", model)  # untracked: the export saves its variables, not its optimizer
        self._model_variables = list(model.variables)
        self.target_tokenizer = target_tokenizer
        self.search = search or GreedySearch(max_length=DEFAULT_MAX_TARGET_LENGTH)
        self.sample_rate = check_positive_int("sample_rate", int(model.sample_rate))
        self.max_seconds = float(max_seconds)
        self.max_samples = int(self.max_seconds * self.sample_rate)
        self._search_ids = tf.function(lambda waveforms: decode(self.model, waveforms, self.search,
                                                                static_shapes=False))

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32, name="waveforms"),
                                  tf.TensorSpec([None], tf.int32, name="lengths")])
    def transcribe_waveforms(self, waveforms, lengths):
        """The serving signature: waveforms `(None, None)` and lengths `(None,)` -> `transcripts`, `scores` `(None,)`."""
        lengths = tf.clip_by_value(lengths, 0, tf.minimum(tf.shape(waveforms)[1], self.max_samples))
        waveforms = waveforms[:, : self.max_samples]
        waveforms = tf.where(tf.sequence_mask(lengths, tf.shape(waveforms)[1]), waveforms, 0.0)
        waveforms = waveforms[:, : tf.maximum(tf.reduce_max(lengths), 1)]  # (batch, longest)
        result = self._search_ids(waveforms)
        texts = self.target_tokenizer.detokenize(result.ids[:, 0])
        silent = tf.equal(tf.reduce_max(tf.abs(waveforms), axis=1), 0.0)  # empty, or all zeros: nothing to say
        return {"transcripts": tf.where(silent, tf.constant(""), texts),
                "scores": tf.where(silent, 0.0, result.scores[:, 0])}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="audio")])
    def transcribe_wav(self, audio):
        """WAV file contents `(None,)` -> `transcripts`, `scores` `(None,)` (mono or the first channel)."""
        waveforms, lengths = self.decode_wav(audio)
        return self.transcribe_waveforms(waveforms, lengths)

    def decode_wav(self, audio):
        """WAV contents `(batch,)` -> zero-padded float32 waveforms `(batch, samples)` and lengths `(batch,)`."""
        def one(contents):
            waveform, rate = tf.audio.decode_wav(contents, desired_channels=1)
            tf.debugging.assert_equal(rate, self.sample_rate,
                                      message=f"a WAV file has another sample rate than the model ({self.sample_rate} Hz)")
            return waveform[:, 0]

        ragged = tf.map_fn(one, audio, fn_output_signature=tf.RaggedTensorSpec([None], tf.float32, ragged_rank=0))
        return ragged.to_tensor(0.0), tf.cast(ragged.row_lengths(), tf.int32)

    def __call__(self, audio, return_scores=False):
        """Transcribes a list of waveforms (float arrays at `sample_rate`), or of WAV paths or WAV bytes.

        Args:
            audio: one item or a list: 1-D float arrays, or WAV file paths and WAV contents (`bytes`).
            return_scores: also return the scores.

        Returns:
            A list of transcripts (one string for one item), and with
            `return_scores` the scores.
        """
        single = isinstance(audio, (str, bytes)) or (isinstance(audio, np.ndarray) and audio.ndim == 1)
        items = [audio] if single else list(audio)
        if not items:
            return ([], []) if return_scores else []
        files = [isinstance(item, (str, bytes)) for item in items]
        if any(files) and not all(files):
            raise ValueError("Give WAV files (paths or bytes) or waveforms (float arrays) in one call, not both.")
        if all(files):
            contents = [read_file(item) if isinstance(item, str) else item for item in items]
            try:
                result = self.transcribe_wav(tf.constant(contents, tf.string))
            except tf.errors.InvalidArgumentError as error:
                raise ValueError(f"Could not read the audio: {audio_error_message(error)}") from None
        else:
            padded, lengths = pad_waveforms(items)
            result = self.transcribe_waveforms(tf.constant(padded), tf.constant(lengths))
        texts = [t.decode("utf-8") for t in result["transcripts"].numpy()]
        scores = result["scores"].numpy().tolist()
        if single:
            texts, scores = texts[0], scores[0]
        return (texts, scores) if return_scores else texts

    def attention(self, waveform, transcript=None):
        """Attention weights of `transcript` (default: the model's own) over the encoder's output steps.

        Args:
            waveform: a 1-D float array at `sample_rate`.
            transcript: the text to force (default: what the transcriber outputs).

        Returns:
            `(weights, target_ids)`: weights `(tokens + 1, encoder steps)` (the
            last row is [END]; a Transformer's have a head axis first) and the
            transcript's ids. Each encoder step covers `2**reductions` frames
            of 10 ms (`las`) or 4 frames (`speech_transformer`).
        """
        if transcript is None:
            transcript = self([waveform])[0]
        audio = np.asarray(waveform, np.float32).reshape(1, -1)  # (1, samples)
        target = tf.cast(self.target_tokenizer.tokenize(tf.constant([transcript])).to_tensor(), tf.int32)
        target_in = tf.concat([[[self.target_tokenizer.start_id]], target], axis=1)  # (1, tokens + 1)
        weights = self.model.attention_weights(audio, target_in)[0]
        return np.asarray(weights), target.numpy()[0]

    def serving_signatures(self):
        """The export's signatures: `serving_default` (waveforms, lengths) and `transcribe_wav` (audio)."""
        return {"serving_default": self.transcribe_waveforms.get_concrete_function(),
                "transcribe_wav": self.transcribe_wav.get_concrete_function()}

    def export_metadata(self):
        """What an export records beside its graph (see `export.export_metadata`)."""
        from s2s_keras.decoding.search import SearchStrategy, serialize_search

        return {"kind": "speech", "sample_rate": self.sample_rate, "max_seconds": self.max_seconds,
                "special_ids": {"target": self.target_tokenizer.special_ids.to_config()},
                "vocab_sizes": {"target": self.target_tokenizer.vocab_size}, "search": repr(self.search),
                "search_config": serialize_search(self.search) if isinstance(self.search, SearchStrategy) else None}

