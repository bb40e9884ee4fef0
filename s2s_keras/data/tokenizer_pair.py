"""Building a source and a target tokenizer of one kind from pairs of texts."""

# Importing the tokenizer modules registers their kinds ("char", "sentencepiece", "wordpiece").
from s2s_keras.data import char_tokenizer, sentencepiece_tokenizer, wordpiece_tokenizer  # noqa: F401
from s2s_keras.data.sources import as_pair_dataset
from s2s_keras.data.tokenizer import tokenizer_class


def _side(pairs, index, max_examples):
    """The source (index 0) or target (1) texts of `pairs` as a dataset of scalar strings."""
    texts = pairs.map(lambda *pair: pair[index])
    return texts.take(max_examples) if max_examples is not None else texts


def build_tokenizers(pairs, kind="wordpiece", vocab_size=8000, lower=False, *, normalization_form="NFKC",
                     max_examples=None, **kwargs):
    """Learns a source and a target tokenizer from `(source, target)` text pairs.

    Args:
        pairs: a list of `(source, target)` strings or a `tf.data.Dataset` of
            scalar string pairs (e.g. from `load_tsv` or `load_tfds`); read once a side.
        kind: "wordpiece" (learned with `bert_vocab_from_dataset`),
            "sentencepiece" (trained with `sentencepiece`) or "char".
        vocab_size: the largest vocabulary wanted per side, reserved ids included
            (for "char": keep the most frequent characters).
        lower: lower-case text (in-graph, before tokenizing).
        normalization_form: "NFKC" (default), "NFC" or None.
        max_examples: learn from the first `max_examples` pairs only.
        **kwargs: passed to the learner (`learn_wordpiece_vocabulary`'s
            `learn_params`, `train_sentencepiece_model`'s arguments).

    Returns:
        `(source_tokenizer, target_tokenizer)`.

    Raises:
        ValueError: for an unknown `kind`.

    Example:
    >>> pairs = [("¿Dónde está?", "Where is it?")] * 100
    >>> src_tok, tgt_tok = build_tokenizers(pairs, kind="char")
    >>> tgt_tok.detokenize(tgt_tok.tokenize(["Where?"])).numpy().tolist()
    [b'Where?']
    """
    klass = tokenizer_class(kind)
    pairs = as_pair_dataset(pairs)
    return tuple(
        klass.from_texts(_side(pairs, index, max_examples), vocab_size=vocab_size, lower=lower,
                         normalization_form=normalization_form, **kwargs)
        for index in (0, 1)
    )
