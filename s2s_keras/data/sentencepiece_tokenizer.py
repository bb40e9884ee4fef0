"""A SentencePiece tokenizer: trained with `sentencepiece`, applied with tensorflow-text.

The model is trained on normalised text (`normalization.py`) with the
identity normalisation rule, so SentencePiece changes nothing more and
`detokenize(tokenize(x)) == normalize(x)`. White space is a symbol of its own
("▁"), so spacing is restored exactly. With `byte_fallback` (the default) an
unseen character is spelled with byte tokens `<0x..>` instead of `[UNK]`, so
every text round-trips. Models trained here reserve ids 0-3 (the trainer's
`pad_id`, `unk_id`, `bos_id`, `eos_id` flags); a model trained elsewhere keeps
its own special ids (`special_ids`), and one without a padding or
beginning-of-sentence piece gets an extra id for it after its pieces
(`spm_train`'s defaults: unk 0, bos 1, eos 2, pad = the piece count).

The serialized model is a file held by a `tf.saved_model.Asset`, so a
SavedModel holding this tokenizer carries it in `assets/` like the other
tokenizers' vocabularies. The graph itself cannot read it from there:
tensorflow-text's `SentencepieceOp` takes the model as an op attribute, so
the model is also embedded in the graph (about the file's size again).
"""

import functools
import io
import os

import sentencepiece
import tensorflow as tf
import tensorflow_text as text

from s2s_keras.data.normalization import normalize_text
from s2s_keras.data.tokenizer import Tokenizer, iterate_normalized, new_asset_directory
from s2s_keras.data.special_ids import END_ID, PAD_ID, RESERVED_TOKENS, START_ID, UNK_ID, SpecialIds

MODEL_FILENAME = "sentencepiece.model"
MODEL_TYPES = ("unigram", "bpe")
BYTE_TOKENS = 256


def train_sentencepiece_model(texts, vocab_size, *, model_type="unigram", byte_fallback=True,
                              character_coverage=0.9995, max_sentences=None, seed=0):
    """Trains a SentencePiece model with the reserved tokens at ids 0-3.

    Args:
        texts: an iterable of normalised Python strings.
        vocab_size: the vocabulary size wanted, reserved ids included (a soft
            limit: a small corpus may give fewer).
        model_type: "unigram" (default) or "bpe".
        byte_fallback: spell unseen characters with 256 byte tokens.
        character_coverage: share of characters covered by character tokens.
        max_sentences: train on a random sample of this many sentences (default: all).
        seed: the trainer's random seed.

    Returns:
        The serialized model (`bytes`).
    """
    if model_type not in MODEL_TYPES:
        raise ValueError(f"`model_type` must be one of {MODEL_TYPES}. Received: model_type={model_type!r}")
    smallest = len(RESERVED_TOKENS) + (BYTE_TOKENS if byte_fallback else 0) + 1
    if vocab_size < smallest:
        raise ValueError(
            f"`vocab_size` must be at least {smallest} (reserved and byte tokens). Received: vocab_size={vocab_size}"
        )
    sentencepiece.set_random_generator_seed(seed)
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=(t for t in texts if t),
        model_writer=model,
        vocab_size=vocab_size,
        model_type=model_type,
        byte_fallback=byte_fallback,
        character_coverage=character_coverage,
        hard_vocab_limit=False,
        input_sentence_size=max_sentences or 0,
        shuffle_input_sentence=True,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        pad_id=PAD_ID, unk_id=UNK_ID, bos_id=START_ID, eos_id=END_ID,
        pad_piece=RESERVED_TOKENS[PAD_ID], unk_piece=RESERVED_TOKENS[UNK_ID],
        bos_piece=RESERVED_TOKENS[START_ID], eos_piece=RESERVED_TOKENS[END_ID],
        num_threads=os.cpu_count() or 1,
        minloglevel=2,
    )
    return model.getvalue()


def _special_ids_of(model):
    """`(piece count, SpecialIds)` of a serialized model; missing pad/bos pieces get ids after the pieces."""
    processor = sentencepiece.SentencePieceProcessor(model_proto=model)
    count = processor.get_piece_size()
    if processor.eos_id() < 0:
        raise ValueError("The SentencePiece model has no end-of-sentence piece (trained with eos_id=-1); "
                         "decoding needs one.")
    extra = iter(range(count, count + 2))
    pad = processor.pad_id() if processor.pad_id() >= 0 else next(extra)
    start = processor.bos_id() if processor.bos_id() >= 0 else next(extra)
    return count, SpecialIds(pad=pad, unk=processor.unk_id(), start=start, end=processor.eos_id())


