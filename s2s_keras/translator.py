"""Translator: strings in, strings out, with tokenizers and search in one graph."""

import numpy as np
import tensorflow as tf

from s2s_keras.data.tokens import PAD_ID, START_ID
from s2s_keras.decoding import GreedySearch, decode
from s2s_keras.models.seq2seq import OUTPUT_PROJECTION, SOURCE_EMBEDDING


def model_vocab_sizes(model):
    """`(source_vocab_size, target_vocab_size)` read off a registered model's layers."""
    source = model.get_layer(SOURCE_EMBEDDING)
    target = model.get_layer(OUTPUT_PROJECTION)
    source_size = getattr(source, "input_dim", None) or getattr(source, "vocab_size", None)
    target_size = getattr(target, "units", None) or getattr(target, "vocab_size", None)
    return source_size, target_size


class Translator(tf.Module):
    """Translates lists of strings with a model, two tokenizers and a search strategy.

    Everything runs in one TensorFlow graph (`translate_strings`): tokenize →
    truncate → search → detokenize, so the translator exports as a SavedModel
    (`s2s_keras.export.save`) that serves without this package. Tokenization
    stays outside XLA; with `jit_compile=True` only the search is compiled.

    Documented behaviour for awkward input: an empty (or all-white-space)
    string translates to "" with score 0; a source longer than
    `max_source_length` tokens is truncated to it; invalid UTF-8 is replaced
    (U+FFFD) by the tokenizer, never an error.

    Args:
        model: a registered model (`encode` / `initial_state` / `decode_step`).
        source_tokenizer, target_tokenizer: `s2s_keras.data` tokenizers whose
            vocabulary sizes match the model's.
        search: a search strategy (default `GreedySearch(max_length=100)`).
        max_source_length: source tokens kept per sentence.
        jit_compile: compile the search with XLA.

    Example:
    >>> translator = Translator(model, src_tok, tgt_tok, search=BeamSearch(beam_size=5, max_length=60))
    >>> translator(["¿Dónde está la biblioteca?"])
    ['Where is the library?']
    """

    def __init__(self, model, source_tokenizer, target_tokenizer, search=None, max_source_length=256,
                 jit_compile=False, name=None):
        super().__init__(name=name)
        source_size, target_size = model_vocab_sizes(model)
        if source_size != source_tokenizer.vocab_size or target_size != target_tokenizer.vocab_size:
            raise ValueError(
                "The tokenizers do not match the model's vocabularies: model source/target sizes "
                f"{source_size}/{target_size}, tokenizers {source_tokenizer.vocab_size}/{target_tokenizer.vocab_size}."
            )
        if not isinstance(max_source_length, int) or max_source_length <= 0:
            raise ValueError(f"`max_source_length` must be a positive integer. Received: {max_source_length!r}")
        self.model = model
        self.source_tokenizer = source_tokenizer
        self.target_tokenizer = target_tokenizer
        self.search = search or GreedySearch(max_length=100)
        self.max_source_length = max_source_length
        self.jit_compile = bool(jit_compile)
        self._search_ids = tf.function(self._run_search, jit_compile=self.jit_compile)

    def _run_search(self, source_ids):
        return decode(self.model, source_ids, self.search)

    def source_ids(self, inputs):
        """Strings `(batch,)` -> padded ids `(batch, ≥1)` and the true lengths `(batch,)`."""
        ids = self.source_tokenizer.tokenize(inputs)[:, : self.max_source_length]  # ragged (batch, None)
        lengths = tf.cast(ids.row_lengths(), tf.int32)
        dense = ids.to_tensor(default_value=PAD_ID)
        dense = tf.pad(dense, [[0, 0], [0, tf.maximum(1 - tf.shape(dense)[1], 0)]])  # at least one column
        return dense, lengths

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
    def translate_strings(self, inputs):
        """The serving signature: `inputs` `(None,)` -> `translations` `(None,)`, `scores` `(None,)`."""
        result = self.translate_n_best(inputs)
        return {"translations": result["translations"][:, 0], "scores": result["scores"][:, 0]}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
    def translate_n_best(self, inputs):
        """All n-best hypotheses: `translations` and `scores` `(None, n_best)`, best first."""
        source, lengths = self.source_ids(inputs)
        result = self._search_ids(source)
        batch, n_best = tf.shape(result.ids)[0], tf.shape(result.ids)[1]
        flat = tf.reshape(result.ids, [batch * n_best, -1])
        texts = tf.reshape(self.target_tokenizer.detokenize(flat), [batch, n_best])
        empty = tf.equal(lengths, 0)[:, tf.newaxis]
        return {
            "translations": tf.where(empty, tf.constant(""), texts),
            "scores": tf.where(empty, 0.0, result.scores),
        }

    def __call__(self, sentences, return_scores=False, n_best=False):
        """Translates a list of strings.

        Args:
            sentences: a list of `str` (or one `str`).
            return_scores: also return the scores.
            n_best: return every hypothesis of the search (a list per sentence).

        Returns:
            A list of translations (lists with `n_best`), and with
            `return_scores` a second list of scores.
        """
        single = isinstance(sentences, (str, bytes))
        inputs = tf.constant([sentences] if single else list(sentences), tf.string)
        if inputs.shape[0] == 0:
            return ([], []) if return_scores else []
        if n_best:
            result = self.translate_n_best(inputs)
            texts = [[t.decode("utf-8") for t in row] for row in result["translations"].numpy()]
            scores = result["scores"].numpy().tolist()
        else:
            result = self.translate_strings(inputs)
            texts = [t.decode("utf-8") for t in result["translations"].numpy()]
            scores = result["scores"].numpy().tolist()
        if single:
            texts, scores = texts[0], scores[0]
        return (texts, scores) if return_scores else texts

    def attention(self, sentence, translation=None):
        """Attention weights `(tgt_len + 1, src_len)` of `translation` (default: the model's own).

        Rows are the output tokens and [END]; columns the source tokens.
        Returns `(weights, source_ids, target_ids)` as numpy arrays.
        """
        if translation is None:
            translation = self([sentence])[0]
        source, _ = self.source_ids(tf.constant([sentence]))
        target = self.target_tokenizer.tokenize(tf.constant([translation])).to_tensor()
        target_in = tf.concat([[[START_ID]], tf.cast(target, tf.int32)], axis=1)
        weights = self.model.attention_weights(source, target_in)[0]
        return np.asarray(weights), source.numpy()[0], target.numpy()[0]
