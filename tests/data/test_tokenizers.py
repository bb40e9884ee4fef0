import numpy as np
import pytest
import tensorflow as tf

from s2s_keras.data import (
    CharTokenizer, SentencePieceTokenizer, Tokenizer, WordPieceTokenizer, build_tokenizers, load_tokenizer,
    normalize_text,
)
from s2s_keras.data.special_ids import END_ID, PAD_ID, RESERVED_TOKENS, START_ID, UNK_ID

# Varied text: accents, combining marks, CJK, emoji, punctuation, RTL, ligatures, full width, odd spaces.
TEXTS = [
    "¿Dónde está la biblioteca? ¡Allí!",
    "Héllo, wörld... (don't) «citation» — “quotes” 3.14 %",
    "東京は大きい。北京も大きいです！",
    "I ❤️ emoji 🐱🐶 and 👍🏽 thumbs",
    "Ｆｕｌｌ ｗｉｄｔｈ ＡＢＣ １２３ and ﬁne ligatures",
    "e\u0301te\u0301 composed by NFKC, tab\there,  many   spaces\u00a0nbsp\u2028line",
    "مرحبا بالعالم وشكرا",
    "Grüße aus Köln: Straße, Äpfel, ÉCOLE",
]
CORPUS = TEXTS * 20
KINDS = {
    "char": (CharTokenizer, {}),
    "wordpiece": (WordPieceTokenizer, {"vocab_size": 400}),
    "sentencepiece": (SentencePieceTokenizer, {"vocab_size": 500}),
}


@pytest.fixture(scope="module")
def tokenizers():
    return {kind: cls.from_texts(CORPUS, **kwargs) for kind, (cls, kwargs) in KINDS.items()}


def as_text(strings):
    return [s.decode("utf-8") for s in np.asarray(strings).tolist()]


def test_normalize_text_nfkc_whitespace_lower_and_invalid_utf8():
    got = as_text(normalize_text(["  Ｃafe\u0301\u00a0 ﬁne\n\tx ", b"caf\xc3", "ÉCOLE Straße"], lower=True))
    assert got == ["café fine x", "caf\ufffd", "école straße"]
    assert as_text(normalize_text(["ﬁ①"], normalization_form=None)) == ["ﬁ①"]
    with pytest.raises(ValueError, match="normalization_form"):
        normalize_text(["x"], normalization_form="NFD")


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_round_trip_gives_the_normalised_text(tokenizers, kind):
    tokenizer = tokenizers[kind]
    ids = tokenizer.tokenize(TEXTS)
    assert isinstance(ids, tf.RaggedTensor) and ids.dtype == tf.int32 and ids.shape.rank == 2
    expected = as_text(tokenizer.normalize(TEXTS))
    assert "café" not in expected[5] and "été" in expected[5] and "  " not in expected[5]
    assert as_text(tokenizer.detokenize(ids)) == expected
    # Dense padded ids, and ids followed by [END] and padding, read the same.
    assert as_text(tokenizer.detokenize(ids.to_tensor())) == expected
    with_end = tf.concat([ids, tf.fill([len(TEXTS), 1], END_ID), tf.fill([len(TEXTS), 2], PAD_ID)], axis=1)
    assert as_text(tokenizer.detokenize(with_end)) == expected


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_reserved_ids(tokenizers, kind):
    tokenizer = tokenizers[kind]
    literal = [" ".join(RESERVED_TOKENS) + " Köln", "[END]", "Köln [PAD]"]  # reserved tokens written as text
    flat = tokenizer.tokenize(TEXTS + literal).flat_values.numpy()
    assert flat.min() >= UNK_ID and not np.isin(flat, [PAD_ID, START_ID, END_ID]).any()
    assert flat.max() < tokenizer.vocab_size
    assert tokenizer.vocab_size == len(RESERVED_TOKENS) + len(tokenizer.vocabulary)
    first = tokenizer.tokenize(["Köln"])[0].numpy().tolist()
    # [START] and [PAD] are ignored, reading stops at the first [END], ids out of range are dropped.
    noisy = [START_ID, *first, END_ID, *first, PAD_ID]
    assert as_text(tokenizer.detokenize([noisy])) == ["Köln"]
    assert as_text(tokenizer.detokenize([[START_ID, PAD_ID, UNK_ID, tokenizer.vocab_size + 5, *first]])) == ["Köln"]
    assert tokenizer.detokenize(tf.constant(first)).numpy().decode() == "Köln"  # one sequence -> a scalar
    assert tokenizer.tokenize("Köln").numpy().tolist() == first  # a scalar string -> one sequence


