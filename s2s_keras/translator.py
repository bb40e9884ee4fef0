"""Translator: strings in, strings out, with tokenizers and search in one graph."""

import warnings

import numpy as np
import tensorflow as tf

from s2s_keras.checks import check_positive_int
from s2s_keras.cpu_threads import decoding_loops
from s2s_keras.data.special_ids import PAD_ID, model_special_ids, special_ids_of
from s2s_keras.decoding import GreedySearch, decode
from s2s_keras.models.precision import fastest_exact_precision, inference_copy
from s2s_keras.models.seq2seq import SOURCE_EMBEDDING, TARGET_EMBEDDING, model_vocab_sizes


def model_position_limits(model):
    """`(source, target)` positions a model can embed: the rows of learned position tables, None if unlimited.

    For an `Ensemble`, the fewest of its members'.
    """
    if hasattr(model, "members"):
        limits = [model_position_limits(member) for member in model.members]
        return tuple(min((l[i] for l in limits if l[i] is not None), default=None) for i in range(2))

    def limit(name):
        try:
            layer = model.get_layer(name)
        except ValueError:  # shared embeddings: one layer
            layer = model.get_layer(SOURCE_EMBEDDING)
        return layer.max_length if getattr(layer, "positions", None) == "learned" else None

    return limit(SOURCE_EMBEDDING), limit(TARGET_EMBEDDING)


DEFAULT_MAX_SOURCE_LENGTH = 256
DEFAULT_MAX_TARGET_LENGTH = 100  # of the default search
WARM_UP_WORDS = (3, 10, 24)  # about the source-length buckets 8, 16 and 32 for most tokenizers


def warm_up_sentence(words):
    """A sentence of `words` words ("a a a …") for warming up a translator."""
    return " ".join(["a"] * words)


def _smallest_bucket(size, buckets):
    """The smallest of the ascending int32 `buckets` that is >= `size`; `size` itself when none is."""
    fits = buckets >= size
    return tf.where(tf.reduce_any(fits), tf.reduce_min(tf.where(fits, buckets, tf.int32.max)), size)


def pad_to_buckets(source_ids, max_source_length, pad_id=PAD_ID):
    """Pads `(batch, src_len)` ids to a few shapes, so that XLA compiles a handful of programs.

    The length goes up to the next power of two from 8 (capped at
    `max_source_length`) with `pad_id`, which every model masks (the
    padding-invariance tests hold it to the unpadded result). The batch goes up
    to the next power of two with copies of the first row, which finish when it
    does, so they never lengthen the search.

    Returns:
        The padded ids `(batch', src_len')`.
    """
    batch, width = tf.shape(source_ids)[0], tf.shape(source_ids)[1]
    lengths = [8 * 2**i for i in range(16) if 8 * 2**i < max_source_length] + [max_source_length]
    target_width = _smallest_bucket(width, tf.constant(lengths, tf.int32))
    target_batch = _smallest_bucket(batch, tf.constant([2**i for i in range(17)], tf.int32))
    padded = tf.pad(source_ids, [[0, 0], [0, target_width - width]], constant_values=pad_id)
    copies = tf.repeat(padded[:1], target_batch - batch, axis=0)
    return tf.concat([padded, copies], axis=0)


def prefixes_for(prefixes, count):
    """`prefixes` as a list of `count` strings: one per sentence, or one string for all."""
    prefixes = [prefixes] * count if isinstance(prefixes, str) else list(prefixes)
    if len(prefixes) != count:
        raise ValueError(f"{len(prefixes)} prefixes for {count} sentences: give one per sentence.")
    return prefixes


def check_special_ids(model, source_tokenizer, target_tokenizer):
    """Raises a clear ValueError when the tokenizers' special ids are not those the model was built with."""
    for side, tokenizer, expected in zip(("source", "target"), (source_tokenizer, target_tokenizer),
                                         model_special_ids(model)):
        if special_ids_of(tokenizer) != expected:
            raise ValueError(f"The {side} tokenizer's special ids {special_ids_of(tokenizer).to_config()} are not the "
                             f"model's {expected.to_config()}: use the tokenizers the model was trained with.")