class SentencePieceTokenizer(Tokenizer):
    """Splits text into SentencePiece tokens, in-graph, reversibly.

    Args:
        model: a serialized SentencePiece model (`bytes`): one trained by
            `train_sentencepiece_model` (ids 0-3 `[PAD]`, `[UNK]`, `[START]`,
            `[END]`) or elsewhere (its unk, bos and eos ids become the unknown,
            start and end ids; it needs an eos piece).
        lower: lower-case text before tokenizing.
        normalization_form: "NFKC" (default), "NFC" or None.
        name: the module name.

    Example:
    >>> tok = SentencePieceTokenizer.from_texts(["¿Dónde está la biblioteca?"] * 50, vocab_size=300)
    >>> tok.detokenize(tok.tokenize(["la biblioteca"])).numpy().tolist()
    [b'la biblioteca']
    >>> tok.special_ids
    SpecialIds(pad=0, unk=1, start=2, end=3)
    """

    kind = "sentencepiece"

    def __init__(self, model, *, lower=False, normalization_form="NFKC", name=None):
        super().__init__(lower=lower, normalization_form=normalization_form, name=name)
        if not isinstance(model, bytes):
            raise ValueError(f"`model` must be a serialized SentencePiece model (bytes). Received: {type(model)}")
        self._model_bytes = model
        path = os.path.join(new_asset_directory(), MODEL_FILENAME)
        with open(path, "wb") as f:
            f.write(model)
        self._model_asset = tf.saved_model.Asset(path)
        self._pieces_count, self._special_ids = _special_ids_of(model)

    @classmethod
    def from_texts(cls, texts, *, vocab_size=8000, lower=False, normalization_form="NFKC", **train_params):
        """Trains a model of about `vocab_size` ids on `texts`.

        Args:
            texts: an iterable of strings, or a `tf.data.Dataset` of scalar strings.
            vocab_size: the vocabulary size wanted, reserved ids included.
            lower, normalization_form: as in the constructor.
            **train_params: passed to `train_sentencepiece_model` (e.g. `model_type`).

        Returns:
            A `SentencePieceTokenizer`.
        """
        normalize = functools.partial(normalize_text, lower=lower, normalization_form=normalization_form)
        model = train_sentencepiece_model(iterate_normalized(texts, normalize), vocab_size, **train_params)
        return cls(model, lower=lower, normalization_form=normalization_form)

    @property
    def _pieces(self):
        """A tensorflow-text tokenizer, made anew where it is used.

        tensorflow-text's model resource belongs to the kernel of the op that
        made it; in eager mode, `tf.random.set_seed` (`keras.utils.set_random_seed`)
        clears the kernel cache and with it a resource made earlier. Making the
        resource in the calling context (one eager kernel, cached; or one op in
        the traced graph) keeps the tokenizer usable after such a call.
        """
        return text.SentencepieceTokenizer(model=self._model_bytes, out_type=tf.int32)

    @property
    def vocab_size(self):
        """The model's pieces and the extra ids after them (a padding or start id it lacks)."""
        return max(self._pieces_count - 1, *self._special_ids.as_tuple()) + 1

    @property
    def special_ids(self):
        return self._special_ids

    @property
    def vocabulary_files(self):
        return [self._model_asset.asset_path.numpy().decode("utf-8")]

    @property
    def tokens(self):
        pieces = [p.decode("utf-8") for p in self._pieces.id_to_string(tf.range(self._pieces_count)).numpy()]
        extras = {self._special_ids.pad: RESERVED_TOKENS[PAD_ID], self._special_ids.start: RESERVED_TOKENS[START_ID]}
        return pieces + [extras[i] for i in range(self._pieces_count, self.vocab_size)]

    @property
    def vocabulary(self):
        """The pieces that are not special, in id order."""
        special = set(self._special_ids.as_tuple())
        return [token for i, token in enumerate(self.tokens) if i not in special]

    def _tokenize_normalized(self, strings):
        return self._pieces.tokenize(strings)  # (batch, None) int32

    def _detokenize_ids(self, ids):
        return self._pieces.detokenize(ids)

    def _write_files(self, directory):
        with open(os.path.join(directory, MODEL_FILENAME), "wb") as f:
            f.write(self._model_bytes)

    @classmethod
    def _from_directory(cls, directory, config):
        with open(os.path.join(directory, MODEL_FILENAME), "rb") as f:
            return cls(f.read(), **config)