@pytest.mark.parametrize("kind", ["char", "wordpiece"])
def test_unknown_characters_become_unk_and_are_dropped(tokenizers, kind):
    tokenizer = tokenizers[kind]
    ids = tokenizer.tokenize(["Köln Ж", b"K\xffln"]).to_list()
    assert UNK_ID in ids[0] and UNK_ID in ids[1]  # unseen Ж; invalid byte -> U+FFFD, unseen
    # The character tokenizer keeps the space before the unknown; WordPiece puts spaces before tokens.
    expected = {"char": ["Köln ", "Kln"], "wordpiece": ["Köln", "Kln"]}[kind]
    assert as_text(tokenizer.detokenize(tf.ragged.constant(ids))) == expected


def test_sentencepiece_spells_unseen_characters_with_bytes(tokenizers):
    tokenizer = tokenizers["sentencepiece"]
    ids = tokenizer.tokenize(["Köln Ж🦄", b"K\xffln"])
    assert UNK_ID not in ids.flat_values.numpy()
    assert as_text(tokenizer.detokenize(ids)) == ["Köln Ж🦄", "K\ufffdln"]


def test_lower_casing_is_in_graph():
    tokenizer = CharTokenizer.from_texts(["ÉCOLE Straße"], lower=True)
    assert "É" not in tokenizer.vocabulary and "é" in tokenizer.vocabulary
    assert as_text(tokenizer.detokenize(tokenizer.tokenize(["École"]))) == ["école"]


def test_tokenize_works_in_tf_function_and_rejects_bad_ranks(tokenizers):
    tokenizer = tokenizers["wordpiece"]
    graph_ids = tf.function(lambda s: tokenizer.tokenize(s).to_tensor())(tf.constant(TEXTS))
    np.testing.assert_array_equal(graph_ids, tokenizer.tokenize(TEXTS).to_tensor())
    with pytest.raises(ValueError, match="Received: shape="):
        tokenizer.tokenize([["a"]])


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_saved_then_loaded_tokenizer_gives_identical_ids(tokenizers, kind, tmp_path):
    tokenizer = tokenizers[kind]
    tokenizer.save(str(tmp_path))
    loaded = load_tokenizer(str(tmp_path))
    assert type(loaded) is type(tokenizer) and loaded.vocabulary == tokenizer.vocabulary
    assert loaded.tokenize(TEXTS).to_list() == tokenizer.tokenize(TEXTS).to_list()
    assert type(tokenizer).load(str(tmp_path)).vocab_size == tokenizer.vocab_size
    other = CharTokenizer if kind != "char" else WordPieceTokenizer
    with pytest.raises(ValueError, match=f"holds a '{kind}' tokenizer"):
        other.load(str(tmp_path))


def test_load_rejects_a_directory_without_tokenizer(tmp_path):
    with pytest.raises(ValueError, match="No tokenizer.json"):
        Tokenizer.load(str(tmp_path))


def test_vocabulary_files_put_reserved_tokens_first(tokenizers, tmp_path):
    tokenizers["wordpiece"].save(str(tmp_path / "wp"))
    with open(tmp_path / "wp" / "vocab.txt", encoding="utf-8") as f:
        assert f.read().split("\n")[:4] == list(RESERVED_TOKENS)
    pieces = tokenizers["sentencepiece"]._pieces.id_to_string(tf.range(4)).numpy()
    assert [p.decode() for p in pieces] == list(RESERVED_TOKENS)


def test_build_tokenizers_learns_each_side_from_pairs_or_datasets():
    pairs = [("¿Dónde está?", "Where is it?"), ("Hola", "Hello")] * 10
    source, target = build_tokenizers(pairs, kind="char")
    assert "¿" in source.vocabulary and "¿" not in target.vocabulary and "W" in target.vocabulary
    dataset = tf.data.Dataset.from_tensor_slices(([s for s, _ in pairs], [t for _, t in pairs]))
    source2, target2 = build_tokenizers(dataset, kind="wordpiece", vocab_size=100)
    assert as_text(target2.detokenize(target2.tokenize(["Where is it?"]))) == ["Where is it?"]
    with pytest.raises(ValueError, match="Received: kind='bpe'"):
        build_tokenizers(pairs, kind="bpe")


def test_constructor_errors():
    with pytest.raises(ValueError, match="single characters"):
        CharTokenizer(["ab"])
    with pytest.raises(ValueError, match="white space or reserved"):
        WordPieceTokenizer(["[UNK]", "a"])
    with pytest.raises(ValueError, match="vocab_size"):
        SentencePieceTokenizer.from_texts(["abc"], vocab_size=100)
    with pytest.raises(ValueError, match="bytes"):
        SentencePieceTokenizer("model.model")