class Translator(tf.Module):
    """Translates lists of strings with a model, two tokenizers and a search strategy.

    Everything runs in one TensorFlow graph (`translate_strings`): tokenize →
    truncate → search → detokenize, so the translator exports as a SavedModel
    (`s2s_keras.export.save`) that serves without this package. Tokenization
    stays outside XLA; with `jit_compile=True` only the encoder and the search
    are compiled, for sources padded to a few shapes (`pad_to_buckets`:
    lengths 8, 16, 32, … and batch sizes 1, 2, 4, …), each compiled on its
    first use; `warm_up()` compiles the common ones ahead of requests.

    Documented behaviour for awkward input: an empty (or all-white-space)
    string translates to "" with score 0; a source longer than
    `max_source_length` tokens is truncated to it; invalid UTF-8 is replaced
    (U+FFFD) by the tokenizer, never an error.

    Args:
        model: a registered model (`encode` / `initial_state` / `decode_step`),
            or a `models.Ensemble` of them.
        source_tokenizer, target_tokenizer: `s2s_keras.data` tokenizers whose
            vocabulary sizes match the model's.
        search: a search strategy (default `GreedySearch(max_length=100)`, or
            fewer steps when the model's learned target positions are fewer);
            its `max_length` must not exceed them.
        max_source_length: source tokens kept per sentence (default 256, or
            fewer when the model's learned source positions are fewer).
        jit_compile: compile the encoder and search with XLA: lower latency
            for one sentence, where per-op overhead dominates, but slower on
            batches (fixed shapes: every source stays in the loop).
        fastest_precision: decode with a copy of `model` in the precision
            that gives its own outputs fastest (`models.fastest_exact_precision`:
            bfloat16 weights for a `mixed_bfloat16` Transformer; the same
            translations, word for word). The copy is made once, here: pass
            False to decode `model` itself, e.g. while it is still training.
        parallel_loops: each batch is split into this many parts, searched
            side by side in one graph (`decoding.decode`; the same
            translations). Default: `cpu_threads.decoding_loops()`, one per
            core on a machine with at most 2 cores when the process runs one
            thread per op (`cpu_threads.use_intra_op_threads(1)`, which the
            command line's decoding commands set there): beam search then
            translates about 1.5× as many sentences a second; else 1.

    Example:
    >>> translator = Translator(model, src_tok, tgt_tok,  # doctest: +SKIP
    ...                         search=BeamSearch(beam_size=5, max_length=60))
    >>> translator(["¿Dónde está la biblioteca?"])  # doctest: +SKIP
    ['Where is the library?']
    """

    def __init__(self, model, source_tokenizer, target_tokenizer, search=None, max_source_length=None,
                 jit_compile=False, fastest_precision=True, parallel_loops=None, name=None):
        super().__init__(name=name)
        source_size, target_size = model_vocab_sizes(model)
        if source_size != source_tokenizer.vocab_size or target_size != target_tokenizer.vocab_size:
            raise ValueError(
                "The tokenizers do not match the model's vocabularies: model source/target sizes "
                f"{source_size}/{target_size}, tokenizers {source_tokenizer.vocab_size}/{target_tokenizer.vocab_size}."
            )
        check_special_ids(model, source_tokenizer, target_tokenizer)
        source_limit, target_limit = model_position_limits(model)
        if max_source_length is None:
            max_source_length = min(DEFAULT_MAX_SOURCE_LENGTH, source_limit or DEFAULT_MAX_SOURCE_LENGTH)
        check_positive_int("max_source_length", max_source_length)
        if source_limit is not None and max_source_length > source_limit:
            raise ValueError(f"`max_source_length` {max_source_length} is more than the model's {source_limit} "
                             "learned source positions.")
        if search is None:
            search = GreedySearch(max_length=min(DEFAULT_MAX_TARGET_LENGTH, target_limit or DEFAULT_MAX_TARGET_LENGTH))
        search_length = getattr(search, "max_length", None)
        if target_limit is not None and search_length is not None and search_length > target_limit:
            raise ValueError(f"The search's max_length {search_length} is more than the model's {target_limit} "
                             "learned target positions.")
        precision = fastest_exact_precision(model) if fastest_precision else None
        if precision is not None:
            model = inference_copy(model, precision)
        # The model is held without tracking and its variables are tracked instead, so that an export saves
        # the weights the searches read and not what a compiled model also holds (its optimizer's state).
        object.__setattr__(self, "model", model)
        self._model_variables = list(model.variables)
        self.source_tokenizer = source_tokenizer
        self.target_tokenizer = target_tokenizer
        self.search = search
        self.max_source_length = max_source_length
        self.jit_compile = bool(jit_compile)
        self.parallel_loops = decoding_loops() if parallel_loops is None else check_positive_int(
            "parallel_loops", parallel_loops)
        self._search_ids = tf.function(self._run_search, jit_compile=self.jit_compile)
        object.__setattr__(self, "_one_loop", None)  # untracked: an export saves this translator's graphs only

    def one_loop_copy(self):
        """This translator with one search loop, for callers that run `parallel_loops` of them side by side.

        `evaluation.translate_all` decodes its batches on `parallel_loops`
        threads, each through this copy (the same model, tokenizers and
        search; made and traced once): a loop that ends its batch starts the
        next instead of waiting for the other parts of the same batch.

        Returns:
            The copy, or this translator itself when it has one loop, compiles
            with XLA, or searches rows that do not decode alike in any batch
            (sampling), which keep one loop per batch.

        Example:
        >>> translator.one_loop_copy().parallel_loops  # doctest: +SKIP
        1
        """
        if (self.parallel_loops == 1 or self.jit_compile
                or not getattr(self.search, "rows_decode_alike_anywhere", False)):
            return self
        if self._one_loop is None:
            object.__setattr__(self, "_one_loop", Translator(
                self.model, self.source_tokenizer, self.target_tokenizer, search=self.search,
                max_source_length=self.max_source_length, fastest_precision=False, parallel_loops=1))
        return self._one_loop

    def _run_search(self, source_ids, prefix_ids=None):
        return decode(self.model, source_ids, self.search, static_shapes=self.jit_compile, prefix_ids=prefix_ids,
                      parallel_loops=self.parallel_loops)

    def search_ids(self, source_ids, prefix_ids=None):
        """Decodes padded ids `(batch, src_len)` -> a `DecodeResult` (XLA on bucketed shapes when jit).

        `prefix_ids` `(batch, width)`, right-padded with the target padding id,
        forces the start of each output (see `decode`).
        """
        if not self.jit_compile:
            return self._search_ids(source_ids, prefix_ids)
        batch = tf.shape(source_ids)[0]
        padded = pad_to_buckets(source_ids, self.max_source_length, self.source_tokenizer.pad_id)
        if prefix_ids is not None:  # bucketed like the sources: copies of row 0 for the extra rows
            prefix_ids = pad_to_buckets(prefix_ids, self.search.max_length, self.target_tokenizer.pad_id)
            prefix_ids = prefix_ids[: tf.shape(padded)[0]]
        result = self._search_ids(padded, prefix_ids)
        return tf.nest.map_structure(lambda t: t[:batch], result)

    def source_ids(self, inputs):
        """Strings `(batch,)` -> padded ids `(batch, ≥1)` and the true lengths `(batch,)`."""
        ids = self.source_tokenizer.tokenize(inputs)[:, : self.max_source_length]  # ragged (batch, None)
        lengths = tf.cast(ids.row_lengths(), tf.int32)
        dense = ids.to_tensor(default_value=self.source_tokenizer.pad_id)
        dense = tf.pad(dense, [[0, 0], [0, tf.maximum(1 - tf.shape(dense)[1], 0)]],
                       constant_values=self.source_tokenizer.pad_id)  # at least one column
        return dense, lengths

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
    def translate_strings(self, inputs):
        """The serving signature: `inputs` `(None,)` -> `translations` `(None,)`, `scores` `(None,)`."""
        result = self.translate_n_best(inputs)
        return {"translations": result["translations"][:, 0], "scores": result["scores"][:, 0]}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
    def translate_n_best(self, inputs):
        """All n-best hypotheses: `translations` and `scores` `(None, n_best)`, best first."""
        return self._translate(inputs)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs"),
                                  tf.TensorSpec([None], tf.string, name="prefixes")])
    def translate_with_prefixes(self, inputs, prefixes):
        """Like `translate_n_best`, each translation starting with its prefix (a string, "" for none)."""
        prefix = self.target_tokenizer.tokenize(prefixes)[:, : self.search.max_length - 1]
        prefix_ids = tf.cast(prefix.to_tensor(default_value=self.target_tokenizer.pad_id), tf.int32)
        prefix_ids = tf.pad(prefix_ids, [[0, 0], [0, tf.maximum(1 - tf.shape(prefix_ids)[1], 0)]],
                            constant_values=self.target_tokenizer.pad_id)  # at least one column
        return self._translate(inputs, prefix_ids)

    def _translate(self, inputs, prefix_ids=None):
        source, lengths = self.source_ids(inputs)
        result = self.search_ids(source, prefix_ids)
        batch, n_best = tf.shape(result.ids)[0], tf.shape(result.ids)[1]
        flat = tf.reshape(result.ids, [batch * n_best, -1])
        texts = tf.reshape(self.target_tokenizer.detokenize(flat), [batch, n_best])
        empty = tf.equal(lengths, 0)[:, tf.newaxis]
        return {
            "translations": tf.where(empty, tf.constant(""), texts),
            "scores": tf.where(empty, 0.0, result.scores),
        }

    def __call__(self, sentences, return_scores=False, return_n_best=False, n_best=None, prefixes=None):
        """Translates a list of strings.

        Args:
            sentences: a list of `str` (or one `str`).
            prefixes: optional, one string per sentence (or one for all) that
                its translation must start with, e.g. the words a user has
                typed already ("" for none); the search continues from it.
            return_scores: also return the scores.
            return_n_best: return every hypothesis the search keeps (its
                `n_best`, e.g. `BeamSearch(n_best=3)`), a list per sentence.
            n_best: the former name of `return_n_best` (deprecated).

        Returns:
            A list of translations (lists with `return_n_best`), and with
            `return_scores` a second list of scores.
        """
        if n_best is not None:
            warnings.warn("`Translator(...)(n_best=...)` is now `return_n_best=...`.", DeprecationWarning,
                          stacklevel=2)
            return_n_best = return_n_best or bool(n_best)
        single = isinstance(sentences, (str, bytes))
        inputs = tf.constant([sentences] if single else list(sentences), tf.string)
        if inputs.shape[0] == 0:
            return ([], []) if return_scores else []
        if prefixes is not None:
            prefixes = tf.constant(prefixes_for(prefixes, inputs.shape[0]), tf.string)
            result = self.translate_with_prefixes(inputs, prefixes)
            if not return_n_best:
                result = {key: value[:, 0] for key, value in result.items()}
        elif return_n_best:
            result = self.translate_n_best(inputs)
        else:
            result = self.translate_strings(inputs)
        texts = tf.nest.map_structure(lambda t: t.decode("utf-8"), result["translations"].numpy().tolist())
        scores = result["scores"].numpy().tolist()
        if single:
            texts, scores = texts[0], scores[0]
        return (texts, scores) if return_scores else texts

    def warm_up(self, word_counts=WARM_UP_WORDS):
        """Translates one sentence of each of `word_counts` words, so that first requests are fast.

        With `jit_compile=True` each call compiles the XLA program of one
        source-length bucket at batch 1 (seconds each); without it, this only
        traces the graph once.
        """
        for count in word_counts:
            self.translate_strings(tf.constant([warm_up_sentence(count)]))

    def attention(self, sentence, translation=None):
        """Attention weights `(tgt_len + 1, src_len)` of `translation` (default: the model's own).

        Rows are the output tokens and [END]; columns the source tokens.
        Returns `(weights, source_ids, target_ids)` as numpy arrays.
        """
        if translation is None:
            translation = self([sentence])[0]
        source, _ = self.source_ids(tf.constant([sentence]))
        target = self.target_tokenizer.tokenize(tf.constant([translation])).to_tensor()
        target_in = tf.concat([[[self.target_tokenizer.start_id]], tf.cast(target, tf.int32)], axis=1)
        weights = self.model.attention_weights(source, target_in)[0]
        return np.asarray(weights), source.numpy()[0], target.numpy()[0]
